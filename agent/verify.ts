/** @module Runs a verify job: each plugin restores its artifacts into scratch space and checks the copy as its service would use it. */
import type { Destination } from "../core/storage/destination";
import type { JobContext } from "./job-context";
import { forEachInstance } from "./read-job";
import type { VerifyJob } from "../core/spec";

/**
 * Deep-checks each plugin instance of the job in turn, in its own scratch
 * directory that is removed before the next one starts (so the disk needs
 * room for the largest instance only). Live services are never touched: no
 * hooks run and nothing is restored in place.
 * @returns "ok", "partial" (some plugin instances failed their checks) or "failed".
 */
export function runVerify(job: VerifyJob, jc: JobContext, destination: Destination): Promise<"ok" | "partial" | "failed"> {
  return forEachInstance(job, jc, destination, async ({ instance, plugin, config, inputs }) => {
    const scratch = `${jc.scratchDir}/verify-${instance}`;
    await jc.platform.mkdir(scratch, 0o700);
    try {
      const report = await plugin.verify(jc.pluginContext(instance), config, inputs, scratch);
      for (const check of report.checks) jc.events.log(`[${instance}] verified: ${check}`);
      return { checks: report.checks };
    } finally {
      await jc.platform.remove(scratch);
    }
  });
}
