/** @module What restore and verify jobs share: the stored artifacts of a snapshot, grouped by plugin instance, opened as checked plain streams. */
import { splitHooks, type Hooks } from "../core/hooks";
import { getPlugin } from "../plugins/registry";
import type { Plugin, RestoreInput } from "../plugins/contract";
import type { ArtifactRecord } from "../core/records";
import { decryptStream } from "../core/storage/age/decrypt";
import type { Destination } from "../core/storage/destination";
import type { PluginDoneEvent } from "../core/events";
import { LifeboatError } from "../core/errors";
import type { JobContext } from "./job-context";
import { checkManifest } from "./manifest-check";
import { decompress } from "../core/storage/compression";
import { counted, throttle, verified } from "../core/storage/measure";
import type { ReadJob } from "../core/spec";

/** One plugin instance of a read job, ready to work on. */
export interface InstanceWork {
  instance: string;
  plugin: Plugin;
  config: unknown;
  hooks: Hooks;
  inputs: RestoreInput[];
}

/** What the work on one instance reports in its `plugin-done` event. */
export type InstanceResult = Pick<PluginDoneEvent, "restored" | "details" | "checks">;

/**
 * Runs `work` for each plugin instance of the job in turn; a failing instance
 * is reported and the others still run. Emits `artifact` and `plugin-done` events.
 * @returns "ok", "partial" (some plugin instances failed) or "failed".
 */
export async function forEachInstance(job: ReadJob, jc: JobContext, destination: Destination, work: (w: InstanceWork) => Promise<InstanceResult>): Promise<"ok" | "partial" | "failed"> {
  try {
    await checkManifest(job, jc, destination);
  } catch (err) {
    jc.reportError(err, undefined, "manifest");
    return "failed";
  }
  const byInstance = new Map<string, ArtifactRecord[]>();
  for (const record of job.artifacts) {
    byInstance.set(record.instance, [...(byInstance.get(record.instance) ?? []), record]);
  }
  let failures = 0;
  for (const [instance, records] of byInstance) {
    const began = Date.now();
    try {
      const spec = job.plugins.find((p) => p.instance === instance);
      if (!spec) throw new LifeboatError("SPEC_REJECTED", `Cannot ${job.kind} "${instance}": the spec has no plugin configuration for it`);
      const plugin = getPlugin(spec.plugin);
      const { hooks, config: raw } = splitHooks(spec.config, `plugins.${instance}`);
      const config = plugin.parseConfig(raw, `plugins.${instance}`);
      const inputs = records.map((record) => openInput(job, jc, destination, record));
      const result = await work({ instance, plugin, config, hooks, inputs });
      for (const record of records) jc.events.emit({ type: "artifact", ...record });
      jc.events.emit({ type: "plugin-done", plugin: instance, status: "ok", durationMs: Date.now() - began, ...result });
    } catch (err) {
      failures++;
      jc.reportError(err, instance);
      jc.events.emit({ type: "plugin-done", plugin: instance, status: "failed", durationMs: Date.now() - began });
    }
  }
  if (failures === 0) return "ok";
  return failures === byInstance.size ? "failed" : "partial";
}

/** download → check stored hash → decrypt → decompress, with progress events. */
function openInput(job: ReadJob, jc: JobContext, destination: Destination, record: ArtifactRecord): RestoreInput {
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
