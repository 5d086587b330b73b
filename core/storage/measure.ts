/** @module Pass-through stages that count and hash the bytes flowing by. */
import { LifeboatError } from "../errors";
import type { ByteStream, Platform } from "../platform";

/** Passes `data` through, calling `onBytes(total)` after each chunk. */
export async function* counted(data: ByteStream, onBytes: (total: number) => void): ByteStream {
  let total = 0;
  for await (const chunk of data) {
    total += chunk.length;
    onBytes(total);
    yield chunk;
  }
}

/** Passes `data` through while hashing it; `digest()` is valid once the stream has ended. */
export function hashed(platform: Platform, data: ByteStream): { data: ByteStream; digest(): string } {
  let result: string | undefined;
  return {
    data: checkedAtEnd(platform, data, (hex) => void (result = hex)),
    digest: () => {
      if (result === undefined) throw new LifeboatError("INTERNAL", "digest() read before the stream ended");
      return result;
    },
  };
}

/**
 * Passes `data` through and, at its end, checks its SHA-256 and size against
 * the recorded ones. Throws `INTEGRITY` (naming `what`) on a mismatch, so a
 * consumer that stages everything before acting never acts on tampered data.
 */
export function verified(platform: Platform, data: ByteStream, expected: { sha256: string; size: number }, what: string): ByteStream {
  return checkedAtEnd(platform, data, (actual, size) => {
    if (size === expected.size && actual === expected.sha256) return;
    throw new LifeboatError("INTEGRITY", `Cannot trust stored object "${what}": expected ${expected.size} bytes with SHA-256 ${expected.sha256.slice(0, 16)}..., got ${size} bytes with ${actual.slice(0, 16)}...`, {
      hint: "the object was modified or damaged in storage; restore from another snapshot (controller snapshots --host H)",
    });
  });
}

/**
 * Passes `data` through while hashing it, then calls `check` with the SHA-256
 * (hex) and size of everything that went by; `check` throws to fail the stream
 * at its very end, so a consumer that stages everything never acts on bad data.
 */
export async function* checkedAtEnd(platform: Platform, data: ByteStream, check: (sha256Hex: string, size: number) => void): ByteStream {
  const hash = platform.sha256();
  let size = 0;
  for await (const chunk of data) {
    hash.update(chunk);
    size += chunk.length;
    yield chunk;
  }
  check(hash.digestHex(), size);
}

/** Calls `fn` at most every `intervalMs` (and never blocks the stream). */
export function throttle(intervalMs: number, fn: () => void): () => void {
  let last = 0;
  return () => {
    const now = Date.now();
    if (now - last >= intervalMs) {
      last = now;
      fn();
    }
  };
}
