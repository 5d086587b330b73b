/** @module The age v1 payload (STREAM): 64 KiB chunks of ChaCha20-Poly1305 under a counter nonce, one framing shared by encryption and decryption. */
import { chacha20poly1305 } from "@noble/ciphers/chacha.js";
import { concatBytes } from "../../bytes";
import type { ByteStream, Platform } from "../../platform";

/** Plaintext bytes per chunk (age v1). */
export const CHUNK_SIZE = 64 * 1024;
/** Poly1305 tag bytes per chunk. */
export const TAG_SIZE = 16;
/** Bytes of one full chunk as stored. */
export const SEALED_CHUNK_SIZE = CHUNK_SIZE + TAG_SIZE;
/** Bytes of the random nonce that precedes the payload. */
export const PAYLOAD_NONCE_SIZE = 16;
/** Output is handed on in batches of about this size, so that later stages see few, large pieces. */
const BATCH_BYTES = 1024 * 1024;

/** Seals and opens one chunk. Results are new arrays that never alias the input. */
export interface ChunkCipher {
  seal(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array): Uint8Array;
  /** null when authentication fails. */
  open(key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array): Uint8Array | null;
}

const pureJs: ChunkCipher = {
  seal: (key, nonce, plaintext) => chacha20poly1305(key, nonce).encrypt(plaintext),
  open: (key, nonce, sealed) => {
    try {
      return chacha20poly1305(key, nonce).decrypt(sealed);
    } catch {
      return null;
    }
  },
};

/** The runtime's native ChaCha20-Poly1305 where it exists, else the pure-JS one (`@noble/ciphers`, as used by age-encryption). */
export function chunkCipher(platform: Platform): ChunkCipher {
  return platform.chacha20poly1305 ?? pureJs;
}

/** The 12-byte chunk nonce: 11-byte big-endian counter, then 0x01 for the last chunk and 0x00 otherwise. */
export function chunkNonce(counter: number, last: boolean): Uint8Array {
  const nonce = new Uint8Array(12);
  let c = counter;
  for (let i = 10; i >= 0 && c > 0; i--) {
    nonce[i] = c % 256;
    c = Math.floor(c / 256);
  }
  nonce[11] = last ? 1 : 0;
  return nonce;
}

/** The payload key: HKDF-SHA-256(ikm = file key, salt = payload nonce, info = "payload"), 32 bytes. */
export function payloadKey(platform: Platform, fileKey: Uint8Array, nonce: Uint8Array): Uint8Array {
  return platform.hkdfSha256(fileKey, nonce, "payload", 32);
}

/**
 * The STREAM framing. Cuts `source` (pieces of any size) into chunks of exactly
 * `size` bytes except the last one, which holds 0..`size` bytes, calls
 * `transform(chunk, index, last)` on each in order, and yields the results
 * concatenated into batches of about 1 MiB.
 *
 * Only the chunk that ends the stream is `last`: a full chunk is held back until
 * a further byte (or the end) arrives. The chunk passed to `transform` may be a
 * reused buffer, valid only during the call. An error thrown by `transform` or
 * by the source ends the stream with that error; results already batched but
 * not yet yielded are dropped.
 */
export async function* transformChunks(
  source: ByteStream,
  size: number,
  transform: (chunk: Uint8Array, index: number, last: boolean) => Uint8Array,
): ByteStream {
  const pending = new Uint8Array(size);
  let filled = 0;
  let index = 0;
  const batch = new Batch();
  for await (const input of source) {
    let offset = 0;
    while (offset < input.length) {
      let chunk: Uint8Array;
      if (filled === size) {
        // More bytes follow, so the held-back chunk is not the last one.
        chunk = pending;
        filled = 0;
      } else if (filled === 0 && input.length - offset > size) {
        // A whole chunk with more bytes behind it: transform it in place, no copy.
        chunk = input.subarray(offset, offset + size);
        offset += size;
      } else {
        const n = Math.min(size - filled, input.length - offset);
        pending.set(input.subarray(offset, offset + n), filled);
        filled += n;
        offset += n;
        continue;
      }
      batch.add(transform(chunk, index++, false));
      if (batch.bytes >= BATCH_BYTES) yield batch.take();
    }
  }
  batch.add(transform(pending.subarray(0, filled), index, true));
  if (batch.bytes > 0) yield batch.take();
}

/** Output pieces waiting to be handed on as one array. */
class Batch {
  private parts: Uint8Array[] = [];
  bytes = 0;

  add(part: Uint8Array): void {
    this.parts.push(part);
    this.bytes += part.length;
  }

  take(): Uint8Array {
    const out = this.parts.length === 1 ? this.parts[0]! : concatBytes(this.parts, this.bytes);
    this.parts = [];
    this.bytes = 0;
    return out;
  }
}
