/** @module How a run tells its story: live on a terminal, plain lines in logs, NDJSON with --json. */
import type { AgentEvent } from "../../agent/events";

/** The end of one host's job. */
export interface HostOutcome {
  host: string;
  kind: "backup" | "restore";
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
