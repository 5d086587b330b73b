/**
 * @module The `ollama` plugin: the models directory. Manifests go into each
 * snapshot; blobs (`blobs/sha256-<hex>`) go into the fleet's content-addressed
 * blob area, so an unchanged model costs nothing the next night and a model
 * shared by ten hosts is stored once. With `container:` the directory is read
 * and written on the host through `containerPaths`.
 */
import { LifeboatError, messageOf } from "../../core/errors";
import type { Platform } from "../../core/platform";
import { FieldReader } from "../../core/validate";
import { treeArchive } from "../common/tree-archive";
import { restoreTrees } from "../common/tree-restore";
import { parentOf } from "../common/safe-path";
import { placeRestored } from "../common/restore-place";
import { refusePathPatterns } from "../common/path-patterns";
import { checkRestoreLocation, locationFacts, readLocation, ServiceTool, type ServiceLocation } from "../common/service-tool";
import { listTree } from "../common/tree";
import { configuredTargets } from "../common/restore-targets";
import type { ArtifactSource, Plugin, PluginContext } from "../contract";
import type { BlobRef } from "../../core/records";

/** Configuration of an `ollama` plugin instance. */
export interface OllamaConfig {
  /** The models directory (OLLAMA_MODELS), holding manifests/ and blobs/ (as the container sees it, with `container:`). */
  models: string;
  location: ServiceLocation;
}

/** One model: its manifest path (relative to manifests/) and the digests it names. */
interface ModelManifest {
  model: string;
  digests: string[];
}

/** Reads every manifest. @throws SOURCE for one that is not a model manifest. */
async function readManifests(platform: Platform, models: string): Promise<ModelManifest[]> {
  const out: ModelManifest[] = [];
  for (const { rel } of (await listTree(platform, `${models}/manifests`)).filter((e) => e.info.kind === "file")) {
    let parsed: { config?: { digest?: string }; layers?: { digest?: string }[] };
    try {
      parsed = JSON.parse(await platform.readText(`${models}/manifests/${rel}`));
    } catch (err) {
      throw new LifeboatError("SOURCE", `Cannot read the Ollama manifest "${models}/manifests/${rel}": ${messageOf(err)}`);
    }
    const digests = [parsed.config?.digest, ...(parsed.layers ?? []).map((l) => l.digest)].filter((d): d is string => typeof d === "string");
    out.push({ model: rel, digests });
  }
  return out;
}

const blobFile = (models: string, digest: string) => `${models}/blobs/${digest.replace(":", "-")}`;

