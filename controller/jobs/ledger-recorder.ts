/** @module Turning a host's agent events into ledger rows, after checking what the agent claims. */
import * as crypto from "node:crypto";
import { LifeboatError } from "../../core/errors";
import type { AgentEvent, ChunksEvent, ChunkUpload } from "../../core/events";
import type { ArtifactRecord, BlobRef, ChunkStats } from "../../core/records";
import { artifactKey, blobAlternateKey, blobObjectKey, chunkAlternateKey, chunkObjectKey, manifestKey } from "../../core/storage-layout";
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
  /**
   * For a backup: the recipient of the host key its snapshot is encrypted to.
   * Its chunks are recorded as encrypted to it, and it may reference only
   * chunks that are; without it, no chunk is accepted.
   */
  hostRecipient?: string;
}

const HEX64 = /^[0-9a-f]{64}$/;
const isSize = (n: unknown): n is number => Number.isSafeInteger(n) && (n as number) >= 0;

/** Refuses an agent's report: the job is then stopped and fails, and nothing of the event is recorded. */
function refusal(ids: JobIds, problem: string): LifeboatError {
  return new LifeboatError("INTEGRITY", `Refusing the report of the agent on "${ids.host}": ${problem}`, {
    hint: "the agent on that host does not behave as Lifeboat's agent does: check the host (controller install --host reinstalls the agent)",
  });
}

/**
 * Refuses an agent's report of where it stored something when the key is not
 * the one the storage layout prescribes: the ledger is the authority on what a
 * snapshot holds, and a restore takes its objects from it, so a compromised
 * agent must not be able to point the ledger at another host's objects or at
 * a blob it planted under another name. Malformed chunk reports (names, sizes,
 * hashes, counts) are refused here too.
 * @throws INTEGRITY naming the reported and the prescribed key (or what is malformed); the job is then stopped and fails.
 */
function checkReportedKeys(ledger: Ledger, ids: JobIds, event: AgentEvent): void {
  const refuse = (what: string, reported: unknown, expected: string) => refusal(ids, `${what} is stored as "${String(reported)}", not as "${expected}" as the storage layout prescribes`);
  if (event.type === "artifact") {
    const expected = artifactKey(ids.host, ids.snapshotId, event.instance, event.name);
    if (event.key !== expected) throw refuse(`artifact ${event.instance}/${event.name}`, event.key, expected);
    if (event.compression === "chunked" && event.chunks !== undefined && !isChunkStats(event.chunks)) {
      throw refusal(ids, `the chunk counts of artifact ${event.instance}/${event.name} are not four whole numbers (count, uploaded, uploadedBytes, reusedBytes): ${JSON.stringify(event.chunks)}`);
    }
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
  } else if (event.type === "chunks") {
    checkChunkUploads(ids, event, refuse);
  } else if (event.type === "done" && event.manifestKey !== undefined) {
    const expected = manifestKey(ids.host, ids.snapshotId);
    if (event.manifestKey !== expected) throw refuse("the manifest", event.manifestKey, expected);
  }
}

/**
 * Refuses a `chunks` event whose uploads are not where the storage layout puts
 * chunks of this host (`chunkObjectKey(host, name)`, or the snapshot's own `chunkAlternateKey`), whose names are not
 * keyed names, or whose sizes and stored hashes are malformed; and one of a job
 * that was given no chunking. Its references are checked as they are recorded.
 */
function checkChunkUploads(ids: JobIds, event: ChunksEvent, refuse: (what: string, reported: unknown, expected: string) => LifeboatError): void {
  const what = `chunks of ${String(event.plugin)}/${String(event.artifact)}`;
  if (!ids.destination || !ids.hostRecipient) throw refusal(ids, `it reports ${what}, but the job stores no chunks`);
  if (typeof event.plugin !== "string" || event.plugin === "" || !Array.isArray(event.uploaded) || !Array.isArray(event.refs)) {
    throw refusal(ids, `its report of ${what} is not a plugin instance with lists of uploaded chunks and references`);
  }
  for (const chunk of event.uploaded as unknown[]) {
    const c = (chunk ?? {}) as Partial<ChunkUpload>;
    if (typeof c.name !== "string" || !HEX64.test(c.name)) throw refusal(ids, `a chunk of ${what} is named ${JSON.stringify(c.name)}, not by 64 lowercase hex digits`);
    // Under its keyed name, or this snapshot's own when that was taken.
    const allowed = [chunkObjectKey(ids.host, c.name), chunkAlternateKey(ids.host, c.name, ids.snapshotId)];
    if (!allowed.includes(String(c.key))) throw refuse(`chunk ${c.name}`, c.key, allowed.join(`" or "`));
    if (!isSize(c.size) || typeof c.stored?.sha256 !== "string" || !HEX64.test(c.stored.sha256) || !isSize(c.stored.size)) {
      throw refusal(ids, `chunk ${c.name} of ${what} has a malformed size or stored hash and size: ${JSON.stringify({ size: c.size, stored: c.stored })}`);
    }
  }
  for (const name of event.refs as unknown[]) {
    if (typeof name !== "string" || !HEX64.test(name)) throw refusal(ids, `${what} reference a chunk named ${JSON.stringify(name)}, not by 64 lowercase hex digits`);
  }
}

