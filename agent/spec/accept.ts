/** @module The agent's gate: only signed, fresh, host-bound, unreplayed, well-formed specs run. */
import { LifeboatError } from "../../core/errors";
import type { Platform } from "../../core/platform";
import { canonicalJson } from "../../core/canonical-json";
import { ReplayJournal } from "./replay-journal";
import { parseJobSpec } from "./schema";
import type { JobSpec } from "../../core/spec";

/** Allowed clock difference between controller and host. */
export const CLOCK_SKEW_MS = 5 * 60 * 1000;

/** What the host pinned at install time (`<agentDir>/pinned.json`). */
export interface Pinning {
  /** The inventory name this host answers to. */
  host: string;
  /** The controller's Ed25519 public key, raw 32 bytes, base64. */
  controllerKey: string;
}

/** Reads the pinning written by `controller install`. */
export async function readPinning(platform: Platform, agentDir: string): Promise<Pinning> {
  const file = `${agentDir}/pinned.json`;
  let parsed: Partial<Pinning>;
  try {
    parsed = JSON.parse(await platform.readText(file)) as Partial<Pinning>;
  } catch (err) {
    throw new LifeboatError("SPEC_REJECTED", `Cannot read the pinned controller key "${file}": ${(err as Error).message}`, {
      hint: "install the agent from the controller: controller install --host H",
    });
  }
  if (typeof parsed.host !== "string" || typeof parsed.controllerKey !== "string") {
    throw new LifeboatError("SPEC_REJECTED", `Cannot use the pinned controller key "${file}": the file is malformed`, {
      hint: "reinstall the agent: controller install --host H",
    });
  }
  return { host: parsed.host, controllerKey: parsed.controllerKey };
}

function reject(message: string, hint?: string): LifeboatError {
  return new LifeboatError("SPEC_REJECTED", `Refusing job spec: ${message}`, hint === undefined ? {} : { hint });
}

/**
 * Checks a received spec, in this order: envelope, signature (against the
 * pinned key), schema, host binding, time window, nonce. Only a spec that
 * passes all of them is recorded in the replay journal and returned.
 * @throws LifeboatError("SPEC_REJECTED") saying which check failed; nothing is changed on the host.
 */
export async function acceptSpec(platform: Platform, input: string, pinning: Pinning, journalDir: string, now = new Date()): Promise<JobSpec> {
  let envelope: { format?: unknown; spec?: unknown; signature?: unknown };
  try {
    envelope = JSON.parse(input) as typeof envelope;
  } catch {
    throw reject("the input is not JSON", "the agent expects a signed spec from the controller on stdin");
  }
  if (envelope === null || typeof envelope !== "object" || envelope.format !== "lifeboat-job/1" || envelope.spec === undefined) {
    throw reject("the input is not a Lifeboat job envelope");
  }
  if (typeof envelope.signature !== "string" || envelope.signature === "") {
    throw reject("it is unsigned", "only specs signed by the controller pinned at install run");
  }
  const signature = base64(envelope.signature);
  const key = base64(pinning.controllerKey);
  const message = new TextEncoder().encode(canonicalJson(envelope.spec));
  if (signature.length !== 64 || key.length !== 32 || !platform.verifyEd25519(key, message, signature)) {
    throw reject("its signature does not verify with the pinned controller key (signed by another key, or modified)", "run jobs from the controller this host was installed by, or reinstall: controller install --host H");
  }
  const spec = parseJobSpec(envelope.spec);
  if (spec.host !== pinning.host) {
    throw reject(`it is for host "${spec.host}", but this is "${pinning.host}"`);
  }
  const issued = Date.parse(spec.issuedAt);
  const expires = Date.parse(spec.expiresAt);
  if (issued - CLOCK_SKEW_MS > now.getTime()) {
    throw reject(`it was issued in the future (${spec.issuedAt}; host clock ${now.toISOString()})`, "check the clocks of the controller and the host (NTP)");
  }
  if (expires < now.getTime()) {
    throw reject(`it expired at ${spec.expiresAt} (host clock ${now.toISOString()})`, "run the job again from the controller; if this repeats, check the clocks (NTP)");
  }
  if (!(await new ReplayJournal(platform, journalDir).record(spec.nonce, spec.expiresAt, now))) {
    throw reject(`its nonce was already used (a replayed spec, job ${spec.jobId})`);
  }
  return spec;
}

function base64(text: string): Uint8Array {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text)) return new Uint8Array(0);
  const binary = atob(text);
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}
