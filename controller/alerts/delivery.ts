/**
 * @module Sending a notifier's request: a timeout per try, a bounded number of
 * tries with growing waits, and errors that never show a secret (notifier URLs
 * and header values are secrets). Never throws: a notifier that is down must
 * not take the daemon with it.
 */
import { messageOf, redact } from "../../core/errors";
import type { NotifierRequest } from "./request";

/** How hard a request is tried. */
export interface DeliveryPolicy {
  /** Tries in all (>= 1). */
  attempts: number;
  /** The wait after the first failed try; each further wait is 4 times longer. */
  firstDelayMs: number;
  /** Each try is given up after this long. */
  timeoutMs: number;
}

/** 3 tries, 2 s and 8 s apart, 10 s each. */
export const DEFAULT_DELIVERY: DeliveryPolicy = { attempts: 3, firstDelayMs: 2_000, timeoutMs: 10_000 };

/** How a delivery ended. */
export interface DeliveryResult {
  ok: boolean;
  /** The last HTTP status, when a response came. */
  status?: number;
  tries: number;
  /** Why it failed, free of secrets. */
  error?: string;
}

/** Statuses worth another try: the service is busy or broken for now, not refusing the request. */
function retryable(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

/** Why a fetch failed, with its cause (fetch says only "fetch failed"). */
function reason(err: unknown): string {
  const cause = err instanceof Error && err.cause !== undefined ? `: ${messageOf(err.cause)}` : "";
  return `${messageOf(err)}${cause}`;
}

/** Sends `request`, trying again as `policy` says; `secrets` are stripped from the error. */
export async function deliver(request: NotifierRequest, policy: DeliveryPolicy, configured: string[]): Promise<DeliveryResult> {
  // The URL sent may be derived from the configured one (a host's check, a /fail suffix): it is as secret.
  const secrets = [...configured, request.url];
  let last: DeliveryResult = { ok: false, tries: 0, error: "not sent" };
  for (let tries = 1; tries <= policy.attempts; tries++) {
    try {
      const response = await fetch(request.url, { method: request.method, headers: request.headers, body: request.body, signal: AbortSignal.timeout(policy.timeoutMs), redirect: "follow" });
      await response.arrayBuffer().catch(() => undefined);
      if (response.ok) return { ok: true, status: response.status, tries };
      last = { ok: false, status: response.status, tries, error: `HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ""}` };
      if (!retryable(response.status)) return last;
    } catch (err) {
      const timedOut = err instanceof Error && (err.name === "TimeoutError" || err.name === "AbortError");
      last = { ok: false, tries, error: redact(timedOut ? `no answer within ${policy.timeoutMs / 1000}s` : reason(err), secrets) };
    }
    if (tries < policy.attempts) await new Promise((r) => setTimeout(r, policy.firstDelayMs * 4 ** (tries - 1)));
  }
  return last;
}
