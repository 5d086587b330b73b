/** @module Runs a restore job: download → verify hash → decrypt → decompress → plugin stages, checks, swaps. */
import type { Destination } from "../core/storage/destination";
import { LifeboatError } from "../core/errors";
import type { Platform } from "../core/platform";
import type { JobContext } from "./job-context";
import { forEachInstance, type InstanceResult } from "./read-job";
import { prepareService } from "./prepare";
import type { RestoreReport } from "../plugins/contract";
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
    const target = { ...(job.into === undefined ? {} : { into: await instanceDirectory(jc.platform, job.into, instance) }), ...(job.replace ? { replace: true } : {}), ...(job.paths ? { paths: job.paths } : {}) };
    const restore = () => plugin.restore(jc.pluginContext(instance), config, inputs, target);
    // Restoring under --into leaves the running service alone: no hooks.
    if (job.into !== undefined) return summary(await restore());
    // In place: start the service and wait for it before the before hooks, so that a failure here changes nothing.
    await prepareService(jc, instance, plugin, config, hooks);
    return summary(await jc.withHooks(instance, hooks, restore));
  }, order);
}

/**
 * `<DIR>/<instance>`: where `restore --into DIR` puts one instance's paths (each
 * relative to the instance's root, see plugins/common/restore-place.ts).
 * @throws RESTORE when it is a symlink, which would carry the restore out of DIR.
 */
async function instanceDirectory(platform: Platform, into: string, instance: string): Promise<string> {
  const dir = `${into.replace(/\/+$/, "")}/${instance}`;
  if ((await platform.lstat(dir).catch(() => null))?.kind === "symlink") {
    throw new LifeboatError("RESTORE", `Refusing to restore under "${into}": "${dir}" is a symlink, which would carry the restore out of that directory`, { hint: "remove the link, or restore into an empty directory" });
  }
  return dir;
}

/** A plugin's restore report as its `plugin-done` event tells it. */
function summary(report: RestoreReport): InstanceResult {
  return { restored: report.restored, ...(report.details ? { details: report.details } : {}), ...(report.checks?.length ? { checks: report.checks } : {}) };
}
