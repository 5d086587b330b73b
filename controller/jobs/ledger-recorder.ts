/** @module Turning a host's agent events into ledger rows, after checking what the agent claims. */
import * as crypto from "node:crypto";
import { LifeboatError } from "../../core/errors";
import type { AgentEvent } from "../../core/events";
import type { BlobRef } from "../../core/records";
import { artifactKey, blobAlternateKey, blobObjectKey, manifestKey } from "../../core/storage-layout";
import type { Ledger } from "../ledger/ledger";

/** Which job the events belong to. */
export interface JobIds {
  runId: string;
  jobId: string;
  host: string;
  snapshotId: string;
  kind: "backup" | "restore" | "verify" | "prune";
  /** The fleet's blob key (base64): blob names are checked against it. */
  blobKey?: string;
  /** For a backup: the destination's inventory name and the blob area recipient its new blobs are encrypted to. */
  destination?: string;
  blobRecipient?: string;
}

/**
 * Refuses an agent's report of where it stored something when the key is not
 * the one the storage layout prescribes: the ledger is the authority on what a
 * snapshot holds, and a restore takes its objects from it, so a compromised
 * agent must not be able to point the ledger at another host's objects or at
 * a blob it planted under another name.
 * @throws INTEGRITY naming the reported and the prescribed key; the job is then stopped and fails.
 */
function checkReportedKeys(ledger: Ledger, ids: JobIds, event: AgentEvent): void {
  const refuse = (what: string, reported: unknown, expected: string) =>
    new LifeboatError("INTEGRITY", `Refusing the report of the agent on "${ids.host}": ${what} is stored as "${String(reported)}", not as "${expected}" as the storage layout prescribes`, {
      hint: "the agent on that host does not behave as Lifeboat's agent does: check the host (controller install --host reinstalls the agent)",
    });
  if (event.type === "artifact") {
    const expected = artifactKey(ids.host, ids.snapshotId, event.instance, event.name);
    if (event.key !== expected) throw refuse(`artifact ${event.instance}/${event.name}`, event.key, expected);
    for (const blob of blobsOf(event.metadata)) {
      if (!ids.blobKey || !ids.destination) throw refuse(`blob ${String(blob.digest)}`, blob.key, "(no blob key)");
      const name = keyedName(ids.blobKey, blob.digest);
      if (blob.stored) {
        // Uploaded by this job: under its keyed name, or this snapshot's own when that was taken.
        const allowed = [blobObjectKey(name), blobAlternateKey(name, ids.snapshotId)];
        if (!allowed.includes(blob.key)) throw refuse(`blob ${String(blob.digest)}`, blob.key, allowed.join(`" or "`));
        if (typeof blob.stored.sha256 !== "string" || !/^[0-9a-f]{64}$/.test(blob.stored.sha256) || !Number.isSafeInteger(blob.stored.size)) {
          throw refuse(`blob ${String(blob.digest)}`, blob.key, "(with its stored hash and size)");
        }
      } else {
        // Referenced without upload: only a blob the ledger knows under that name.
        const known = ledger.blobs.get(ids.destination, blob.key);
        if (!known || known.name !== name || known.damage) throw refuse(`blob ${String(blob.digest)} (not uploaded by this job)`, blob.key, "a blob the ledger knows");
      }
    }
  } else if (event.type === "done" && event.manifestKey !== undefined) {
    const expected = manifestKey(ids.host, ids.snapshotId);
    if (event.manifestKey !== expected) throw refuse("the manifest", event.manifestKey, expected);
  }
}

/** A blob's keyed name: HMAC-SHA-256 of its digest under the fleet's blob naming key (base64). */
export function keyedName(blobKey: string, digest: unknown): string {
  return crypto.createHmac("sha256", Buffer.from(blobKey, "base64")).update(String(digest)).digest("hex");
}

/** The blob references in an artifact's metadata. */
function blobsOf(metadata: Record<string, unknown> | undefined): BlobRef[] {
  return (Array.isArray(metadata?.blobs) ? metadata.blobs : []) as BlobRef[];
}

/**
 * Records one event: hosts seen, artifacts stored, errors, warnings, the completed snapshot.
 * @throws INTEGRITY for a backup's artifact or manifest reported under a key the storage layout does not prescribe (nothing recorded).
 */
export function recordAgentEvent(ledger: Ledger, ids: JobIds, event: AgentEvent): void {
  if (ids.kind === "backup") checkReportedKeys(ledger, ids, event);
  switch (event.type) {
    case "start":
      ledger.touchHost(ids.host, event.agentVersion, event.runtime);
      break;
    case "artifact":
      if (ids.kind === "backup") {
        const { type: _type, ...record } = event;
        ledger.recordArtifact(ids.host, ids.snapshotId, record);
        for (const blob of blobsOf(event.metadata)) {
          if (!blob.stored) continue;
          ledger.blobs.record({ destination: ids.destination!, objectKey: blob.key, name: keyedName(ids.blobKey!, blob.digest), digest: blob.digest, sha256: blob.stored.sha256, storedSize: blob.stored.size, recipient: ids.blobRecipient ?? "", host: ids.host, snapshotId: ids.snapshotId });
        }
      }
      break;
    case "error":
      ledger.recordError({ runId: ids.runId, jobId: ids.jobId, host: ids.host, plugin: event.plugin, code: event.code, message: event.message, hint: event.hint });
      break;
    case "hook":
      ledger.recordHook({ runId: ids.runId, jobId: ids.jobId, host: ids.host, plugin: event.plugin, phase: event.phase, command: event.command, code: event.code, output: event.output });
      break;
    case "warning":
      ledger.recordWarning({ runId: ids.runId, jobId: ids.jobId, host: ids.host, plugin: event.plugin, message: event.message });
      break;
    case "done":
      if (ids.kind === "backup" && event.status === "ok" && event.manifestKey && event.manifestSha256) {
        ledger.completeSnapshot(ids.host, ids.snapshotId, { manifestKey: event.manifestKey, manifestSha256: event.manifestSha256, manifestSize: event.manifestStoredSize ?? 0 });
      }
      break;
    default:
      break;
  }
}
