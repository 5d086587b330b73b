/**
 * @module A host's chunk objects: each chunk of a chunked artifact is stored
 * once per host, compressed (gzip, in-process) unless it does not shrink,
 * age-encrypted, under a keyed name (`<host>/chunks/<2 hex>/<name>.age`).
 */
import { isLifeboatError, LifeboatError, messageOf } from "../errors";
import { concatBytes } from "../bytes";
import type { ByteStream, Platform } from "../platform";
import type { ChunkRef, CompressionHint } from "../records";
import { chunkAlternateKey, chunkObjectKey } from "../storage-layout";
import { decryptStream } from "./age/decrypt";
import { encryptStream } from "./age/encrypt";
import { decompress } from "./compression";
import type { Destination } from "./destination";
import { hashed, verified } from "./measure";

/** How much of a chunk is test-compressed before the whole is. */
const PROBE_BYTES = 64 * 1024;
/** A probe (or chunk) that gzip -1 shrinks to more than this fraction is stored as it is. */
const INCOMPRESSIBLE_RATIO = 0.9;
const GZIP_LEVEL = 1;

/** A chunk as a backup job handled it: its keyed name, its reference, and whether this job uploaded it. */
export interface StoredChunk {
  name: string;
  ref: ChunkRef;
  uploaded: boolean;
}

/** The stream of one byte array. */
export async function* single(bytes: Uint8Array): ByteStream {
  yield bytes;
}

/** All of a stream's bytes in one array. */
export async function collect(data: ByteStream): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const part of data) parts.push(part);
  return concatBytes(parts);
}

/** gzip -1 of `plain`, or `plain` itself when it does not shrink below 90% (a probe of its start decides first). */
async function pack(platform: Platform, plain: Uint8Array, hint: CompressionHint): Promise<{ compression: ChunkRef["compression"]; bytes: Uint8Array }> {
  if (hint === "none" || plain.length === 0) return { compression: "none", bytes: plain };
  if (plain.length > PROBE_BYTES * 2) {
    const probe = await collect(platform.gzip(single(plain.subarray(0, PROBE_BYTES)), GZIP_LEVEL));
    if (probe.length > PROBE_BYTES * INCOMPRESSIBLE_RATIO) return { compression: "none", bytes: plain };
  }
  const packed = await collect(platform.gzip(single(plain), GZIP_LEVEL));
  return packed.length > plain.length * INCOMPRESSIBLE_RATIO ? { compression: "none", bytes: plain } : { compression: "gzip", bytes: packed };
}

/** A chunk's content hash and keyed name. */
export interface HashedChunk {
  sha256: string;
  name: string;
  /** The chunk itself (handed back by a worker thread). */
  plain: Uint8Array;
}

/** A chunk compressed and encrypted: the stored object's bytes, with their hash. */
export interface SealedChunk {
  compression: ChunkRef["compression"];
  sealed: Uint8Array;
  stored: { sha256: string; size: number };
}

/** Where a chunk's CPU work (hashing, compression, encryption) runs: this thread, or worker threads. */
export interface ChunkWork {
  hash(plain: Uint8Array): Promise<HashedChunk>;
  seal(plain: Uint8Array, hint: CompressionHint): Promise<SealedChunk>;
}

/** The keyed name of a chunk whose content has SHA-256 `sha256Hex`: HMAC-SHA-256 under the host's chunk naming key. */
export function chunkName(platform: Platform, namingKey: Uint8Array, sha256Hex: string): string {
  return platform.hmacSha256Hex(namingKey, `sha256:${sha256Hex}`);
}

/** Hashes and names a chunk in this thread. */
export function hashChunk(platform: Platform, namingKey: Uint8Array, plain: Uint8Array): HashedChunk {
  const hash = platform.sha256();
  hash.update(plain);
  const sha256 = hash.digestHex();
  return { sha256, name: chunkName(platform, namingKey, sha256), plain };
}

/** Compresses (unless it does not shrink) and encrypts a chunk in this thread. */
export async function sealChunk(platform: Platform, recipients: string[], plain: Uint8Array, hint: CompressionHint): Promise<SealedChunk> {
  const { compression, bytes } = await pack(platform, plain, hint);
  const stored = hashed(platform, encryptStream(platform, recipients, single(bytes)));
  const sealed = await collect(stored.data);
  return { compression, sealed, stored: { sha256: stored.digest(), size: sealed.length } };
}

/** Chunk work in this thread. */
export function localChunkWork(platform: Platform, namingKey: Uint8Array, recipients: string[]): ChunkWork {
  return {
    hash: async (plain) => hashChunk(platform, namingKey, plain),
    seal: (plain, hint) => sealChunk(platform, recipients, plain, hint),
  };
}

