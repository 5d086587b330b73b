/** @module Runs a prune job: deletes exactly the objects the controller's retention names, in a destination only this host reaches. */
import { messageOf } from "../core/errors";
import type { PruneJob } from "../core/spec";
import type { Destination } from "../core/storage/destination";
import type { JobContext } from "./job-context";

/**
 * Deletes every object under each snapshot folder of the job and each key it
 * names (a missing one is fine), and reports each failure.
 * @returns "ok" when everything named is gone, else "failed" (the controller keeps the snapshots marked and tries again).
 */
export async function runPrune(job: PruneJob, jc: JobContext, destination: Destination): Promise<"ok" | "failed"> {
  const keys = new Set(job.keys);
  for (const prefix of job.prefixes) for await (const o of destination.list(prefix)) keys.add(o.key);
  let failed = 0;
  for (const key of [...keys].sort()) {
    if (jc.signal?.aborted) return "failed";
    try {
      await destination.delete(key);
    } catch (err) {
      failed++;
      jc.reportError(new Error(`Cannot delete "${key}" at ${destination.description}: ${messageOf(err)}`));
    }
  }
  jc.events.log(`deleted ${keys.size - failed} object(s) at ${destination.description}${failed ? `; ${failed} could not be deleted` : ""}`);
  return failed === 0 ? "ok" : "failed";
}
