/** @module `controller verify`: deep-check a stored snapshot on a host, and record the verification in the ledger. */
import type { VerifyJob } from "../../core/spec";
import type { ControllerContext } from "../context";
import { formatDuration } from "../output/format";
import type { HostOutcome, Reporter } from "../output/reporter";
import { InstanceTimes, recordRestoreTime } from "./restore-times";
import { runSnapshotJob, snapshotJob, type SnapshotSelection } from "./snapshot-job";

/** The level recorded for a verification that restored every artifact into scratch space and checked it with the service's own tools. */
export const DEEP = "deep";

/** How a verify job is run. */
export interface VerifyRunOptions {
  /** A restore drill: the job's restore times are recorded too (kind `drill`), as `controller status` shows them (RTO). */
  drill?: boolean;
}

/**
 * Builds the verify spec from the ledger and the inventory.
 * @throws LifeboatError (NOT_FOUND, USAGE, CONFIG) before anything is contacted.
 */
export async function verifySpec(ctx: ControllerContext, sel: SnapshotSelection): Promise<VerifyJob> {
  return { ...(await snapshotJob(ctx, sel, "verify")), kind: "verify" };
}

/**
 * Runs a verify job and records its result (level `deep`, ok or failed, with
 * what each plugin instance checked or why it failed, how long each took, and
 * the host it ran on; for a drill, its restore times); never throws once the job has started.
 */
export async function runVerify(ctx: ControllerContext, spec: VerifyJob, acceptNewHostKey: boolean, reporter: Reporter, options: VerifyRunOptions = {}): Promise<HostOutcome> {
  const plugins: Record<string, { status: "ok" | "failed"; checks?: string[]; error?: string; durationMs?: number }> = {};
  const times = new InstanceTimes();
  const outcome = await runSnapshotJob(ctx, spec, acceptNewHostKey, reporter, (event) => {
    times.see(event);
    if (event.type === "plugin-done") plugins[event.plugin] = { ...plugins[event.plugin], status: event.status, durationMs: event.durationMs, ...(event.checks ? { checks: event.checks } : {}) };
    else if (event.type === "error" && event.plugin) plugins[event.plugin] = { status: "failed", ...plugins[event.plugin], error: event.message };
  });
  const instances = [...new Set(spec.artifacts.map((a) => a.instance))];
  const complete = outcome.status === "ok" && instances.every((i) => plugins[i]?.status === "ok");
  ctx.ledger.recordVerification({
    host: spec.sourceHost,
    snapshotId: spec.snapshotId,
    level: DEEP,
    result: complete ? "ok" : "failed",
    details: { on: spec.host, jobId: spec.jobId, plugins, ...(options.drill ? { drill: true } : {}), ...(outcome.error ? { error: outcome.error.message } : {}) },
    durationMs: outcome.durationMs,
    onHost: spec.host,
    // An instance counts as verified only when it passed and the job itself finished.
    instances: instances.map((i) => ({ instance: i, result: plugins[i]?.status === "ok" && outcome.status !== "failed" ? "ok" : "failed", ...(plugins[i]?.durationMs !== undefined ? { durationMs: plugins[i]!.durationMs! } : {}) })),
  });
  if (options.drill && recordRestoreTime(ctx.ledger, "drill", spec, outcome, times)) {
    outcome.checks.push(`drill: restored and checked on ${spec.host} in ${formatDuration(outcome.durationMs)}, recorded as the restore time of ${spec.sourceHost}`);
  }
  reporter.hostDone(outcome);
  return outcome;
}
