/**
 * @module What `controller daemon` logs: one line per event on stdout, human
 * text, or NDJSON with `--json` (`{"time","event",host,...}`, one `event`
 * field with stable names). Lines are written as they happen; nothing is kept.
 */
import { formatBytes, formatDuration } from "../output/format";

/** One thing the daemon did or decided. */
export type DaemonEvent =
  /** A host's next backup is planned for `at` (`catchUp`: a run missed while no daemon ran, started now). */
  | { event: "scheduled"; host: string; at: string; catchUp?: boolean }
  | { event: "started"; host: string; attempt: number; attempts: number; trigger: string }
  | { event: "finished"; host: string; status: "ok" | "partial" | "failed"; attempt: number; durationMs: number; snapshot?: string; storedBytes?: number; error?: { code: string; message: string } }
  /** Attempt `attempt` of a failed backup starts at `at`. */
  | { event: "retry"; host: string; attempt: number; at: string; delayMs: number }
  /** A host, or one run of it, is left out, and why. */
  | { event: "skipped"; host: string; reason: string }
  /** Retention after a host's backup: what it deleted, or why it could not. */
  | { event: "prune"; host: string; status: "ok" | "failed" | "unavailable"; message: string }
  /** Due verifications after a wave of backups. */
  | { event: "verify"; status: "ok" | "failed" | "unavailable"; message: string; host?: string }
  /** An alert or ping sent to a notifier (or that could not be). */
  | { event: "alert"; host: string; alert: string; notifier: string; type: string; result: "sent" | "failed"; error?: string }
  | { event: "stopping"; signal: string; running: string[]; graceMs: number }
  | { event: "stopped"; stoppedJobs: string[] }
  /** The dashboard (`--serve`): where it serves, an action started or ended, an error answering. */
  | { event: "dashboard"; message: string };

/** Writes daemon events as lines. */
export type DaemonLog = (event: DaemonEvent) => void;

/** A log writing to `out` (default stdout): NDJSON when `json`, else text; each line stamped with the current time. */
export function daemonLog(json: boolean, out: (line: string) => void = (l) => process.stdout.write(`${l}\n`)): DaemonLog {
  return (e) => {
    const time = new Date().toISOString();
    out(json ? JSON.stringify({ time, ...e }) : `${time} ${describeEvent(e)}`);
  };
}

/** The text of one event, without the time. */
export function describeEvent(e: DaemonEvent): string {
  switch (e.event) {
    case "scheduled":
      return `scheduled ${e.host}: ${e.catchUp ? "now, to catch up a run missed while no daemon ran" : `next backup at ${e.at}`}`;
    case "started":
      return `started ${e.host}: backup (${e.trigger}${e.attempts > 1 ? `, attempt ${e.attempt}/${e.attempts}` : ""})`;
    case "finished":
      return `finished ${e.host}: ${e.status} in ${formatDuration(e.durationMs)}${e.snapshot && e.status !== "failed" ? `, snapshot ${e.snapshot}` : ""}${e.storedBytes ? `, ${formatBytes(e.storedBytes)} stored` : ""}${e.error ? `: [${e.error.code}] ${e.error.message}` : ""}`;
    case "retry":
      return `retry ${e.host}: attempt ${e.attempt} at ${e.at} (in ${formatDuration(e.delayMs)})`;
    case "skipped":
      return `skipped ${e.host}: ${e.reason}`;
    case "prune":
      return `prune ${e.host}: ${e.status === "ok" ? "" : `${e.status}: `}${e.message}`;
    case "verify":
      return `verify${e.host ? ` ${e.host}` : ""}: ${e.status === "ok" ? "" : `${e.status}: `}${e.message}`;
    case "alert":
      return `alert ${e.host}: ${e.alert} → ${e.notifier} (${e.type}) ${e.result}${e.error ? `: ${e.error}` : ""}`;
    case "stopping":
      return `stopping on ${e.signal}: no new backups; ${e.running.length ? `waiting up to ${formatDuration(e.graceMs)} for ${e.running.join(", ")}` : "nothing running"}`;
    case "dashboard":
      return `dashboard: ${e.message}`;
    case "stopped":
      return `stopped${e.stoppedJobs.length ? `: stopped the jobs of ${e.stoppedJobs.join(", ")} (they end failed)` : ""}`;
  }
}
