/**
 * @module Checking a stored snapshot against the ledger's record, wherever it runs
 * (an agent before a restore or verify, the controller for a stored-level verify):
 * the manifest first — fetched, its hash checked, decrypted (age authenticates
 * it), its artifacts compared — then each object through hash, age and decompression.
 */
import { isLifeboatError, LifeboatError } from "../errors";
import type { ByteStream, Platform } from "../platform";
import type { ArtifactRecord, Manifest } from "../records";
import { decryptStream } from "./age/decrypt";
import { decompress } from "./compression";
import type { Destination } from "./destination";
import { verified } from "./measure";
import { readChunkIndex, readChunks, type ObjectReader } from "./chunked-artifact";
import { single } from "./chunk-store";

/** A snapshot as the ledger recorded it. */
export interface RecordedSnapshot {
  sourceHost: string;
  snapshotId: string;
  manifest: { key: string; sha256: string; size: number };
  artifacts: ArtifactRecord[];
}

/**
 * Checks the snapshot's manifest against the ledger's record.
 * @throws INTEGRITY saying the manifest is missing, altered, or lists other artifacts.
 */
export async function checkManifest(platform: Platform, destination: Destination, identity: string, snapshot: RecordedSnapshot, signal?: AbortSignal): Promise<void> {
  const what = `The manifest of snapshot "${snapshot.snapshotId}" of "${snapshot.sourceHost}"`;
  const hint = "the snapshot in storage is not the one the ledger recorded: restore another snapshot, and check who can write to the storage";
  let text = "";
  try {
    const stored = verified(platform, destination.get(snapshot.manifest.key, signal), { sha256: snapshot.manifest.sha256, size: snapshot.manifest.size }, snapshot.manifest.key);
    const decoder = new TextDecoder();
    for await (const chunk of decryptStream(platform, identity, stored)) text += decoder.decode(chunk, { stream: true });
  } catch (err) {
    if (isLifeboatError(err) && err.code === "NOT_FOUND") throw new LifeboatError("INTEGRITY", `${what} is missing from storage ("${snapshot.manifest.key}")`, { hint });
    if (isLifeboatError(err) && err.code === "INTEGRITY") throw new LifeboatError("INTEGRITY", `${what} was altered: ${err.message}`, { hint });
    throw err;
  }
  let manifest: Manifest;
  try {
    manifest = JSON.parse(text) as Manifest;
  } catch {
    throw new LifeboatError("INTEGRITY", `${what} is not a Lifeboat manifest`, { hint });
  }
  if (manifest.format !== "lifeboat-manifest/1" || manifest.host !== snapshot.sourceHost || manifest.snapshotId !== snapshot.snapshotId || !Array.isArray(manifest.artifacts)) {
    throw new LifeboatError("INTEGRITY", `${what} describes another snapshot ("${String(manifest.host)}"/"${String(manifest.snapshotId)}")`, { hint });
  }
  for (const artifact of snapshot.artifacts) {
    const listed = manifest.artifacts.find((a) => a.instance === artifact.instance && a.name === artifact.name);
    if (!listed || listed.key !== artifact.key || listed.sha256 !== artifact.sha256 || listed.storedSize !== artifact.storedSize) {
      throw new LifeboatError("INTEGRITY", `${what} does not list artifact ${artifact.instance}/${artifact.name} as the ledger records it`, { hint });
    }
  }
}

/**
 * Reads one stored artifact to its end through its hash check, age
 * (authenticating every chunk) and decompression, and compares its size with the record.
 * @returns the plain bytes read. @throws INTEGRITY naming the object (a chunk's key in `object`).
 */
export async function checkStoredArtifact(platform: Platform, destination: Destination, identity: string, record: ArtifactRecord, signal?: AbortSignal): Promise<number> {
  let plain = 0;
  for await (const chunk of openStoredArtifact(platform, (key) => destination.get(key, signal), identity, record)) plain += chunk.length;
  return plain;
}

/**
 * One stored artifact's plain bytes, its objects taken from `read`: a single
 * object through its hash check, age and decompression, or a chunked artifact's
 * index and then its chunks, each checked. Whoever consumes it must not act on
 * the bytes before the end: the stream throws INTEGRITY (at its end, at the
 * latest) when anything is not as the record says.
 */
export async function* openStoredArtifact(platform: Platform, read: ObjectReader, identity: string, record: ArtifactRecord): AsyncGenerator<Uint8Array> {
  let plain = 0;
  for await (const chunk of openArtifactBytes(platform, read, identity, record)) {
    plain += chunk.length;
    yield chunk;
  }
  if (plain !== record.plainSize) {
    throw new LifeboatError("INTEGRITY", `Cannot trust stored object "${record.key}": it holds ${plain} bytes of data, the ledger records ${record.plainSize}`, { hint: "restore from another snapshot" });
  }
}

function openArtifactBytes(platform: Platform, read: ObjectReader, identity: string, record: ArtifactRecord): ByteStream {
  if (record.compression === "chunked") {
    return (async function* () {
      yield* readChunks(platform, read, identity, record, await readChunkIndex(platform, read, identity, record));
    })();
  }
  const stored = verified(platform, read(record.key), { sha256: record.sha256, size: record.storedSize }, record.key);
  return decompress(platform, record.compression, decryptStream(platform, identity, stored));
}

/**
 * Opens a manifest whose hash the ledger does not know (a ledger rebuild): the
 * stored bytes decrypted with `identity` (age authenticates them) and parsed.
 * @throws INTEGRITY when it is no Lifeboat manifest; age's errors when `identity` does not open it.
 */
export async function openManifest(platform: Platform, identity: string, stored: Uint8Array, key: string): Promise<Manifest> {
  let text = "";
  const decoder = new TextDecoder();
  for await (const chunk of decryptStream(platform, identity, single(stored))) text += decoder.decode(chunk, { stream: true });
  let manifest: Manifest;
  try {
    manifest = JSON.parse(text) as Manifest;
  } catch {
    throw new LifeboatError("INTEGRITY", `"${key}" is not a Lifeboat manifest`);
  }
  if (manifest.format !== "lifeboat-manifest/1" || typeof manifest.host !== "string" || typeof manifest.snapshotId !== "string" || !Array.isArray(manifest.artifacts)) {
    throw new LifeboatError("INTEGRITY", `"${key}" is not a Lifeboat manifest (format ${JSON.stringify(manifest.format)})`);
  }
  return manifest;
}
