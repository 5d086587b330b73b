/**
 * @module The blob area's garbage collection, after prune's deletions: a blob
 * object (Ollama weights, stored once per fleet under `blobs/`) that no
 * remaining snapshot of any host references is deleted from storage, then from
 * the ledger, with a `deletions` row (rule `unreferenced blob`).
 *
 * References are what the ledger's artifacts name (`metadata.blobs[].key`) in
 * snapshots of the same destination, whatever their status: a failed
 * snapshot's blobs stay until that snapshot is deleted as debris. Candidates
 * are the ledger's `blobs` rows, plus blob keys that only the snapshots just
 * deleted referenced and the ledger has no row for (blobs stored before the
 * ledger kept them); the bucket's own listing is never trusted to name blobs.
 */
import { isLifeboatError, messageOf, redact } from "../../core/errors";
import type { ControllerContext } from "../context";
import type { DestinationPool } from "./prune";

/** The rule recorded for a deleted blob. */
export const UNREFERENCED_BLOB = "unreferenced blob";

/** One blob in a prune. */
export interface BlobAction {
  destination: string;
  key: string;
  rule: typeof UNREFERENCED_BLOB;
  /** `planned` (dry run), `deleted`, `failed`, or `kept` (referenced again, or a backup started, in the meantime). */
  result: "planned" | "deleted" | "failed" | "kept";
  error?: string;
}

/** What garbage collection is given by prune. */
export interface CollectOptions {
  /** The destinations to collect (those of the pruned hosts). */
  destinations: string[];
  /** The snapshots deleted in this prune (to be deleted, in a dry run) with the blob keys they referenced. */
  dropped: { destination: string; host: string; snapshotId: string; blobKeys: string[] }[];
  dryRun: boolean;
  graceMs: number;
  now: Date;
  /** The prune run (null in a dry run). */
  runId: string | null;
}

interface Candidate {
  key: string;
  /** Recorded in `deletions` under this host and snapshot: the blob's uploader, or the deleted snapshot that referenced it. */
  host: string;
  snapshotId: string;
  /** Whether the ledger has a `blobs` row for it (to take out of use first). */
  known: boolean;
}

/**
 * Collects the unreferenced blobs of `destinations`. Never throws for a failed
 * deletion (it is in the result and recorded in the run).
 */
export async function collectBlobs(ctx: ControllerContext, pool: DestinationPool, o: CollectOptions): Promise<{ blobs: BlobAction[]; notes: string[] }> {
  const blobs: BlobAction[] = [];
  const notes: string[] = [];
  // A backup job that is running now was sent, in its signed spec, the blobs it may reference
  // without uploading (BlobLedger.known): one of them may be unreferenced right now and be
  // referenced by that job's snapshot when it reports its artifacts. So nothing is collected
  // while a backup runs; `claimBlob` checks again in the same transaction that takes the blob
  // out of use, and from then on no new spec names it and no agent's report citing it is accepted.
  const running = ctx.ledger.retention.runningBackups();
  if (running > 0) {
    notes.push(`blob garbage collection postponed: ${running} backup job(s) running (a running backup may be about to reference a blob); the next prune collects`);
    return { blobs, notes };
  }
  // A blob recorded within the grace period may belong to a job that has just stored it and
  // not yet reported the artifact that references it (or to one whose report is still on its
  // way through another controller process): only blobs older than the grace are collected.
  const cutoff = o.now.getTime() - o.graceMs;
  const clean = (text: string) => redact(text, ctx.secrets);
  for (const destination of [...new Set(o.destinations)].sort()) {
    if (!ctx.inventory.destinations.has(destination)) continue;
    if (pool.isLocal(destination)) {
      notes.push(`blobs of destination "${destination}" are not collected: a local destination is a directory on each host, and Ollama blobs there are few`);
      continue;
    }
    // Only the dropped snapshots that referenced blobs count here: the others name no candidate,
    // and no reference is theirs (a dry run drops tens of thousands of snapshots, a few with blobs).
    const dropped = o.dropped.filter((d) => d.destination === destination && d.blobKeys.length > 0);
    // In a dry run the snapshots to be deleted are still there: their references do not count.
    const gone = new Set(o.dryRun ? dropped.map((d) => `${d.host}\0${d.snapshotId}`) : []);
    const referenced = new Set(
      ctx.ledger.retention
        .blobReferences(destination)
        .filter((r) => !gone.has(`${r.host}\0${r.snapshotId}`))
        .map((r) => r.key),
    );
    const rows = ctx.ledger.retention.blobs(destination);
    const candidates = new Map<string, Candidate>();
    let young = 0;
    for (const row of rows) {
      if (referenced.has(row.objectKey)) continue;
      if (Date.parse(row.recordedAt) >= cutoff) young++;
      else candidates.set(row.objectKey, { key: row.objectKey, host: row.host, snapshotId: row.snapshotId, known: true });
    }
    const rowKeys = new Set(rows.map((r) => r.objectKey));
    for (const d of dropped) {
      for (const key of d.blobKeys) {
        // Only the blob area: a reference never makes prune delete anything else.
        if (!key.startsWith("blobs/") || referenced.has(key) || rowKeys.has(key) || candidates.has(key)) continue;
        candidates.set(key, { key, host: d.host, snapshotId: d.snapshotId, known: false });
      }
    }
    if (young > 0) notes.push(`${young} unreferenced blob(s) of "${destination}" are younger than the grace period and kept`);
    for (const c of candidates.values()) {
      const action: BlobAction = { destination, key: c.key, rule: UNREFERENCED_BLOB, result: "planned" };
      blobs.push(action);
      if (o.dryRun) continue;
      if (c.known && !ctx.ledger.retention.claimBlob(destination, c.key, o.runId!)) {
        action.result = "kept";
        continue;
      }
      try {
        await (await pool.get(destination)).delete(c.key);
        ctx.ledger.retention.forgetBlob(destination, c.key, { host: c.host, snapshotId: c.snapshotId, rule: UNREFERENCED_BLOB, runId: o.runId! });
        action.result = "deleted";
      } catch (err) {
        action.result = "failed";
        action.error = clean(messageOf(err));
        ctx.ledger.recordError({
          runId: o.runId!,
          code: isLifeboatError(err) ? err.code : "INTERNAL",
          message: `Cannot delete blob "${c.key}" of destination "${destination}": ${action.error}`,
          hint: "run controller prune again: the blob stays out of use and is collected then",
        });
      }
    }
  }
  return { blobs, notes };
}
