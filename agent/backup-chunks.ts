/**
 * @module A backup job's chunk state: the writer, the known chunks (the
 * parents' caches, minus what the controller excludes) and the caches being
 * built for this snapshot, saved once its manifest is stored.
 */
import type { BackupJob } from "../core/spec";
import type { ChunkRef } from "../core/records";
import type { Destination } from "../core/storage/destination";
import { ChunkWriter } from "../core/storage/chunk-store";
import { chunkWork } from "./chunk-work";
import { cacheKeyId, emptyCache, loadCache, saveCache, type InstanceCache } from "./chunk-cache";
import type { JobContext } from "./job-context";

/** The chunk state of one backup job. */
export class Chunks {
  private readonly built = new Map<string, InstanceCache>();

  private constructor(
    readonly writer: ChunkWriter,
    readonly rehash: boolean,
    private readonly previousCaches: Map<string, InstanceCache>,
    private readonly save_: (instance: string, cache: InstanceCache) => Promise<void>,
    /** Ends the job's chunk worker threads. */
    readonly close: () => Promise<void>,
  ) {}

  /**
   * Loads the caches of the instances whose parent snapshot the controller
   * named; chunk work goes to worker threads running `workerEntry` (the agent's
   * bundle) when given and the platform can.
   */
  static async open(job: BackupJob, jc: JobContext, destination: Destination, agentDir: string, workerEntry: URL | null): Promise<Chunks> {
    const chunking = job.chunking!;
    const namingKey = Uint8Array.from(atob(chunking.key), (c) => c.charCodeAt(0));
    const keyId = cacheKeyId(jc.platform, namingKey);
    const excluded = new Set(chunking.exclude);
    const previous = new Map<string, InstanceCache>();
    const known = new Map<string, ChunkRef>();
    for (const { instance } of job.plugins) {
      const parent = chunking.parents[instance];
      const cache = parent ? await loadCache(jc.platform, agentDir, instance, { snapshotId: parent, keyId }, (m) => jc.pluginContext(instance).warn(m)) : null;
      if (!cache) {
        if (parent) jc.events.log(`[${instance}] no chunk cache from snapshot ${parent}: every file is read, chunks already stored are uploaded again`);
        continue;
      }
      for (const [name, ref] of cache.chunks) if (!excluded.has(name)) known.set(name, known.get(name) ?? ref);
      // A unit is reused only when every chunk of it is known (and not excluded): see storeChunked.
      previous.set(instance, cache);
    }
    const work = chunkWork(jc.platform, workerEntry, namingKey, job.recipients, (m) => jc.events.log(m));
    const writer = new ChunkWriter(destination, job.host, work, job.snapshotId, known, jc.signal);
    return new Chunks(writer, chunking.rehash, previous, (instance, cache) => saveCache(jc.platform, agentDir, instance, cache, { snapshotId: job.snapshotId, keyId }), work.close);
  }

  /** The instance's cache from its parent snapshot (empty when there is none). */
  previous(instance: string): InstanceCache {
    return this.previousCaches.get(instance) ?? emptyCache();
  }

  /** The instance's cache being built for this snapshot. */
  next(instance: string): InstanceCache {
    let cache = this.built.get(instance);
    if (!cache) this.built.set(instance, (cache = emptyCache()));
    return cache;
  }

  /** Saves every instance's new cache (after the manifest is stored: the snapshot is complete). */
  async save(): Promise<void> {
    for (const [instance, cache] of this.built) await this.save_(instance, cache);
  }
}
