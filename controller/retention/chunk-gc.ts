/**
 * @module The garbage collection of a host's chunks, after prune deleted its
 * snapshots: a chunk object (`<host>/chunks/...`) that no remaining snapshot of
 * the host references is deleted from storage, then forgotten by the ledger,
 * with a `deletions` row each (rule `unreferenced chunk`).
 *
 * References are the ledger's sets of chunk ids per snapshot, whatever the
 * snapshot's status: a failed or unfinished snapshot's chunks stay until it is
 * deleted itself (as debris), and those of a snapshot prune failed to delete
 * stay with it. The ledger alone names candidates; the bucket's listing is
 * never trusted to name chunks.
 *
 * Nothing of a host is collected while one of its backups runs: its spec named
 * a parent whose chunks it may reference, and it reports what it uploaded and
 * references only as each artifact is stored. Chunks are taken out of use in
 * batches (marked damaged under the ledger's write lock, after checking that
 * no backup of the host ran and no reference was recorded since the garbage
 * was computed), deleted (S3: DeleteObjects; a `local` destination: a prune job
 * of the host's agent; else a few at a time), and only then forgotten.
 */
import { isLifeboatError, LifeboatError, messageOf, redact } from "../../core/errors";
import type { Destination } from "../../core/storage/destination";
import type { HostConfig } from "../../inventory/schema";
import type { ControllerContext } from "../context";
import type { GarbageChunk } from "../ledger/chunk-ledger";
import type { ChunkGeneration } from "../ledger/retention-ledger";
import { forEachConcurrent } from "../jobs/pool";
import { deleteOnHost } from "./host-prune";
import type { DestinationPool } from "./prune";

/** The rule recorded for a deleted chunk. */
export const UNREFERENCED_CHUNK = "unreferenced chunk";

/** Chunks taken out of use, deleted and forgotten at a time (a prune job's keys, for a `local` destination). */
const CLAIM_BATCH = 10_000;
const LOCAL_CLAIM_BATCH = 50_000;
/** Objects deleted at once where the destination deletes one object per request. */
const DELETE_CONCURRENCY = 16;

/** The chunk garbage of one host in one destination, in a prune. */
export interface ChunkAction {
  destination: string;
  rule: typeof UNREFERENCED_CHUNK;
  /** Chunk objects that no remaining snapshot of the host references. */
  chunks: number;
  /** Their stored size in bytes. */
  bytes: number;
  /** Of them, deleted from storage and forgotten by the ledger, and their stored size. */
  deleted: number;
  deletedBytes: number;
  /**
   * `planned` (dry run); `deleted` (all of them); `postponed` (a backup of the
   * host started meanwhile: the rest waits for the next prune); `failed` (some
   * were not deleted: they stay out of use, and the next prune tries again).
   */
  result: "planned" | "deleted" | "postponed" | "failed";
  error?: string;
}

/** What chunk garbage collection is given by prune. */
export interface ChunkCollectOptions {
  /** The destinations to collect for the host (its own and those of its snapshots). */
  destinations: string[];
  /** The snapshots the plan deletes: in a dry run, still in the ledger, their references do not count. */
  deleting: string[];
  dryRun: boolean;
  /** The prune run (null in a dry run). */
  runId: string | null;
}

/**
 * Collects the unreferenced chunks of `host`. Never throws for a failed
 * deletion (it is in the result and recorded in the run).
 */
