/**
 * @module Chunk work on the cores: hashing, compressing and encrypting chunks
 * in worker threads running the agent's own bundle (where the runtime has
 * them), while the main thread reads, chunks and uploads. A worker that fails
 * hands its work back to the main thread for the rest of the job.
 */
import type { Platform, WorkerPool } from "../core/platform";
import type { CompressionHint } from "../core/records";
import { hashChunk, localChunkWork, sealChunk, type ChunkWork, type HashedChunk, type SealedChunk } from "../core/storage/chunk-store";
import { isLifeboatError } from "../core/errors";

/** At most this many worker threads, however many cores: the agent shares a small VPS with the services it backs up. */
const MAX_WORKERS = 4;

/** A request to a chunk worker. */
type ChunkRequest =
  | { op: "hash"; namingKey: Uint8Array; plain: Uint8Array }
  | { op: "seal"; recipients: string[]; plain: Uint8Array; hint: CompressionHint };

/** The buffer of `bytes`, to hand over to another thread (copied first when it is shared with other bytes). */
function own(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer ? (bytes as Uint8Array<ArrayBuffer>) : new Uint8Array(bytes);
}

/**
 * Chunk work for a backup: in worker threads (half the cores on a host of more
 * than two, at most {@link MAX_WORKERS}; `LIFEBOAT_AGENT_WORKERS` sets the
 * number) when the platform can start them from `entry` (the agent's bundle),
 * else in this thread. `close()` ends the workers.
 */
export function chunkWork(platform: Platform, entry: URL | null, namingKey: Uint8Array, recipients: string[], log: (message: string) => void): ChunkWork & { close(): Promise<void> } {
  const local = localChunkWork(platform, namingKey, recipients);
  // LIFEBOAT_AGENT_WORKERS in the agent's environment sets the number (0: none, all work on the main thread).
  const requested = Number.parseInt(platform.env("LIFEBOAT_AGENT_WORKERS") ?? "", 10);
  // By default none on a host of one or two cores (the services need them, and a worker costs ~70 MiB), half the cores above.
  const cores = platform.parallelism?.() ?? 1;
  const size = Number.isSafeInteger(requested) && requested >= 0 ? Math.min(requested, MAX_WORKERS) : cores <= 2 ? 0 : Math.min(MAX_WORKERS, Math.floor(cores / 2));
  let pool: WorkerPool | null = entry && size >= 1 ? (platform.startWorkers?.(entry, size) ?? null) : null;
  if (pool) log(`chunks are hashed, compressed and encrypted on ${size} worker thread(s)`);
  /** Runs `remote` on the pool; when a worker fails (not the work itself), this and all later work runs here. */
  const offload = async <T>(remote: (p: WorkerPool) => Promise<T>, here: () => Promise<T>): Promise<T> => {
    if (!pool) return here();
    try {
      return await remote(pool);
    } catch (err) {
      if (isLifeboatError(err)) throw err;
      if (pool) {
        log(`worker threads failed (${err instanceof Error ? err.message : String(err)}); chunks are processed on the main thread`);
        const failed = pool;
        pool = null;
        void failed.close();
      }
      return here();
    }
  };
  return {
    hash: (plain) => {
      const mine = own(plain);
      return offload(
        (p) => p.request<HashedChunk>({ op: "hash", namingKey, plain: mine } satisfies ChunkRequest, [mine.buffer]),
        () => local.hash(mine),
      );
    },
    seal: (plain, hint) => {
      const mine = own(plain);
      return offload(
        (p) => p.request<SealedChunk>({ op: "seal", recipients, plain: mine, hint } satisfies ChunkRequest, [mine.buffer]),
        () => local.seal(mine, hint),
      );
    },
    close: async () => {
      await pool?.close();
      pool = null;
    },
  };
}

/** The request handler of a chunk worker thread. */
export function serveChunkRequests(platform: Platform): (request: unknown) => Promise<{ result: unknown; transfer?: ArrayBuffer[] }> {
  return async (raw) => {
    const request = raw as ChunkRequest;
    if (request.op === "hash") {
      const hashed = hashChunk(platform, request.namingKey, request.plain);
      return { result: hashed, transfer: [own(hashed.plain).buffer] };
    }
    const sealed = await sealChunk(platform, request.recipients, request.plain, request.hint);
    const bytes = own(sealed.sealed);
    return { result: { ...sealed, sealed: bytes }, transfer: [bytes.buffer] };
  };
}
