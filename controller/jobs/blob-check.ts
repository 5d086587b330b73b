/** @module Reading through the blobs a backup uploaded, before any other snapshot may reference them. */
import { messageOf } from "../../core/errors";
import { DestinationBlobStore } from "../../core/storage/blob-store";
import { openDestination } from "../../core/storage/destinations/registry";
import { currentPlatform } from "../../platform/current";
import type { ControllerContext } from "../context";

/** What a check of a snapshot's new blobs found. */
export interface BlobCheck {
  checked: number;
  /** One line per blob that failed its check (now marked damaged in the ledger). */
  problems: string[];
  /** Why nothing was checked, when nothing could be. */
  skipped?: string;
}

/**
 * Reads each blob the snapshot's job uploaded, on the controller with its own
 * credentials: the stored object must have the hash and size the job reported,
 * open with the blob area's key, and hold content with the blob's digest. Only
 * then does the ledger count it for later backups; a blob that fails is marked
 * damaged (and never offered again), so a host cannot slip garbage into the
 * blob area under a digest other hosts will reference.
 */
export async function checkNewBlobs(ctx: ControllerContext, host: string, snapshotId: string, destinationName: string): Promise<BlobCheck> {
  const blobs = ctx.ledger.blobs.unchecked(host, snapshotId);
  if (blobs.length === 0) return { checked: 0, problems: [] };
  const spec = ctx.destinationSpec(destinationName);
  if (spec.type === "local") {
    // The host's own disk: nothing to protect from the host. Trusted as reported.
    for (const blob of blobs) ctx.ledger.blobs.checked(destinationName, blob.objectKey);
    return { checked: 0, problems: [], skipped: "the destination is a directory on the host, out of the controller's reach" };
  }
  const platform = currentPlatform();
  const destination = await openDestination(platform, spec);
  const problems: string[] = [];
  try {
    for (const blob of blobs) {
      try {
        const identity = (await ctx.hostKeys.byRecipient(blob.recipient ?? "")).identity;
        const store = new DestinationBlobStore(platform, destination, new Uint8Array(32), [], identity);
        for await (const _ of store.get({ digest: blob.digest, size: 0, key: blob.objectKey, stored: { sha256: blob.sha256!, size: blob.storedSize! } }));
        ctx.ledger.blobs.checked(destinationName, blob.objectKey);
      } catch (err) {
        const problem = `blob ${blob.digest.slice(0, 19)}... (${blob.objectKey}) failed its check: ${messageOf(err)}`;
        ctx.ledger.blobs.checked(destinationName, blob.objectKey, problem);
        problems.push(problem);
      }
    }
  } finally {
    await destination.close();
  }
  return { checked: blobs.length, problems };
}
