/**
 * @module The agent's chunk cache: per plugin instance, what its artifacts'
 * units and chunks were in the last complete snapshot, kept in
 * `<agentDir>/chunk-cache/<instance>.json`. A backup uses it only when the
 * controller names exactly that snapshot as the instance's parent (the ledger
 * is the authority on what is stored; the cache only saves reading).
 */
import type { Platform } from "../core/platform";
import type { ChunkRef } from "../core/records";
import { messageOf } from "../core/errors";

const FORMAT = "lifeboat-chunk-cache/1";

/** One chunk as the cache keeps it (a tuple: compact for a million chunks). */
type CachedChunk = [name: string, key: string, size: number, sha256: string, compression: ChunkRef["compression"], storedSha256: string, storedSize: number];

interface CacheFile {
  format: typeof FORMAT;
  snapshotId: string;
  /** HMAC of a constant under the chunk naming key: ties the cache to the key without holding it. */
  keyId: string;
  chunks: CachedChunk[];
  /** Unit cache key → indexes into `chunks`, in order. */
  units: Record<string, number[]>;
}

/** The cache of one instance as a backup uses it. */
export interface InstanceCache {
  /** Every chunk the instance's artifacts referenced, by keyed name. */
  chunks: Map<string, ChunkRef>;
  /** Unit cache key → its chunks, in order. */
  units: Map<string, { name: string; ref: ChunkRef }[]>;
}

/** An empty cache (for an instance without a usable one). */
export function emptyCache(): InstanceCache {
  return { chunks: new Map(), units: new Map() };
}

/** The identifier of a chunk naming key that the cache records. */
export function cacheKeyId(platform: Platform, namingKey: Uint8Array): string {
  return platform.hmacSha256Hex(namingKey, "lifeboat-chunk-cache/1");
}

const fileOf = (dir: string, instance: string) => `${dir}/chunk-cache/${instance}.json`;

/**
 * The instance's cache when it was written for `snapshotId` under the naming key
 * `keyId`; null when there is none, it is from another snapshot or key, or it
 * does not parse (then `warn` says so, and the backup simply reads everything).
 */
export async function loadCache(platform: Platform, dir: string, instance: string, expected: { snapshotId: string; keyId: string }, warn: (message: string) => void): Promise<InstanceCache | null> {
  const file = fileOf(dir, instance);
  let parsed: CacheFile;
  try {
    if (!(await platform.exists(file))) return null;
    parsed = JSON.parse(await platform.readText(file)) as CacheFile;
  } catch (err) {
    warn(`the chunk cache "${file}" cannot be read (${messageOf(err)}); every file of "${instance}" is read again`);
    return null;
  }
  if (parsed?.format !== FORMAT || parsed.snapshotId !== expected.snapshotId || parsed.keyId !== expected.keyId || !Array.isArray(parsed.chunks)) return null;
  const list = parsed.chunks.map(([name, key, size, sha256, compression, storedSha256, storedSize]) => ({ name, ref: { key, size, sha256, compression, stored: { sha256: storedSha256, size: storedSize } } }));
  const cache = emptyCache();
  for (const { name, ref } of list) cache.chunks.set(name, ref);
  for (const [unit, indexes] of Object.entries(parsed.units ?? {})) {
    const chunks = indexes.map((i) => list[i]);
    if (chunks.every((c) => c !== undefined)) cache.units.set(unit, chunks as { name: string; ref: ChunkRef }[]);
  }
  return cache;
}

/** Writes the instance's cache for the snapshot just completed (atomically, readable by the agent's user only). */
export async function saveCache(platform: Platform, dir: string, instance: string, cache: InstanceCache, stamp: { snapshotId: string; keyId: string }): Promise<void> {
  const index = new Map<string, number>();
  const chunks: CachedChunk[] = [];
  for (const [name, ref] of cache.chunks) {
    index.set(name, chunks.length);
    chunks.push([name, ref.key, ref.size, ref.sha256, ref.compression, ref.stored.sha256, ref.stored.size]);
  }
  const units: Record<string, number[]> = {};
  for (const [unit, list] of cache.units) units[unit] = list.map((c) => index.get(c.name)!);
  const file: CacheFile = { format: FORMAT, snapshotId: stamp.snapshotId, keyId: stamp.keyId, chunks, units };
  await platform.mkdir(`${dir}/chunk-cache`, 0o700);
  await platform.writeFile(fileOf(dir, instance), JSON.stringify(file), 0o600);
}