export async function collectChunks(ctx: ControllerContext, pool: DestinationPool, host: HostConfig, o: ChunkCollectOptions): Promise<{ chunks: ChunkAction[]; notes: string[] }> {
  const chunks: ChunkAction[] = [];
  const notes: string[] = [];
  const clean = (text: string) => redact(text, ctx.secrets);
  for (const destination of [...new Set(o.destinations)].sort()) {
    if (!ctx.inventory.destinations.has(destination) || !ctx.ledger.chunks.hasChunks(destination, host.name)) continue;
    const read = ctx.ledger.retention.chunkGeneration(host.name);
    if (read.running > 0) {
      notes.push(`chunks of "${destination}" are not collected now: a backup of ${host.name} is running (it may reference any chunk of its parent snapshot); the next prune collects them`);
      continue;
    }
    let action: ChunkAction | undefined;
    try {
      const live = ctx.ledger.chunks.liveChunks(host.name, destination, o.dryRun ? o.deleting : []);
      const garbage = ctx.ledger.chunks.unreferenced(host.name, destination, live);
      if (garbage.length === 0) continue;
      action = { destination, rule: UNREFERENCED_CHUNK, chunks: garbage.length, bytes: garbage.reduce((n, g) => n + g.storedSize, 0), deleted: 0, deletedBytes: 0, result: "planned" };
      chunks.push(action);
      if (o.dryRun) continue;
      const stopped = await deleteGarbage(ctx, pool, host, destination, garbage, read, o.runId!, action);
      if (stopped === "postponed") notes.push(`a backup of ${host.name} started while its chunks were collected: ${action.chunks - action.deleted} chunk(s) of "${destination}" are left for the next prune`);
    } catch (err) {
      const error = clean(messageOf(err));
      if (!action) {
        action = { destination, rule: UNREFERENCED_CHUNK, chunks: 0, bytes: 0, deleted: 0, deletedBytes: 0, result: "failed" };
        chunks.push(action);
      }
      action.result = "failed";
      action.error = error;
      if (o.runId) {
        ctx.ledger.recordError({
          runId: o.runId,
          host: host.name,
          code: isLifeboatError(err) ? err.code : "INTERNAL",
          message: `Cannot collect the unreferenced chunks of "${host.name}" in "${destination}": ${error}`,
          hint: isLifeboatError(err) && err.hint ? clean(err.hint) : "run controller prune again: chunks taken out of use stay so, and are collected then",
        });
      }
    }
  }
  return { chunks, notes };
}

/**
 * Takes `garbage` out of use, deletes and forgets it, batch by batch; sets
 * `action`'s `deleted` and `result` as it goes.
 * @returns how it ended: `done`, or `postponed` (a backup of the host started) when it stopped before the end.
 * @throws LifeboatError naming the objects that were not deleted (they stay out of use).
 */
async function deleteGarbage(ctx: ControllerContext, pool: DestinationPool, host: HostConfig, destination: string, garbage: GarbageChunk[], read: ChunkGeneration, runId: string, action: ChunkAction): Promise<"done" | "postponed"> {
  const onHost = pool.isLocal(destination);
  const size = onHost ? LOCAL_CLAIM_BATCH : CLAIM_BATCH;
  for (let at = 0; at < garbage.length; at += size) {
    const batch = garbage.slice(at, at + size);
    if (!ctx.ledger.retention.claimChunks(host.name, destination, batch.map((g) => g.id), read, runId)) {
      action.result = "postponed";
      return "postponed";
    }
    const keys = batch.map((g) => g.objectKey);
    const failed = onHost ? await deleteThroughAgent(ctx, host, destination, keys, runId) : await deleteObjects(await pool.get(destination), keys);
    const notDeleted = new Set(failed.map((f) => f.key));
    const gone = notDeleted.size === 0 ? batch : batch.filter((g) => !notDeleted.has(g.objectKey));
    action.deleted += ctx.ledger.retention.forgetChunks(gone.map((g) => g.id), { rule: UNREFERENCED_CHUNK, runId });
    action.deletedBytes += gone.reduce((n, g) => n + g.storedSize, 0);
    if (failed.length > 0) {
      throw new LifeboatError("DESTINATION", `${failed.length} chunk object(s) could not be deleted, e.g. "${failed[0]!.key}": ${failed[0]!.error}`, {
        hint: "run controller prune again: they stay out of use (no backup references them) and are collected then",
      });
    }
  }
  action.result = "deleted";
  return "done";
}

/** Deletes `keys` in a destination the controller reaches: in batches where it can (S3), else a few at a time. */
async function deleteObjects(destination: Destination, keys: string[]): Promise<{ key: string; error: string }[]> {
  if (destination.deleteMany) return destination.deleteMany(keys);
  const failed: { key: string; error: string }[] = [];
  await forEachConcurrent(keys, DELETE_CONCURRENCY, async (key) => {
    try {
      await destination.delete(key);
    } catch (err) {
      failed.push({ key, error: messageOf(err) });
    }
  });
  return failed;
}

/** Deletes `keys` in a directory on the host, through a prune job of its agent: all of them, or none counts as deleted. */
async function deleteThroughAgent(ctx: ControllerContext, host: HostConfig, destination: string, keys: string[], runId: string): Promise<{ key: string; error: string }[]> {
  const error = await deleteOnHost(ctx, host, destination, { keys, prefixes: [] }, runId);
  return error === null ? [] : keys.map((key) => ({ key, error }));
}
