/**
 * @module `controller verify --level stored`: the stored/decrypt level of a
 * verification, run on the controller itself — no host is contacted and no key
 * leaves the controller. It reads the snapshot from storage with the
 * controller's own credentials: the manifest checked against the ledger, every
 * object through its hash, age and decompression (a chunked artifact's index and
 * each of its chunks), every referenced blob to its digest. A missing or altered
 * manifest, or a missing or damaged chunk, marks the snapshot damaged; the chunk
 * is marked damaged too, so that the next backup uploads it again.
 */
import { isLifeboatError, messageOf, redact } from "../../core/errors";
import { damagedChunkOf } from "../../core/storage/chunked-artifact";
import type { BlobRef } from "../../core/records";
import { DestinationBlobStore } from "../../core/storage/blob-store";
import { openForReading } from "./read-storage";
import { checkManifest, checkStoredArtifact } from "../../core/storage/snapshot-check";
import { currentPlatform } from "../../platform/current";
import type { ControllerContext } from "../context";
import type { HostOutcome, Reporter } from "../output/reporter";
import { snapshotJob, type SnapshotSelection } from "./snapshot-job";

/** The level recorded for a verification that read every object of the snapshot to its end on the controller. */
export const STORED = "stored";

/**
 * Verifies a snapshot at the stored level and records the result; never throws
 * once it has started reading (failures are in the outcome).
 * A `local` destination (a directory on the host) is read over the host's SSH login.
 * @throws LifeboatError (NOT_FOUND, USAGE, CONFIG) before anything is read.
 */
export async function verifyStored(ctx: ControllerContext, sel: SnapshotSelection, reporter: Reporter): Promise<HostOutcome> {
  // Read on the controller: no identity leaves it, so the master key may open an old snapshot.
  const job = await snapshotJob(ctx, { ...sel, masterKey: true }, "verify");
  const began = Date.now();
  const platform = currentPlatform();
  const outcome: HostOutcome = { host: job.sourceHost, kind: "verify", status: "failed", snapshotId: job.snapshotId, artifacts: 0, plainBytes: 0, storedBytes: 0, durationMs: 0, errors: [], warnings: [], restored: [], checks: [] };
  const clean = (text: string) => redact(text, ctx.secrets);
  let damage: string | undefined;
  try {
    // The controller reads with its own credentials, not through the links issued for hosts.
    const destination = await openForReading(ctx, ctx.ledger.getSnapshot(job.sourceHost, job.snapshotId)!.destination, ctx.host(job.sourceHost));
    reporter.step(job.sourceHost, `reading snapshot ${job.snapshotId} from ${destination.description} on the controller`);
    try {
      try {
        await checkManifest(platform, destination, job.identity, job);
      } catch (err) {
        damage = messageOf(err);
        throw err;
      }
      for (const record of job.artifacts) {
        outcome.plainBytes += await checkStoredArtifact(platform, destination, job.identity, record);
        outcome.storedBytes += record.storedSize;
        outcome.artifacts++;
      }
      const refs = new Map<string, BlobRef>();
      for (const record of job.artifacts) for (const ref of (Array.isArray(record.metadata.blobs) ? record.metadata.blobs : []) as BlobRef[]) refs.set(ref.key, ref);
      const blobs = new DestinationBlobStore(platform, destination, Buffer.from(ctx.keys.blobKey, "base64"), [], job.blobIdentity ?? job.identity);
      for (const ref of refs.values()) for await (const _ of blobs.get(ref));
      outcome.checks.push(`stored: the manifest as recorded; ${job.artifacts.length} objects read through their hashes, age and decompression (${outcome.plainBytes} bytes)${refs.size ? `; ${refs.size} blobs to their digests` : ""}`);
      outcome.status = "ok";
    } finally {
      await destination.close();
    }
  } catch (err) {
    outcome.error = { code: isLifeboatError(err) ? err.code : "INTERNAL", message: clean(messageOf(err)), ...(isLifeboatError(err) && err.hint ? { hint: clean(err.hint) } : {}) };
    outcome.errors.push(outcome.error);
    const chunk = damagedChunkOf(err);
    if (chunk !== null && ctx.ledger.chunks.markSnapshotChunkDamaged(job.sourceHost, job.snapshotId, chunk, outcome.error.message)) {
      damage ??= outcome.error.message;
      outcome.checks.push(`chunk "${chunk}" is marked damaged: the next backup of ${job.sourceHost} stores it again`);
    }
  }
  outcome.durationMs = Date.now() - began;
  if (damage) ctx.ledger.markSnapshotDamaged(job.sourceHost, job.snapshotId, damage);
  ctx.ledger.recordVerification({
    host: job.sourceHost,
    snapshotId: job.snapshotId,
    level: STORED,
    result: outcome.status === "ok" ? "ok" : "failed",
    details: { on: "controller", checks: outcome.checks, ...(outcome.errors[0] ? { error: outcome.errors[0].message } : {}) },
    durationMs: outcome.durationMs,
    onHost: null,
  });
  reporter.hostDone(outcome);
  return outcome;
}
