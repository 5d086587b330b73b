/** @module What restore and verify jobs share: the stored artifacts of a snapshot, grouped by plugin instance, opened as checked plain streams. */
import { splitHooks, type Hooks } from "../core/hooks";
import { getPlugin } from "../plugins/registry";
import type { Plugin, RestoreInput } from "../plugins/contract";
import type { ArtifactRecord, ChunkRef } from "../core/records";
import type { Destination } from "../core/storage/destination";
import type { PluginDoneEvent } from "../core/events";
import { isLifeboatError, LifeboatError } from "../core/errors";
import type { JobContext } from "./job-context";
import { checkManifest, openStoredArtifact } from "../core/storage/snapshot-check";
import { readChunkIndex, type ObjectReader } from "../core/storage/chunked-artifact";
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

/** How {@link forEachInstance} goes about the instances. */
export interface InstanceOrder {
  /**
   * Download every object and check it against the ledger's hash before the
   * first instance starts (into scratch space), so that a damaged or forged
   * object anywhere in the snapshot stops the job before anything changed.
   */
  fetchFirst: boolean;
  /** Stop at the first instance that fails (and say which were done and which not), instead of going on. */
  stopAtFirstFailure: boolean;
}

/**
 * Runs `work` for each plugin instance of the job in turn, after the manifest
 * check; emits `artifact` and `plugin-done` events. A failing instance is
 * reported; the others still run unless `order.stopAtFirstFailure`.
 * @returns "ok", "partial" (some plugin instances failed) or "failed".
 */
