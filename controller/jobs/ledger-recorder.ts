/** @module Turning a host's agent events into ledger rows. */
import type { AgentEvent } from "../../core/events";
import type { Ledger } from "../ledger/ledger";

/** Which job the events belong to. */
export interface JobIds {
  runId: string;
  jobId: string;
  host: string;
  snapshotId: string;
  kind: "backup" | "restore" | "verify";
}

/** Records one event: hosts seen, artifacts stored, errors, warnings, the completed snapshot. */
export function recordAgentEvent(ledger: Ledger, ids: JobIds, event: AgentEvent): void {
  switch (event.type) {
    case "start":
      ledger.touchHost(ids.host, event.agentVersion, event.runtime);
      break;
    case "artifact":
      if (ids.kind === "backup") {
        const { type: _type, ...record } = event;
        ledger.recordArtifact(ids.host, ids.snapshotId, record);
      }
      break;
    case "error":
      ledger.recordError({ runId: ids.runId, jobId: ids.jobId, host: ids.host, plugin: event.plugin, code: event.code, message: event.message, hint: event.hint });
      break;
    case "hook":
      ledger.recordHook({ runId: ids.runId, jobId: ids.jobId, host: ids.host, plugin: event.plugin, phase: event.phase, command: event.command, code: event.code, output: event.output });
      break;
    case "warning":
      ledger.recordWarning({ runId: ids.runId, jobId: ids.jobId, host: ids.host, plugin: event.plugin, message: event.message });
      break;
    case "done":
      if (ids.kind === "backup" && event.status === "ok" && event.manifestKey && event.manifestSha256) {
        ledger.completeSnapshot(ids.host, ids.snapshotId, { manifestKey: event.manifestKey, manifestSha256: event.manifestSha256, manifestSize: event.manifestStoredSize ?? 0 });
      }
      break;
    default:
      break;
  }
}
