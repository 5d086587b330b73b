/** @module `controller verify`: deep-check a stored snapshot on a host, and record the verification in the ledger. */
import type { VerifyJob } from "../../core/spec";
import type { ControllerContext } from "../context";
import type { HostOutcome, Reporter } from "../output/reporter";
import { runSnapshotJob, snapshotJob, type SnapshotSelection } from "./snapshot-job";

/** The level recorded for a verification that restored every artifact into scratch space and checked it with the service's own tools. */
export const DEEP = "deep";

/**
 * Builds the verify spec from the ledger and the inventory.
 * @throws LifeboatError (NOT_FOUND, USAGE, CONFIG) before anything is contacted.
 */
export async function verifySpec(ctx: ControllerContext, sel: SnapshotSelection): Promise<VerifyJob> {
  return { ...(await snapshotJob(ctx, sel, "verify")), kind: "verify" };
}

/**
 * Runs a verify job and records its result (level `deep`, ok or failed, with
 * what each plugin checked or why it failed); never throws once the job has started.
 */
export async function runVerify(ctx: ControllerContext, spec: VerifyJob, acceptNewHostKey: boolean, reporter: Reporter): Promise<HostOutcome> {
  const plugins: Record<string, { status: "ok" | "failed"; checks?: string[]; error?: string }> = {};
  const outcome = await runSnapshotJob(ctx, spec, acceptNewHostKey, reporter, (event) => {
    if (event.type === "plugin-done") plugins[event.plugin] = { ...plugins[event.plugin], status: event.status, ...(event.checks ? { checks: event.checks } : {}) };
    else if (event.type === "error" && event.plugin) plugins[event.plugin] = { status: "failed", ...plugins[event.plugin], error: event.message };
  });
  const instances = new Set(spec.artifacts.map((a) => a.instance));
  const complete = outcome.status === "ok" && [...instances].every((i) => plugins[i]?.status === "ok");
  ctx.ledger.recordVerification({
    host: spec.sourceHost,
    snapshotId: spec.snapshotId,
    level: DEEP,
    result: complete ? "ok" : "failed",
    details: { on: spec.host, jobId: spec.jobId, plugins, ...(outcome.error ? { error: outcome.error.message } : {}) },
  });
  reporter.hostDone(outcome);
  return outcome;
}
