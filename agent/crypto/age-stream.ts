/** @module The age v1 payload framing (STREAM): 64 KiB chunks of ChaCha20-Poly1305, shared by encryption and decryption. */
import { chacha20poly1305 } from "@noble/ciphers/chacha.js";
import type { Platform } from "../platform";

/** Plaintext bytes per chunk (age v1). */
export const CHUNK_SIZE = 64 * 1024;
/** Poly1305 tag bytes per chunk. */
export const TAG_SIZE = 16;
/** Bytes of the random nonce that precedes the payload. */
export const PAYLOAD_NONCE_SIZE = 16;

/** Seals and opens one chunk. */
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

/** The runtime's native ChaCha20-Poly1305 where it exists, else the pure-JS one (`@noble/ciphers`, as in age-encryption). */
export function chunkCipher(platform: Platform): ChunkCipher {
  return platform.chacha20poly1305 ?? pureJs;
}

/** The 12-byte chunk nonce: 11-byte big-endian counter, then 0x01 for the last chunk. */
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

/** The payload key: HKDF-SHA-256(file key, salt = payload nonce, "payload"). */
export function payloadKey(platform: Platform, fileKey: Uint8Array, nonce: Uint8Array): Uint8Array {
  return platform.hkdfSha256(fileKey, nonce, "payload", 32);
}

/** Concatenates byte arrays into one. */
export function concatBytes(parts: Uint8Array[], total = parts.reduce((n, p) => n + p.length, 0)): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  const out = new Uint8Array(total);
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}