export async function forEachInstance(job: ReadJob, jc: JobContext, destination: Destination, work: (w: InstanceWork) => Promise<InstanceResult>, order: InstanceOrder = { fetchFirst: false, stopAtFirstFailure: false }): Promise<"ok" | "partial" | "failed"> {
  try {
    await checkManifest(jc.platform, destination, job.identity, job, jc.signal);
  } catch (err) {
    jc.reportError(err, undefined, "manifest");
    return "failed";
  }
  const byInstance = new Map<string, ArtifactRecord[]>();
  for (const record of job.artifacts) {
    byInstance.set(record.instance, [...(byInstance.get(record.instance) ?? []), record]);
  }
  let source: ObjectReader = (key) => destination.get(key, jc.signal);
  if (order.fetchFirst) {
    try {
      source = await fetchAll(job, jc, destination);
    } catch (err) {
      jc.reportError(err);
      return "failed";
    }
  }
  const done: string[] = [];
  let failures = 0;
  for (const [instance, records] of byInstance) {
    if (failures > 0 && order.stopAtFirstFailure) {
      const notDone = [...byInstance.keys()].filter((i) => !done.includes(i));
      jc.reportError(new LifeboatError("RESTORE", `Stopped at the first plugin instance that failed: restored ${done.length ? done.join(", ") : "nothing"}; not restored: ${notDone.join(", ")}`, { hint: `fix the cause, then restore the rest with --plugins ${notDone.join(",")}` }));
      return done.length === 0 ? "failed" : "partial";
    }
    const began = Date.now();
    try {
      const spec = job.plugins.find((p) => p.instance === instance);
      if (!spec) throw new LifeboatError("SPEC_REJECTED", `Cannot ${job.kind} "${instance}": the spec has no plugin configuration for it`);
      const plugin = getPlugin(spec.plugin);
      const { hooks, config: raw } = splitHooks(spec.config, `plugins.${instance}`);
      const config = plugin.parseConfig(raw, `plugins.${instance}`);
      const inputs = records.map((record) => openInput(job, jc, source, record));
      const result = await work({ instance, plugin, config, hooks, inputs });
      done.push(instance);
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

/**
 * Downloads every object of the job into scratch space, each checked against
 * the ledger's hash and size as it arrives. @returns a reader of the local copies. @throws INTEGRITY (or DESTINATION) for the first object that fails; RESTORE when they cannot fit.
 */
async function fetchAll(job: ReadJob, jc: JobContext, destination: Destination): Promise<ObjectReader> {
  const dir = `${jc.scratchDir}/objects`;
  await jc.platform.mkdir(dir, 0o700);
  const local = new Map<string, string>();
  let files = 0;
  const fetch = async (key: string, expected: { sha256: string; size: number }) => {
    if (local.has(key)) return;
    const file = `${dir}/${files++}.age`;
    await jc.platform.writeStream(file, verified(jc.platform, destination.get(key, jc.signal), expected, key), 0o600);
    local.set(key, file);
  };
  const reader: ObjectReader = (key) => jc.platform.readStream(local.get(key)!);
  await ensureSpace(job, jc, job.artifacts.reduce((n, a) => n + a.storedSize, 0));
  for (const record of job.artifacts) await fetch(record.key, { sha256: record.sha256, size: record.storedSize });
  // A chunked artifact's chunks are fetched too, each checked against the stored hash its (checked) index records.
  const chunks = new Map<string, { ref: ChunkRef; owner: ArtifactRecord }>();
  for (const record of job.artifacts.filter((r) => r.compression === "chunked")) {
    for (const ref of (await readChunkIndex(jc.platform, reader, job.identity, record)).chunks) if (!chunks.has(ref.key)) chunks.set(ref.key, { ref, owner: record });
  }
  await ensureSpace(job, jc, [...chunks.values()].reduce((n, c) => n + c.ref.stored.size, 0));
  // A few downloads at once: a chunk is about 1 MiB, and a request's latency would dominate one at a time.
  const queue = [...chunks.values()];
  const fetchChunks = async () => {
    for (let next = queue.shift(); next; next = queue.shift()) {
      const { ref, owner } = next;
      try {
        await fetch(ref.key, ref.stored);
      } catch (err) {
        queue.length = 0;
        if (isLifeboatError(err) && (err.code === "NOT_FOUND" || err.code === "INTEGRITY")) {
          throw new LifeboatError("INTEGRITY", `Cannot restore snapshot "${job.snapshotId}": chunk "${ref.key}" of artifact ${owner.instance}/${owner.name} is ${err.code === "NOT_FOUND" ? "missing from storage" : `damaged: ${err.message}`}`, { hint: "restore from another snapshot", object: ref.key, cause: err });
        }
        throw err;
      }
    }
  };
  // Every download ends (the first failure empties the queue) before the job goes on or cleans up.
  const failed = (await Promise.allSettled(Array.from({ length: CHUNK_DOWNLOADS }, fetchChunks))).find((r) => r.status === "rejected");
  if (failed) throw failed.reason;
  jc.events.log(`fetched and checked ${local.size} objects before restoring anything`);
  return reader;
}

/** Chunks downloaded at once before a restore. */
const CHUNK_DOWNLOADS = 6;

/** @throws RESTORE when `needed` bytes do not fit in the job's scratch space. */
async function ensureSpace(job: ReadJob, jc: JobContext, needed: number): Promise<void> {
  const free = await jc.platform.freeBytes(jc.scratchDir);
  if (free !== null && free < needed) {
    throw new LifeboatError("RESTORE", `Cannot restore snapshot "${job.snapshotId}": its objects need ${needed} bytes of scratch space in "${jc.scratchDir}", and there are ${free} free`, {
      hint: "free space in the agent's directory (agentDir in the inventory), or restore the plugin instances one at a time (--plugins)",
    });
  }
}

/** download → check stored hash → decrypt → decompress (or the chunks of a chunked artifact), with progress events. */
function openInput(job: ReadJob, jc: JobContext, read: ObjectReader, record: ArtifactRecord): RestoreInput {
  return {
    record,
    open() {
      let plainBytes = 0;
      let storedBytes = 0;
      const report = throttle(250, () =>
        jc.events.emit({ type: "progress", plugin: record.instance, artifact: record.name, bytes: plainBytes, storedBytes }),
      );
      const countedRead: ObjectReader = (key) =>
        counted(read(key), (n) => {
          storedBytes += n - (countedBytes.get(key) ?? 0);
          countedBytes.set(key, n);
          report();
        });
      const countedBytes = new Map<string, number>();
      return counted(openStoredArtifact(jc.platform, countedRead, job.identity, record), (n) => {
        plainBytes = n;
        report();
      });
    },
  };
}
