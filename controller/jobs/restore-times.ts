/**
 * @module Measured restore times (RTO) of restore and verify jobs: each plugin
 * instance's part from the agent's `plugin-done` events (the time from its
 * first artifact opened to its restore — and, for a verify, its checks — done),
 * and the whole job from the controller's side (connect, agent, fetch, restore).
 */
import type { AgentEvent } from "../../core/events";
import type { ReadJob } from "../../core/spec";
import type { Ledger } from "../ledger/ledger";
import type { HostOutcome } from "../output/reporter";

/** Each plugin instance's outcome and duration in a restore or verify job, as its `plugin-done` event said. */
export class InstanceTimes {
  readonly byInstance = new Map<string, { status: "ok" | "failed"; durationMs: number }>();

  /** Feed every agent event of the job. */
  see(event: AgentEvent): void {
    if (event.type === "plugin-done") this.byInstance.set(event.plugin, { status: event.status, durationMs: event.durationMs });
  }
}

/**
 * Records the job as a measured restore of kind `kind` when it succeeded for
 * every plugin instance of `spec` (a failed restore measures nothing a
 * recovery could count on); returns whether it did.
 */
export function recordRestoreTime(ledger: Ledger, kind: "drill" | "restore", spec: ReadJob, outcome: HostOutcome, times: InstanceTimes): boolean {
  const instances = [...new Set(spec.artifacts.map((a) => a.instance))];
  if (outcome.status !== "ok" || !instances.every((i) => times.byInstance.get(i)?.status === "ok")) return false;
  ledger.operations.recordRestoreTime({
    host: spec.sourceHost,
    snapshotId: spec.snapshotId,
    jobId: spec.jobId,
    kind,
    onHost: spec.host,
    durationMs: outcome.durationMs,
    instances: instances.map((instance) => ({ instance, durationMs: times.byInstance.get(instance)!.durationMs })),
  });
  return true;
}