/** Whether `value` is a chunked artifact's counts: four whole numbers. */
function isChunkStats(value: unknown): value is ChunkStats {
  const s = value as Partial<ChunkStats> | null;
  return typeof s === "object" && s !== null && isSize(s.count) && isSize(s.uploaded) && isSize(s.uploadedBytes) && isSize(s.reusedBytes);
}

/**
 * Records a `chunks` event: the chunks the job uploaded, and the references as
 * a batch of the snapshot's chunk set.
 * @throws INTEGRITY when a reference names a chunk that is neither uploaded by
 * this job nor one the ledger has of this host and destination, undamaged and
 * encrypted to the snapshot's host key (nothing recorded)
 */
function recordChunks(ledger: Ledger, ids: JobIds, event: ChunksEvent): void {
  const { refused } = ledger.chunks.recordBatch({
    destination: ids.destination!,
    host: ids.host,
    snapshotId: ids.snapshotId,
    instance: event.plugin,
    recipient: ids.hostRecipient!,
    uploaded: event.uploaded,
    refs: event.refs,
  });
  if (refused.length > 0) {
    throw refusal(
      ids,
      `the chunks of ${event.plugin}/${event.artifact} reference ${refused.length} chunk(s) (${refused.slice(0, 3).join(", ")}${refused.length > 3 ? ", ..." : ""}) that it did not upload and that are not chunks of "${ids.host}" the ledger trusts (undamaged, encrypted to its key, on this destination)`,
    );
  }
}

/** What the ledger records of an artifact event: the chunk counts only of a chunked artifact. */
function artifactRecord(event: Extract<AgentEvent, { type: "artifact" }>): ArtifactRecord {
  const { type: _type, chunks, ...record } = event;
  return event.compression === "chunked" && chunks !== undefined ? { ...record, chunks: { count: chunks.count, uploaded: chunks.uploaded, uploadedBytes: chunks.uploadedBytes, reusedBytes: chunks.reusedBytes } } : record;
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
 * Records one event: hosts seen, artifacts stored, chunks uploaded and referenced, errors, warnings, the completed snapshot.
 * @throws INTEGRITY for a backup's artifact, chunk or manifest reported under a key the storage layout does not prescribe,
 * malformed, or a chunk reference the ledger does not allow (nothing of the event recorded).
 */
export function recordAgentEvent(ledger: Ledger, ids: JobIds, event: AgentEvent): void {
  if (ids.kind === "backup") checkReportedKeys(ledger, ids, event);
  switch (event.type) {
    case "start":
      ledger.touchHost(ids.host, event.agentVersion, event.runtime);
      break;
    case "chunks":
      if (ids.kind === "backup") recordChunks(ledger, ids, event);
      break;
    case "artifact":
      if (ids.kind === "backup") {
        ledger.recordArtifact(ids.host, ids.snapshotId, artifactRecord(event));
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
    case "plugin-done":
      if (ids.kind === "backup") ledger.recordInstanceRun({ jobId: ids.jobId, host: ids.host, instance: event.plugin, status: event.status, durationMs: event.durationMs });
      break;
    case "warning":
      ledger.recordWarning({ runId: ids.runId, jobId: ids.jobId, host: ids.host, plugin: event.plugin, message: event.message });
      break;
    case "done":
      if (ids.kind === "backup" && event.status === "ok" && event.manifestKey && event.manifestSha256) {
        ledger.completeSnapshot(ids.host, ids.snapshotId, { manifestKey: event.manifestKey, manifestSha256: event.manifestSha256, manifestSize: event.manifestStoredSize ?? 0 });
        ledger.chunks.compactSnapshot(ids.host, ids.snapshotId);
      }
      break;
    default:
      break;
  }
}