export const ollamaPlugin: Plugin<OllamaConfig> = {
  name: "ollama",
  restoreStage: "models",
  // Manifests and blobs are written by the agent itself; Ollama finds them when it next reads its models directory.
  restoreTools: () => [],

  parseConfig(raw, where) {
    const r = FieldReader.of(raw, where);
    const models = r.absolutePath("models", "/usr/share/ollama/.ollama/models");
    const location = readLocation(r);
    r.rejectUnknown();
    return { models: models.replace(/(.)\/$/, "$1"), location };
  },

  async check(ctx, config) {
    const tool = new ServiceTool(ctx.platform, config.location);
    for (const sub of ["manifests", "blobs"]) {
      const dir = tool.map(`${config.models}/${sub}`);
      if (!(await ctx.platform.exists(dir.host))) {
        throw new LifeboatError("SOURCE", `Cannot back up Ollama models: ${tool.describe(dir)} does not exist on this host`, { hint: tool.pathHint("set models: to the Ollama models directory (OLLAMA_MODELS)") });
      }
    }
  },

  async *backup(ctx, config): AsyncIterable<ArtifactSource> {
    const tool = new ServiceTool(ctx.platform, config.location);
    const models = tool.hostPath(config.models);
    const manifests = await readManifests(ctx.platform, models);
    const digests = [...new Set(manifests.flatMap((m) => m.digests))].sort();
    const blobs: (BlobRef & { uploaded: boolean })[] = [];
    let uploadedBytes = 0;
    for (const digest of digests) {
      const file = blobFile(models, digest);
      const info = await ctx.platform.stat(file).catch(() => null);
      if (!info) {
        const users = manifests.filter((m) => m.digests.includes(digest)).map((m) => m.model);
        throw new LifeboatError("SOURCE", `Cannot back up Ollama models: blob ${digest} named by ${users.join(", ")} is missing`, { hint: "re-pull the model (ollama pull) or remove its manifest" });
      }
      const ref = await ctx.blobs.put(digest, info.size, () => ctx.platform.readStream(file));
      if (ref.uploaded) uploadedBytes += ref.storedSize;
      blobs.push({ digest, size: info.size, key: ref.key, uploaded: ref.uploaded, ...(ref.stored ? { stored: ref.stored } : {}) });
    }
    ctx.log(`${blobs.length} blobs, ${blobs.filter((b) => b.uploaded).length} uploaded (${uploadedBytes} bytes), ${blobs.length - blobs.filter((b) => b.uploaded).length} already stored`);
    const artifact = treeArchive(ctx, [tool.map(`${config.models}/manifests`)], { exclude: [], oneFileSystem: false, compression: "auto" });
    yield {
      ...artifact,
      name: "manifests.tar",
      metadata: () => ({
        ...artifact.metadata(),
        models: config.models,
        manifests: manifests.map((m) => m.model),
        blobs: blobs.map(({ digest, size, key, stored }) => ({ digest, size, key, ...(stored ? { stored } : {}) })),
        uploadedBlobs: blobs.filter((b) => b.uploaded).length,
        ...locationFacts(config.location),
      }),
    };
  },

  async restore(ctx, config, inputs, target) {
    const input = inputs.find((i) => i.record.name === "manifests.tar");
    if (!input) throw new LifeboatError("RESTORE", "Cannot restore Ollama models: the snapshot has no manifests.tar");
    refusePathPatterns(target, "the Ollama models directory");
    const tool = new ServiceTool(ctx.platform, config.location);
    const [models] = configuredTargets(input.record.metadata.models, [config.models], target.into, "the Ollama models directory") as [string];
    const refs = (input.record.metadata.blobs ?? []) as BlobRef[];
    checkRestoreLocation(config.location, input.record.metadata, models, target.into);
    // The instance's root is the folder above the models directory: --into DIR gives DIR/<instance>/models.
    const root = placeRestored(target.into, parentOf(models), models, () => tool.hostPath(models));
    const blobDir = `${root}/blobs`;
    const staging = `${root}/.lifeboat-blobs-${ctx.jobId}`;
    const fetched: string[] = [];
    let report;
    try {
      // Manifests are staged (and their archive checked to its end) first; blobs are
      // fetched into staging; only then do manifests and blobs move into place.
      report = await restoreTrees(ctx, [tool.map(`${models}/manifests`)], [input], target, async () => {
        await ctx.platform.mkdir(staging, 0o700);
        for (const ref of uniqueRefs(refs)) {
          const have = await ctx.platform.stat(blobFile(root, ref.digest)).catch(() => null);
          if (have?.size === ref.size) continue;
          const name = ref.digest.replace(":", "-");
          await ctx.platform.writeNewFile(`${staging}/${name}`, ctx.blobs.get(ref), { mode: 0o644 });
          fetched.push(name);
        }
        await ctx.platform.mkdir(blobDir, 0o755);
        for (const name of fetched) await ctx.platform.rename(`${staging}/${name}`, `${blobDir}/${name}`);
      }, { keepSetuid: false, root: parentOf(models) });
    } finally {
      await ctx.platform.remove(staging);
    }
    return { ...report, restored: [...report.restored, `${blobDir} (${fetched.length} of ${refs.length} blobs fetched)`] };
  },

  async verify(ctx, config, inputs, scratch) {
    // Every blob is fetched into scratch through the blob store, which checks its SHA-256 against its name as it arrives.
    await ollamaPlugin.restore(ctx, config, inputs, { into: scratch });
    const models = String(inputs.find((i) => i.record.name === "manifests.tar")?.record.metadata.models ?? config.models);
    const found = await verifyModels(ctx, placeRestored(scratch, parentOf(models), models), false);
    return { checks: [`${models}: ${found.models} models, ${found.blobs} blobs; every blob a manifest names present, each blob's SHA-256 equal to its name`] };
  },
};

/**
 * Checks a models directory: every blob a manifest names is present with its
 * recorded size and, unless `rehash` is false (blobs fetched through the blob
 * store were hashed as they arrived), its SHA-256 equals its name.
 */
export async function verifyModels(ctx: PluginContext, models: string, rehash = true): Promise<{ models: number; blobs: number }> {
  const manifests = await readManifests(ctx.platform, models);
  const digests = new Set(manifests.flatMap((m) => m.digests));
  for (const m of manifests) {
    for (const digest of m.digests) {
      if (!(await ctx.platform.exists(blobFile(models, digest)))) throw new LifeboatError("INTEGRITY", `Ollama model ${m.model} names blob ${digest}, which is missing`);
    }
  }
  if (rehash) {
    for (const digest of digests) {
      const hash = ctx.platform.sha256();
      for await (const chunk of ctx.platform.readStream(blobFile(models, digest))) hash.update(chunk);
      if (`sha256:${hash.digestHex()}` !== digest) throw new LifeboatError("INTEGRITY", `Ollama blob ${digest} does not hash to its name`);
    }
  }
  return { models: manifests.length, blobs: digests.size };
}

/** The manifest's blob references, each digest once; a digest that is not `sha256:<64 hex>` (it names a file) is refused. */
function uniqueRefs(refs: BlobRef[]): BlobRef[] {
  const seen = new Map<string, BlobRef>();
  for (const ref of refs) {
    if (typeof ref?.digest !== "string" || !/^sha256:[0-9a-f]{64}$/.test(ref.digest)) {
      throw new LifeboatError("RESTORE", `Refusing blob reference ${JSON.stringify(ref?.digest).slice(0, 80)} of the Ollama manifest: not a sha256 digest`, { hint: "the snapshot's metadata is damaged or forged; restore from another snapshot" });
    }
    seen.set(ref.digest, ref);
  }
  return [...seen.values()];
}
