/** @module Runs a restore job: download → verify hash → decrypt → decompress → plugin stages, checks, swaps. */
import { getPlugin } from "../plugins/registry";
import { splitHooks } from "../plugins/hooks";
import type { ArtifactRecord, RestoreInput } from "../plugins/types";
import { decryptStream } from "./crypto/age-decrypt";
import type { Destination } from "./destinations/types";
import { LifeboatError } from "./errors";
import type { JobContext } from "./job-context";
import { decompress } from "./pipeline/compression";
import { counted, throttle, verified } from "./pipeline/measure";
import type { RestoreJob } from "./spec/types";

/**
 * Restores each plugin instance of the job in turn. Each plugin consumes its
 * inputs completely into staging before it changes anything, so a tampered
 * object (hash mismatch or failed age authentication) leaves the target as it was.
 * @returns "ok", "partial" (some plugin instances failed) or "failed".
 */
export async function runRestore(job: RestoreJob, jc: JobContext, destination: Destination): Promise<"ok" | "partial" | "failed"> {
  const byInstance = new Map<string, ArtifactRecord[]>();
  for (const record of job.artifacts) {
    byInstance.set(record.instance, [...(byInstance.get(record.instance) ?? []), record]);
  }
  let failures = 0;
  for (const [instance, records] of byInstance) {
    const began = Date.now();
    try {
      const spec = job.plugins.find((p) => p.instance === instance);
      if (!spec) throw new LifeboatError("SPEC_REJECTED", `Cannot restore "${instance}": the spec has no plugin configuration for it`);
      const plugin = getPlugin(spec.plugin);
      const { hooks, config: raw } = splitHooks(spec.config, `plugins.${instance}`);
      const config = plugin.parseConfig(raw, `plugins.${instance}`);
      const inputs = records.map((record) => restoreInput(job, jc, destination, record));
      const target = job.into === undefined ? {} : { into: job.into };
      // Restoring under --into leaves the running service alone: no hooks.
      const report = job.into === undefined ? await jc.withHooks(instance, hooks, () => plugin.restore(jc.pluginContext(instance), config, inputs, target)) : await plugin.restore(jc.pluginContext(instance), config, inputs, target);
      for (const record of records) jc.events.emit({ type: "artifact", ...record });
      jc.events.emit({
        type: "plugin-done",
        plugin: instance,
        status: "ok",
        durationMs: Date.now() - began,
        restored: report.restored,
        ...(report.details ? { details: report.details } : {}),
      });
    } catch (err) {
      failures++;
      jc.reportError(err, instance);
      jc.events.emit({ type: "plugin-done", plugin: instance, status: "failed", durationMs: Date.now() - began });
    }
  }
  if (failures === 0) return "ok";
  return failures === byInstance.size ? "failed" : "partial";
}

function restoreInput(job: RestoreJob, jc: JobContext, destination: Destination, record: ArtifactRecord): RestoreInput {
  return {
    record,
    open() {
      let plainBytes = 0;
      let storedBytes = 0;
      const report = throttle(250, () =>
        jc.events.emit({ type: "progress", plugin: record.instance, artifact: record.name, bytes: plainBytes, storedBytes }),
      );
      const stored = counted(destination.get(record.key, jc.signal), (n) => {
        storedBytes = n;
        report();
      });
      const checked = verified(jc.platform, stored, { sha256: record.sha256, size: record.storedSize }, record.key);
      const plain = decompress(jc.platform, record.compression, decryptStream(jc.platform, job.identity, checked));
      return counted(plain, (n) => {
        plainBytes = n;
        report();
      });
    },
  };
}
