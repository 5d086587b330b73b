/**
 * @module Chunked artifacts as readers see them: the stored object is an age
 * file of a {@link ChunkIndex} (JSON), the artifact's bytes are its chunks'
 * plain bytes in order, each read through its own checks.
 */
import { isLifeboatError, LifeboatError } from "../errors";
import type { ByteStream, Platform } from "../platform";
import { CHUNK_COMPRESSIONS, type ArtifactRecord, type ChunkIndex, type ChunkRef } from "../records";
import { decryptStream } from "./age/decrypt";
import { collect, readChunk } from "./chunk-store";
import { verified } from "./measure";
import { chunkNameOf } from "../storage-layout";

/** Where stored objects are read from, by key. */
export type ObjectReader = (key: string) => ByteStream;

/** Chunks read ahead of the one being consumed (each at most the chunker's maximum, 4 MiB; about 1 MiB on average). */
const READ_AHEAD = 6;

const HEX64 = /^[0-9a-f]{64}$/;

/** The index as stored: compact JSON. */
export function encodeChunkIndex(index: ChunkIndex): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(index));
}

/** The host a record's object key belongs to (`<host>/<snapshot>/...`). */
function hostOf(record: ArtifactRecord): string {
  return record.key.slice(0, record.key.indexOf("/"));
}

/**
 * Reads and checks a chunked artifact's index: the object's stored hash and
 * size as the record has them, age, the JSON's shape, every chunk key under the
 * artifact's own host's chunks, sizes adding up to the record's plain size.
 * @throws INTEGRITY naming the artifact.
 */
export async function readChunkIndex(platform: Platform, read: ObjectReader, identity: string, record: ArtifactRecord): Promise<ChunkIndex> {
  const what = `artifact ${record.instance}/${record.name}`;
  const stored = verified(platform, read(record.key), { sha256: record.sha256, size: record.storedSize }, record.key);
  const bytes = await collect(decryptStream(platform, identity, stored));
  let index: ChunkIndex;
  try {
    index = JSON.parse(new TextDecoder().decode(bytes)) as ChunkIndex;
  } catch {
    throw damagedIndex(what, "it is not JSON");
  }
  if (index?.format !== "lifeboat-chunks/1" || !Number.isSafeInteger(index.size) || !Array.isArray(index.chunks)) throw damagedIndex(what, "it is not a Lifeboat chunk index");
  const host = hostOf(record);
  let total = 0;
  for (const [i, ref] of index.chunks.entries()) {
    if (!isChunkRef(ref, host)) throw damagedIndex(what, `its chunk ${i + 1} is malformed or outside ${host}/chunks/`);
    total += ref.size;
  }
  if (total !== index.size || index.size !== record.plainSize) throw damagedIndex(what, `its chunks add up to ${total} bytes, the index says ${index.size}, the ledger ${record.plainSize}`);
  return index;
}

/** True for a well-formed reference to a chunk of `host`. */
function isChunkRef(ref: ChunkRef, host: string): boolean {
  if (typeof ref !== "object" || ref === null) return false;
  return (
    chunkNameOf(host, String(ref.key)) !== null &&
    Number.isSafeInteger(ref.size) &&
    ref.size >= 0 &&
    HEX64.test(String(ref.sha256)) &&
    (CHUNK_COMPRESSIONS as readonly string[]).includes(ref.compression) &&
    typeof ref.stored === "object" &&
    ref.stored !== null &&
    HEX64.test(String(ref.stored.sha256)) &&
    Number.isSafeInteger(ref.stored.size)
  );
}

function damagedIndex(what: string, detail: string): LifeboatError {
  return new LifeboatError("INTEGRITY", `Cannot read ${what}: its chunk index is damaged (${detail})`, { hint: "restore from another snapshot" });
}

/**
 * The artifact's plain bytes: its chunks in index order, each checked (stored
 * hash, age, plain hash) before it is yielded, the next few read ahead.
 * @throws INTEGRITY naming the artifact and the chunk (its key in `object`).
 */
export async function* readChunks(platform: Platform, read: ObjectReader, identity: string, record: ArtifactRecord, index: ChunkIndex): ByteStream {
  const what = `artifact ${record.instance}/${record.name}`;
  const pending: Promise<Uint8Array[]>[] = [];
  let next = 0;
  const fill = () => {
    while (pending.length < READ_AHEAD && next < index.chunks.length) {
      const i = next++;
      const p = readChunk(platform, read, identity, index.chunks[i]!, `${what} (chunk ${i + 1} of ${index.chunks.length})`);
      p.catch(() => {}); // surfaced when its turn comes
      pending.push(p);
    }
  };
  try {
    fill();
    while (pending.length > 0) {
      const pieces = await pending.shift()!;
      fill();
      yield* pieces;
    }
  } finally {
    // Stopped early or failed: let the reads ahead settle so nothing runs on unobserved.
    await Promise.allSettled(pending);
  }
}

/** Whether `err` names a chunk that is missing or damaged (its key), else null. */
export function damagedChunkOf(err: unknown): string | null {
  return isLifeboatError(err) && err.code === "INTEGRITY" && typeof err.object === "string" && /\/chunks\//.test(err.object) ? err.object : null;
}
