/** @module Runs a restore job: download → verify hash → decrypt → decompress → plugin stages, checks, swaps. */
import type { Destination } from "../core/storage/destination";
import type { JobContext } from "./job-context";
import { forEachInstance } from "./read-job";
import type { RestoreJob } from "../core/spec";

/**
 * Restores each plugin instance of the job in turn. Each plugin consumes its
 * inputs completely into staging before it changes anything, so a tampered
 * object (hash mismatch or failed age authentication) leaves the target as it
 * was. With several instances, every object is fetched and checked first, so a
 * damaged one anywhere changes nothing; the first instance that fails stops
 * the restore, with a report of which instances were restored and which not.
 * @returns "ok", "partial" (some plugin instances were restored) or "failed".
 */
export function runRestore(job: RestoreJob, jc: JobContext, destination: Destination): Promise<"ok" | "partial" | "failed"> {
  const several = new Set(job.artifacts.map((a) => a.instance)).size > 1;
  const order = { fetchFirst: several, stopAtFirstFailure: true };
  return forEachInstance(job, jc, destination, async ({ instance, plugin, config, hooks, inputs }) => {
    const target = { ...(job.into === undefined ? {} : { into: job.into }), ...(job.replace ? { replace: true } : {}), ...(job.paths ? { paths: job.paths } : {}) };
    const restore = () => plugin.restore(jc.pluginContext(instance), config, inputs, target);
    // Restoring under --into leaves the running service alone: no hooks.
    const report = job.into === undefined ? await jc.withHooks(instance, hooks, restore) : await restore();
    return { restored: report.restored, ...(report.details ? { details: report.details } : {}), ...(report.checks?.length ? { checks: report.checks } : {}) };
  }, order);
}
