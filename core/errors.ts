/** @module Lifeboat's one error type, shared by agent, plugins and controller. */

/**
 * Stable error codes. The controller maps them to exit codes in one place
 * (`controller/exit-codes.ts`); the agent reports them in `error` events.
 */
export type ErrorCode =
  | "CONFIG" // inventory, plugin or spec configuration is wrong (exit 2)
  | "USAGE" // command line is wrong (exit 2)
  | "SPEC_REJECTED" // the agent refused a job spec (signature, host, expiry, replay, schema)
  | "SSH" // connection, authentication or host-key problem
  | "HOST_KEY" // unknown or changed SSH host key
  | "TOOL_MISSING" // a program the job needs is not installed
  | "SOURCE" // the data source failed (file unreadable, database error)
  | "DESTINATION" // the off-site store failed
  | "NOT_FOUND" // an object, snapshot or host that should exist does not
  | "INTEGRITY" // a hash, MAC or integrity check did not match
  | "RESTORE" // a restore could not be staged or swapped in
  | "KEYS" // controller keys missing, unreadable or about to be overwritten
  | "INTERRUPTED" // the job was stopped: its controller went away, or it was asked to stop
  | "BUSY" // another job holds the host
  | "INTERNAL"; // a bug: please report

/** Options for {@link LifeboatError}. */
export interface LifeboatErrorOptions {
  /** What the operator can do about it, e.g. "run `controller init` first". */
  hint?: string;
  /** The underlying error; kept for logs, never printed raw to users. */
  cause?: unknown;
  /** The key of the stored object at fault, when one is (e.g. a damaged chunk), for the ledger to mark. */
  object?: string;
}

/**
 * An error with a stable code, a message in the form
 * `Cannot <action> "<thing>": <details>`, and an optional hint.
 * Messages must never contain secrets; use {@link redact} on anything that might.
 */
export class LifeboatError extends Error {
  readonly code: ErrorCode;
  readonly hint?: string;
  readonly object?: string;

  constructor(code: ErrorCode, message: string, options: LifeboatErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "LifeboatError";
    this.code = code;
    if (options.hint !== undefined) this.hint = options.hint;
    if (options.object !== undefined) this.object = options.object;
  }
}

/** True for a {@link LifeboatError} (also across bundle boundaries, by shape). */
export function isLifeboatError(err: unknown): err is LifeboatError {
  return err instanceof LifeboatError || (err instanceof Error && err.name === "LifeboatError" && "code" in err);
}

/** The message of any thrown value, for wrapping into a {@link LifeboatError}. */
export function messageOf(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

/**
 * Replaces every occurrence of each secret in `text` with `***`.
 * Secrets shorter than 4 characters are ignored (they would mangle ordinary text).
 */
export function redact(text: string, secrets: Iterable<string | undefined>): string {
  let out = text;
  for (const secret of secrets) {
    if (secret && secret.length >= 4) out = out.split(secret).join("***");
  }
  return out;
}
