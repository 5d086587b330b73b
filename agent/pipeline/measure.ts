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
  const hash = platform.sha256();
  let result: string | undefined;
  async function* run(): ByteStream {
    for await (const chunk of data) {
      hash.update(chunk);
      yield chunk;
    }
    result = hash.digestHex();
  }
  return {
    data: run(),
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
export async function* verified(platform: Platform, data: ByteStream, expected: { sha256: string; size: number }, what: string): ByteStream {
  const hash = platform.sha256();
  let size = 0;
  for await (const chunk of data) {
    hash.update(chunk);
    size += chunk.length;
    yield chunk;
  }
  const actual = hash.digestHex();
  if (size !== expected.size || actual !== expected.sha256) {
    throw new LifeboatError("INTEGRITY", `Cannot trust stored object "${what}": expected ${expected.size} bytes with SHA-256 ${expected.sha256.slice(0, 16)}..., got ${size} bytes with ${actual.slice(0, 16)}...`, {
      hint: "the object was modified or damaged in storage; restore from another snapshot (controller snapshots --host H)",
    });
  }
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
