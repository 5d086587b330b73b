/** @module How a run tells its story: live on a terminal, plain lines in logs, NDJSON with --json. */
import type { AgentEvent } from "../../core/events";

/** The end of one host's job. */
export interface HostOutcome {
  host: string;
  kind: "backup" | "restore" | "verify" | "prune";
  status: "ok" | "partial" | "failed";
  snapshotId?: string;
  artifacts: number;
  plainBytes: number;
  storedBytes: number;
  durationMs: number;
  /** The first error (code, message, hint), already free of secrets. */
  error?: { code: string; message: string; hint?: string };
  errors: { code: string; message: string; hint?: string; plugin?: string }[];
  warnings: string[];
  /** For restores: what was restored where. */
  restored: string[];
  /** For verifications: what each plugin checked (`instance: check`). */
  checks: string[];
  /** Restore target host when it differs from the snapshot's host. */
  target?: string;
}

/** Receives a run's progress. Implementations: TTY, plain text, JSON. */
export interface Reporter {
  /** A step the controller takes for a host (connecting, installing the agent...). */
  step(host: string, message: string): void;
  /** An event from a host's agent. */
  event(host: string, event: AgentEvent): void;
  hostDone(outcome: HostOutcome): void;
  /** Called once at the end. */
  close(): void;
}

/** A reporter that shows nothing (the daemon and the dashboard: the ledger keeps every event of the job). */
export const silentReporter: Reporter = { step() {}, event() {}, hostDone() {}, close() {} };

/** The outcome of a host job that failed before it started (no snapshot, nothing to do...). */
export function failedOutcome(host: string, kind: HostOutcome["kind"], error: { code: string; message: string; hint?: string }, snapshotId?: string): HostOutcome {
  return {
    host,
    kind,
    status: "failed",
    ...(snapshotId ? { snapshotId } : {}),
    artifacts: 0,
    plainBytes: 0,
    storedBytes: 0,
    durationMs: 0,
    error,
    errors: [error],
    warnings: [],
    restored: [],
    checks: [],
  };
}
