/** @module Runs a backup job: plugins → compression → age → hash → destination, manifest last. */
import { getPlugin } from "../plugins/registry";
import { splitHooks } from "../core/hooks";
import type { Plugin, PluginContext } from "../plugins/contract";
import type { ArtifactRecord, Manifest } from "../core/records";
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
 * so an incomplete snapshot never looks complete.
 * @returns "ok" or "partial"/"failed" (some or all plugins failed).
 */
export async function runBackup(job: BackupJob, jc: JobContext, destination: Destination): Promise<"ok" | "partial" | "failed"> {
  const startedAt = new Date();
  const artifacts: ArtifactRecord[] = [];
  let failures = 0;
  for (const pluginSpec of job.plugins) {
    const began = Date.now();
    try {
      artifacts.push(...(await backupPlugin(job, jc, destination, pluginSpec)));
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
  return "ok";
}

async function* single(bytes: Uint8Array) {
  yield bytes;
}

async function backupPlugin(job: BackupJob, jc: JobContext, destination: Destination, spec: PluginSpec): Promise<ArtifactRecord[]> {
  const plugin = getPlugin(spec.plugin);
  const { hooks, config: raw } = splitHooks(spec.config, `plugins.${spec.instance}`);
  const config = plugin.parseConfig(raw, `plugins.${spec.instance}`);
  const ctx: PluginContext = jc.pluginContext(spec.instance);
  await plugin.check(ctx, config);
  return jc.withHooks(spec.instance, hooks, () => storeArtifacts(job, jc, destination, spec, plugin, config, ctx));
}

async function storeArtifacts(job: BackupJob, jc: JobContext, destination: Destination, spec: PluginSpec, plugin: Plugin, config: unknown, ctx: PluginContext): Promise<ArtifactRecord[]> {
  const records: ArtifactRecord[] = [];
  const names = new Set<string>();
  for await (const artifact of plugin.backup(ctx, config)) {
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(artifact.name) || names.has(artifact.name)) {
      throw new LifeboatError("INTERNAL", `plugin "${spec.plugin}" produced an invalid or duplicate artifact name "${artifact.name}"`);
    }
    names.add(artifact.name);
    let plainBytes = 0;
    let storedBytes = 0;
    const report = throttle(PROGRESS_INTERVAL_MS, () =>
      jc.events.emit({ type: "progress", plugin: spec.instance, artifact: artifact.name, bytes: plainBytes, storedBytes }),
    );
    const source = counted(artifact.data, (n) => {
      plainBytes = n;
      report();
    });
    const { method, data } = await chooseCompression(jc.platform, artifact.compression, source);
    const encrypted = encryptStream(jc.platform, job.recipients, data);
    const stored = hashed(
      jc.platform,
      counted(encrypted, (n) => {
        storedBytes = n;
        report();
      }),
    );
    const key = artifactKey(job.host, job.snapshotId, spec.instance, artifact.name);
    try {
      await destination.put(key, stored.data, jc.signal);
    } catch (err) {
      // A source failure surfaces through the upload; report the source's own error.
      if (isLifeboatError(err)) throw err;
      throw new LifeboatError("DESTINATION", `Cannot store "${key}" at ${destination.description}: ${messageOf(err)}`, { cause: err });
    }
    const record: ArtifactRecord = {
      plugin: spec.plugin,
      instance: spec.instance,
      name: artifact.name,
      key,
      plainSize: plainBytes,
      storedSize: storedBytes,
      sha256: stored.digest(),
      compression: method,
      metadata: artifact.metadata(),
    };
    jc.events.emit({ type: "progress", plugin: spec.instance, artifact: artifact.name, bytes: plainBytes, storedBytes });
    jc.events.emit({ type: "artifact", ...record });
    records.push(record);
  }
  return records;
}
