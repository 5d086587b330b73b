/** @module `controller restore`: restore a stored snapshot onto the same or another inventory host. */
import type { RestoreJob } from "../../core/spec";
import type { ControllerContext } from "../context";
import type { HostOutcome, Reporter } from "../output/reporter";
import { InstanceTimes, recordRestoreTime } from "./restore-times";
import { runSnapshotJob, snapshotJob } from "./snapshot-job";

/** What to restore where. */
export interface RestoreRequest {
  from: string;
  /** A snapshot id, or `latest` (the newest complete one). */
  snapshot: string;
  to?: string;
  plugins?: string[];
  into?: string;
  acceptNewHostKey: boolean;
  /** Allow sending the master identity for a snapshot encrypted to the master key only (see SnapshotSelection.masterKey). */
  masterKey?: boolean;
}

/**
 * Builds the restore spec from the ledger and the inventory; what the operator
 * should know before it runs (e.g. a target without its own configuration) goes to `notes`.
 * @throws LifeboatError (NOT_FOUND, USAGE, CONFIG) before anything is contacted.
 */
export async function restoreSpec(ctx: ControllerContext, req: RestoreRequest, notes: string[] = []): Promise<RestoreJob> {
  const base = await snapshotJob(ctx, { from: req.from, snapshot: req.snapshot, ...(req.to ? { on: req.to } : {}), ...(req.plugins ? { plugins: req.plugins } : {}), masterKey: req.masterKey === true }, "restore", notes);
  return { ...base, kind: "restore", ...(req.into ? { into: req.into } : {}) };
}

/**
 * Runs a restore job built by {@link restoreSpec}; never throws once the job has
 * started. A restore that succeeded is recorded as a measured restore time
 * (kind `restore`, the whole job and each plugin instance), which `controller status` shows as RTO.
 */
export async function runRestore(ctx: ControllerContext, spec: RestoreJob, acceptNewHostKey: boolean, reporter: Reporter): Promise<HostOutcome> {
  const times = new InstanceTimes();
  const outcome = await runSnapshotJob(ctx, spec, acceptNewHostKey, reporter, (event) => times.see(event));
  recordRestoreTime(ctx.ledger, "restore", spec, outcome, times);
  reporter.hostDone(outcome);
  return outcome;
}
