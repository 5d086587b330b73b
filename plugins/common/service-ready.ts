/** @module Waiting, bounded, for a service to answer before a restore goes into it (`Plugin.ready`). */
import { LifeboatError, messageOf } from "../../core/errors";
import type { PluginContext } from "../contract";

/** How a plugin asks its service whether it answers. */
export interface ServiceProbe {
  /** The service in words, for messages, e.g. `PostgreSQL on 127.0.0.1:5432`. */
  service: string;
  /** One try: resolves when the service answered; throws with what it said when not (yet). `signal` fires at the deadline. */
  ask(signal: AbortSignal): Promise<void>;
  /** An answer that waiting will not change (a wrong password, a missing tool): thrown at once. */
  final(err: unknown): boolean;
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
  });

/** `120000` → `2m`, `1500` → `1.5s`. */
export const inWords = (ms: number) => (ms >= 60_000 && ms % 60_000 === 0 ? `${ms / 60_000}m` : `${ms / 1000}s`);

/**
 * Asks `probe` again and again (every 0.1 s at first, then every second) until
 * it answers or `timeoutMs` has passed; a try still running at the deadline is aborted.
 * @throws the probe's own error when it is {@link ServiceProbe.final}; RESTORE naming
 * the service and what it last said when it does not answer in time (or the job stops).
 */
export async function waitForService(ctx: PluginContext, probe: ServiceProbe, timeoutMs: number): Promise<void> {
  const deadline = new AbortController();
  const timer = setTimeout(() => deadline.abort(), timeoutMs);
  const stop = () => deadline.abort();
  ctx.signal?.addEventListener("abort", stop, { once: true });
  let last = "no answer yet";
  try {
    for (let attempt = 0; !deadline.signal.aborted; attempt++) {
      try {
        await probe.ask(deadline.signal);
        if (attempt > 0) ctx.log(`${probe.service} answers (after ${attempt + 1} tries)`);
        return;
      } catch (err) {
        // A try cut short by the deadline says nothing about the service.
        if (deadline.signal.aborted) break;
        if (probe.final(err)) throw err;
        last = messageOf(err);
      }
      await sleep(attempt < 10 ? 100 : 1000, deadline.signal);
    }
  } finally {
    clearTimeout(timer);
    ctx.signal?.removeEventListener("abort", stop);
  }
  throw new LifeboatError("RESTORE", `Cannot restore into ${probe.service}: it did not answer within ${inWords(timeoutMs)}; it last said: ${last}`, {
    hint: "start it before the restore with hooks.prepare on this plugin instance of the target host (e.g. docker compose up -d db), or give it longer with hooks.readyTimeout; nothing was restored",
  });
}
