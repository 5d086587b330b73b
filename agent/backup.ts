/** @module Runs a backup job: plugins → compression → age → hash → destination, manifest last. */
import { getPlugin } from "../plugins/registry";
import { splitHooks } from "../core/hooks";
import type { Plugin, PluginContext } from "../plugins/contract";
import type { ArtifactRecord, ChunkStats, CompressionHint, Manifest } from "../core/records";
import type { ByteStream } from "../core/platform";
import { single } from "../core/storage/chunk-store";
import { encodeChunkIndex } from "../core/storage/chunked-artifact";
import { storeChunked } from "./chunked-backup";
import { Chunks } from "./backup-chunks";
import { encryptStream } from "../core/storage/age/encrypt";
import type { Destination } from "../core/storage/destination";
import { isLifeboatError, LifeboatError, messageOf } from "../core/errors";
import { chooseCompression } from "../core/storage/compression";
import { counted, hashed, throttle } from "../core/storage/measure";
import type { BackupJob, PluginSpec } from "../core/spec";
import { artifactKey, manifestKey } from "../core/storage-layout";
import type { JobContext } from "./job-context";
import { LIFEBOAT_VERSION } from "../core/version";

const PROGRESS_INTERVAL_MS = 250;


/**
 * Backs up every plugin of the job. A failing plugin is reported and the
 * others go on; the manifest is written only when every plugin succeeded,
 * so an incomplete snapshot never looks complete. Chunk work runs on worker
 * threads of `workerEntry` (the agent's bundle) where the platform can.
 * @returns "ok" or "partial"/"failed" (some or all plugins failed).
 */
export async function runBackup(job: BackupJob, jc: JobContext, destination: Destination, agentDir: string, workerEntry: URL | null = null): Promise<"ok" | "partial" | "failed"> {
  const chunks = job.chunking ? await Chunks.open(job, jc, destination, agentDir, workerEntry) : null;
  try {
    return await backupAll(job, jc, destination, chunks);
  } finally {
    await chunks?.close();
  }
}

async function backupAll(job: BackupJob, jc: JobContext, destination: Destination, chunks: Chunks | null): Promise<"ok" | "partial" | "failed"> {
  const startedAt = new Date();
  const artifacts: ArtifactRecord[] = [];
  let failures = 0;
  for (const pluginSpec of job.plugins) {
    const began = Date.now();
    try {
      artifacts.push(...(await backupPlugin(job, jc, destination, pluginSpec, chunks)));
      jc.events.emit({ type: "plugin-done", plugin: pluginSpec.instance, status: "ok", durationMs: Date.now() - began });
    } catch (err) {
      failures++;
      jc.reportError(err, pluginSpec.instance);
      jc.events.emit({ type: "plugin-done", plugin: pluginSpec.instance, status: "failed", durationMs: Date.now() - began });
    }
  }
  if (failures > 0) return failures === job.plugins.length ? "failed" : "partial";

  const manifest: Manifest = {
    format: "lifeboat-manifest/1",
    host: job.host,
    snapshotId: job.snapshotId,
    jobId: job.jobId,
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    agentVersion: LIFEBOAT_VERSION,
    runtime: `${jc.platform.runtime} ${jc.platform.runtimeVersion}`,
    plugins: job.plugins.map(({ instance, plugin }) => ({ instance, plugin })),
    artifacts,
  };
  const key = manifestKey(job.host, job.snapshotId);
  const plain = new TextEncoder().encode(JSON.stringify(manifest, null, 2));
  const stored = hashed(jc.platform, encryptStream(jc.platform, job.recipients, single(plain)));
  const size = await destination.put(key, stored.data);
  jc.manifest = { key, sha256: stored.digest(), size };
  await chunks?.save();
  return "ok";
}

async function backupPlugin(job: BackupJob, jc: JobContext, destination: Destination, spec: PluginSpec, chunks: Chunks | null): Promise<ArtifactRecord[]> {
  const plugin = getPlugin(spec.plugin);
  const { hooks, config: raw } = splitHooks(spec.config, `plugins.${spec.instance}`);
  const config = plugin.parseConfig(raw, `plugins.${spec.instance}`);
  const ctx: PluginContext = jc.pluginContext(spec.instance);
  await plugin.check(ctx, config);
  return jc.withHooks(spec.instance, hooks, () => storeArtifacts(job, jc, destination, spec, plugin, config, ctx, chunks));
}