/**
 * Writes a backup's chunks. A chunk whose keyed name is `known` (from the
 * snapshot the controller named as parent, or stored earlier in this job) is
 * referenced without upload. Any other is uploaded with a conditional write to
 * its keyed name; when that is taken (by an object this job may neither trust
 * nor overwrite, as older snapshots may record its hash), to a name of this
 * snapshot's own.
 */
export class ChunkWriter {
  private readonly inFlight = new Map<string, Promise<StoredChunk>>();

  constructor(
    private readonly destination: Destination,
    private readonly host: string,
    private readonly work: ChunkWork,
    private readonly snapshotId: string,
    /** Keyed name → reference: chunks that may be referenced without upload; grows with every upload. */
    readonly known: Map<string, ChunkRef>,
    private readonly signal?: AbortSignal,
  ) {}

  /** Stores `plain` (one chunk) unless known; concurrent puts of equal content upload it once. */
  async put(chunk: Uint8Array, hint: CompressionHint): Promise<StoredChunk> {
    const { sha256, name, plain } = await this.work.hash(chunk);
    const known = this.known.get(name);
    if (known) return { name, ref: known, uploaded: false };
    const pending = this.inFlight.get(name);
    if (pending) return { ...(await pending), uploaded: false };
    const upload = this.upload(name, sha256, plain, hint).finally(() => this.inFlight.delete(name));
    this.inFlight.set(name, upload);
    return upload;
  }

  private async upload(name: string, sha256: string, plain: Uint8Array, hint: CompressionHint): Promise<StoredChunk> {
    const size = plain.length;
    const { compression, sealed, stored } = await this.work.seal(plain, hint);
    for (const key of [chunkObjectKey(this.host, name), chunkAlternateKey(this.host, name, this.snapshotId)]) {
      let written: number | null;
      try {
        written = await this.destination.putNew(key, single(sealed), this.signal);
      } catch (err) {
        if (isLifeboatError(err)) throw err;
        throw new LifeboatError("DESTINATION", `Cannot store chunk "${key}" at ${this.destination.description}: ${messageOf(err)}`, { cause: err });
      }
      if (written === null) continue;
      const ref: ChunkRef = { key, size, sha256, compression, stored };
      this.known.set(name, ref);
      return { name, ref, uploaded: true };
    }
    throw new LifeboatError("DESTINATION", `Cannot store chunk "${chunkObjectKey(this.host, name)}": both of its names are taken at ${this.destination.description}`, {
      hint: "something else writes into this host's chunks: check the bucket's access policy (docs/security.md)",
    });
  }
}

/**
 * One chunk's plain bytes (in pieces), read through its stored hash and size, age and
 * decompression, and checked against its plain hash and size.
 * @throws INTEGRITY (with `object` set to the chunk's key) naming `what` when the chunk is missing, damaged or not the recorded one.
 */
export async function readChunk(platform: Platform, read: (key: string) => ByteStream, identity: string, ref: ChunkRef, what: string): Promise<Uint8Array[]> {
  // Kept as the pieces they arrive in (no copy into one array); hashed as they arrive.
  const plain: Uint8Array[] = [];
  const hash = platform.sha256();
  let size = 0;
  try {
    const stored = verified(platform, read(ref.key), ref.stored, ref.key);
    for await (const piece of decompress(platform, ref.compression, decryptStream(platform, identity, stored))) {
      hash.update(piece);
      size += piece.length;
      plain.push(piece);
    }
  } catch (err) {
    if (isLifeboatError(err) && err.code === "NOT_FOUND") {
      throw new LifeboatError("INTEGRITY", `Cannot read ${what}: its chunk "${ref.key}" is missing from storage`, { hint: "restore from another snapshot; `controller verify --level stored` finds every snapshot that needs this chunk", object: ref.key, cause: err });
    }
    if (isLifeboatError(err) && err.code === "INTEGRITY") {
      throw new LifeboatError("INTEGRITY", `Cannot read ${what}: its chunk "${ref.key}" is damaged (${err.message})`, { hint: err.hint ?? "restore from another snapshot", object: ref.key, cause: err });
    }
    throw err;
  }
  if (size !== ref.size || hash.digestHex() !== ref.sha256) {
    throw new LifeboatError("INTEGRITY", `Cannot read ${what}: its chunk "${ref.key}" holds other content than its index records`, { hint: "restore from another snapshot", object: ref.key });
  }
  return plain;
}