async function storeArtifacts(job: BackupJob, jc: JobContext, destination: Destination, spec: PluginSpec, plugin: Plugin, config: unknown, ctx: PluginContext, chunks: Chunks | null): Promise<ArtifactRecord[]> {
  const records: ArtifactRecord[] = [];
  const names = new Set<string>();
  for await (const artifact of plugin.backup(ctx, config)) {
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(artifact.name) || names.has(artifact.name)) {
      throw new LifeboatError("INTERNAL", `plugin "${spec.plugin}" produced an invalid or duplicate artifact name "${artifact.name}"`);
    }
    names.add(artifact.name);
    const key = artifactKey(job.host, job.snapshotId, spec.instance, artifact.name);
    const progress = progressReporter(jc, spec.instance, artifact.name);
    let stored: { compression: ArtifactRecord["compression"]; plainSize: number; storedSize: number; sha256: string; chunks?: ChunkStats };
    if (chunks) {
      const result = await storeChunked(
        {
          writer: chunks.writer,
          instance: spec.instance,
          previous: chunks.previous(spec.instance),
          next: chunks.next(spec.instance),
          rehash: chunks.rehash,
          progress,
          emit: (event) => jc.events.emit(event),
          warn: ctx.warn,
          log: ctx.log,
        },
        artifact,
      );
      if (result.kind === "small") {
        stored = await storeObject(jc, destination, key, job.recipients, artifact.compression, single(result.bytes), progress);
      } else {
        const index = await storeObject(jc, destination, key, job.recipients, "none", single(encodeChunkIndex(result.index)), () => {});
        stored = { ...index, compression: "chunked", plainSize: result.index.size, chunks: result.stats };
        progress(result.index.size, result.stats.uploadedBytes + index.storedSize);
      }
    } else {
      stored = await storeObject(jc, destination, key, job.recipients, artifact.compression, artifact.data, progress);
    }
    const record: ArtifactRecord = {
      plugin: spec.plugin,
      instance: spec.instance,
      name: artifact.name,
      key,
      plainSize: stored.plainSize,
      storedSize: stored.storedSize,
      sha256: stored.sha256,
      compression: stored.compression,
      metadata: artifact.metadata(),
      ...(stored.chunks ? { chunks: stored.chunks } : {}),
    };
    jc.events.emit({ type: "progress", plugin: spec.instance, artifact: artifact.name, bytes: record.plainSize, storedBytes: stored.chunks ? stored.chunks.uploadedBytes + stored.storedSize : stored.storedSize });
    jc.events.emit({ type: "artifact", ...record });
    records.push(record);
  }
  return records;
}

/** Progress events of one artifact, at most every {@link PROGRESS_INTERVAL_MS}. */
function progressReporter(jc: JobContext, instance: string, artifact: string): (plain: number, stored: number) => void {
  let [plainBytes, storedBytes] = [0, 0];
  const report = throttle(PROGRESS_INTERVAL_MS, () => jc.events.emit({ type: "progress", plugin: instance, artifact, bytes: plainBytes, storedBytes }));
  return (plain, stored) => {
    [plainBytes, storedBytes] = [plain, stored];
    report();
  };
}

/** Stores `data` as one object: compression chosen by `hint`, age, hashed on the way. */
async function storeObject(jc: JobContext, destination: Destination, key: string, recipients: string[], hint: CompressionHint, data: ByteStream, progress: (plain: number, stored: number) => void) {
  let [plainBytes, storedBytes] = [0, 0];
  const source = counted(data, (n) => progress((plainBytes = n), storedBytes));
  const { method, data: compressed } = await chooseCompression(jc.platform, hint, source);
  const stored = hashed(jc.platform, counted(encryptStream(jc.platform, recipients, compressed), (n) => progress(plainBytes, (storedBytes = n))));
  try {
    await destination.put(key, stored.data, jc.signal);
  } catch (err) {
    // A source failure surfaces through the upload; report the source's own error.
    if (isLifeboatError(err)) throw err;
    throw new LifeboatError("DESTINATION", `Cannot store "${key}" at ${destination.description}: ${messageOf(err)}`, { cause: err });
  }
  return { compression: method, plainSize: plainBytes, storedSize: storedBytes, sha256: stored.digest() };
}
