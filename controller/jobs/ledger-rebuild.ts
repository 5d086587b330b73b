/**
 * @module Rebuilding the ledger from storage: a lost controller disk costs the
 * history of runs and events, not a backup. Every manifest in a destination is
 * read with the controller's credentials, opened with the keys the controller
 * has (its host keys, the master identity, or an escrow identity given), checked
 * against the storage layout and the objects beside it, and recorded. A chunked
 * artifact's index is read too (with the identity that opened the manifest,
 * checked against the manifest's hash of it): its chunks, all in the host's own
 * chunk area, are recorded with the snapshot's set of them.
 */
import * as crypto from "node:crypto";
import { LifeboatError, messageOf, redact } from "../../core/errors";
import type { ArtifactRecord, BlobRef, ChunkRef, Manifest } from "../../core/records";
import { readChunkIndex } from "../../core/storage/chunked-artifact";
import type { Destination } from "../../core/storage/destination";
import { describeDestination, openDestination } from "../../core/storage/destinations/registry";
import { openManifest } from "../../core/storage/snapshot-check";
import { artifactKey, blobAlternateKey, blobObjectKey } from "../../core/storage-layout";
import { currentPlatform } from "../../platform/current";
import { keyedName } from "./ledger-recorder";
import { openForReading } from "./read-storage";
import type { ControllerContext } from "../context";

/** What a rebuild found in one destination. */
export interface RebuildReport {
  destination: string;
  /** For a local destination: the host whose directory was read. */
  host?: string;
  /** Manifests found. */
  manifests: number;
  /** Snapshots recorded by this rebuild. */
  added: number;
  /** Snapshots the ledger had already. */
  known: number;
  /** Manifests that could not be opened or did not check out, with why. */
  failed: { key: string; reason: string }[];
  /** Snapshot folders without a manifest (jobs that did not finish): debris for `prune`. */
  incomplete: number;
}

/** An identity to open manifests with, and the recipient it stands for in the ledger (null: master or escrow). */
interface Opener {
  identity: string;
  recipient: string | null;
  /** For host keys: the host whose snapshots it opens. */
  host?: string;
}

const MANIFEST = /^([^/]+)\/([^/]+)\/manifest\.json\.age$/;
const MAX_MANIFEST_BYTES = 64 * 1024 * 1024;
/** How far a manifest's times may stray from its id's and from now: a spec lives 10 minutes, clocks drift. */
const CLOCK_SKEW_MS = 60 * 60_000;
const BLOB_KEY = /^blobs\/(v2\/)?[0-9a-f]{64}(\.[A-Za-z0-9-]+)?\.age$/;

/**
 * Rebuilds the ledger from the manifests in `destinations` (inventory names;
 * default: every destination the controller can reach). `identity`: open
 * manifests with this identity only (an offline escrow identity, when the
 * controller's keys are gone); else with the host keys and the master identity.
 * Snapshots the ledger has already are left as they are.
 */
export async function rebuildLedger(ctx: ControllerContext, destinations: string[] | undefined, identity: string | undefined, log: (line: string) => void): Promise<RebuildReport[]> {
  const names = destinations ?? [...ctx.inventory.destinations.keys()];
  if (names.length === 0) throw new LifeboatError("CONFIG", "Cannot rebuild the ledger: the inventory has no destinations", { hint: "add the destinations your backups went to under destinations:" });
  const openers = await openersFor(ctx, identity);
  const reports: RebuildReport[] = [];
  for (const name of names) {
    const spec = ctx.destinationSpec(name);
    if (spec.type !== "local") {
      const destination = await openDestination(currentPlatform(), spec);
      try {
        reports.push(await rebuildFrom(ctx, name, describeDestination(spec), destination, "", openers, log));
      } finally {
        await destination.close();
      }
      continue;
    }
    // A directory on each host that uses it: read over that host's SSH login, its own folder only.
    for (const host of [...ctx.inventory.hosts.values()].filter((h) => h.destination === name)) {
      let destination;
      try {
        destination = await openForReading(ctx, name, host);
      } catch (err) {
        const reason = redact(messageOf(err), ctx.secrets);
        reports.push({ destination: name, host: host.name, manifests: 0, added: 0, known: 0, failed: [{ key: `${host.name}/`, reason }], incomplete: 0 });
        log(`${name} on ${host.name}: not read: ${reason}`);
        continue;
      }
      try {
        reports.push({ ...(await rebuildFrom(ctx, name, describeDestination(spec), destination, `${host.name}/`, openers, log)), host: host.name });
      } finally {
        await destination.close();
      }
    }
  }
  return reports;
}

async function openersFor(ctx: ControllerContext, identity: string | undefined): Promise<Opener[]> {
  if (identity !== undefined) return [{ identity, recipient: null }];
  const hostKeys = (await ctx.hostKeys.list()).map((k) => ({ identity: k.identity, recipient: k.recipient, host: k.name }));
  return [...hostKeys, { identity: ctx.keys.ageIdentity, recipient: null }];
}

async function rebuildFrom(ctx: ControllerContext, name: string, description: string, destination: Destination, prefix: string, openers: Opener[], log: (line: string) => void): Promise<RebuildReport> {
  const report: RebuildReport = { destination: name, manifests: 0, added: 0, known: 0, failed: [], incomplete: 0 };
  const sizes = new Map<string, number>();
  for await (const o of destination.list(prefix)) sizes.set(o.key, o.size);
  // Snapshot folders: not the blob area, nor a host's chunk area.
  const folders = new Set([...sizes.keys()].map((k) => k.split("/").slice(0, 2).join("/")).filter((f) => f.includes("/") && !f.startsWith("blobs/") && !f.endsWith("/chunks")));
  for (const folder of folders) {
    const key = `${folder}/manifest.json.age`;
    if (!sizes.has(key)) {
      report.incomplete++;
      continue;
    }
    const [, host, snapshotId] = MANIFEST.exec(key)!;
    report.manifests++;
    if (ctx.ledger.hasSnapshot(host!, snapshotId!)) {
      report.known++;
      continue;
    }
    try {
      const stored = await readAll(destination, key);
      const { manifest, opener } = await openWithAny(stored, key, openers, host!);
      checkFound(manifest, host!, snapshotId!, sizes);
      const chunks = await foundChunks(destination, manifest.artifacts, opener.identity, sizes);
      const added = ctx.ledger.recordFoundSnapshot({
        host: host!,
        snapshotId: snapshotId!,
        startedAt: manifest.startedAt,
        finishedAt: manifest.finishedAt,
        destination: name,
        destinationDescription: description,
        manifest: { key, sha256: crypto.createHash("sha256").update(stored).digest("hex"), size: stored.length },
        recipient: opener.recipient,
        artifacts: manifest.artifacts,
        chunks,
      });
      if (added) {
        report.added++;
        recordBlobs(ctx, name, host!, snapshotId!, manifest);
        const [firstDamaged] = chunks.damaged;
        if (firstDamaged) ctx.ledger.markSnapshotDamaged(host!, snapshotId!, `${chunks.damaged.size} of its chunks are not in storage as its indexes record them, e.g. "${firstDamaged[0]}": ${firstDamaged[1]}`);
        log(`${host}/${snapshotId}: recorded (${manifest.artifacts.length} artifacts${countChunks(chunks.instances)}${chunks.damaged.size ? `; DAMAGED: ${chunks.damaged.size} chunk(s) missing or altered` : ""})`);
      } else report.known++;
    } catch (err) {
      const reason = redact(messageOf(err), ctx.secrets);
      report.failed.push({ key, reason });
      log(`${key}: not recorded: ${reason}`);
    }
  }
  return report;
}

/**
 * The chunks of the chunked ones of `artifacts`, per plugin instance: each
 * index read with `identity` and checked against the manifest's record of it
 * (stored hash and size, every chunk in the host's chunk area, sizes adding
 * up); chunk objects missing from `sizes` (the listing) or of another size are `damaged`.
 * @throws INTEGRITY naming the artifact whose index does not check out (the snapshot is not recorded)
 */
async function foundChunks(destination: Destination, artifacts: ArtifactRecord[], identity: string, sizes: Map<string, number>): Promise<{ instances: Map<string, ChunkRef[]>; damaged: Map<string, string> }> {
  const instances = new Map<string, ChunkRef[]>();
  const damaged = new Map<string, string>();
  for (const artifact of artifacts.filter((a) => a.compression === "chunked")) {
    const index = await readChunkIndex(currentPlatform(), (key) => destination.get(key), identity, artifact);
    const listed = instances.get(artifact.instance) ?? [];
    instances.set(artifact.instance, listed);
    for (const ref of index.chunks) {
      listed.push(ref);
      const size = sizes.get(ref.key);
      if (size === undefined) damaged.set(ref.key, "missing from storage when the ledger was rebuilt");
      else if (size !== ref.stored.size) damaged.set(ref.key, `${size} bytes in storage when the ledger was rebuilt, its index records ${ref.stored.size}`);
    }
  }
  return { instances, damaged };
}

/** `, 42 chunks` (none: ""). */
function countChunks(instances: Map<string, ChunkRef[]>): string {
  const n = [...instances.values()].reduce((sum, refs) => sum + refs.length, 0);
  return n === 0 ? "" : `, ${n} chunks`;
}

async function readAll(destination: Destination, key: string): Promise<Buffer> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const chunk of destination.get(key)) {
    size += chunk.length;
    if (size > MAX_MANIFEST_BYTES) throw new LifeboatError("INTEGRITY", `"${key}" is larger than any manifest (${MAX_MANIFEST_BYTES} bytes)`);
    parts.push(Buffer.from(chunk));
  }
  return Buffer.concat(parts);
}

/** Opens a manifest with the host's own keys first (so the ledger learns its recipient), then the others. */
async function openWithAny(stored: Buffer, key: string, openers: Opener[], host: string): Promise<{ manifest: Manifest; opener: Opener }> {
  const ordered = [...openers.filter((o) => o.host === host), ...openers.filter((o) => o.host === undefined)];
  for (const opener of ordered) {
    try {
      return { manifest: await openManifest(currentPlatform(), opener.identity, stored, key), opener };
    } catch (err) {
      if (messageOf(err).includes("not a Lifeboat manifest")) throw err;
    }
  }
  throw new LifeboatError("KEYS", "no key of this controller opens it", { hint: "pass --identity FILE with the master or an escrow identity it was encrypted to" });
}

/**
 * The manifest must describe the snapshot its folder holds, at a time its id
 * agrees with and not in the future (a planted "newest" snapshot would become
 * what restores, verifications and retention take as the latest), its objects
 * must be there with their recorded sizes, and it may reference blobs only in the blob area.
 */
function checkFound(manifest: Manifest, host: string, snapshotId: string, sizes: Map<string, number>): void {
  if (manifest.host !== host || manifest.snapshotId !== snapshotId) {
    throw new LifeboatError("INTEGRITY", `it describes "${manifest.host}"/"${manifest.snapshotId}", not the folder it is stored in`);
  }
  const started = Date.parse(String(manifest.startedAt));
  const finished = Date.parse(String(manifest.finishedAt));
  const idTime = Date.parse(snapshotId.replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z-.*$/, "$1-$2-$3T$4:$5:$6Z"));
  if (Number.isNaN(started) || Number.isNaN(finished) || Number.isNaN(idTime) || finished < started) {
    throw new LifeboatError("INTEGRITY", `its times are not a snapshot's (id ${snapshotId}, started ${String(manifest.startedAt)}, finished ${String(manifest.finishedAt)})`);
  }
  if (finished > Date.now() + CLOCK_SKEW_MS) throw new LifeboatError("INTEGRITY", `it says it finished in the future (${String(manifest.finishedAt)})`);
  if (Math.abs(started - idTime) > CLOCK_SKEW_MS) throw new LifeboatError("INTEGRITY", `it says it started at ${String(manifest.startedAt)}, but its id was made at ${new Date(idTime).toISOString()}`);
  for (const a of manifest.artifacts) {
    for (const ref of (Array.isArray(a.metadata?.blobs) ? a.metadata.blobs : []) as BlobRef[]) {
      if (typeof ref.key !== "string" || !BLOB_KEY.test(ref.key)) throw new LifeboatError("INTEGRITY", `it references a blob outside the blob area ("${String(ref.key).slice(0, 120)}")`);
    }
  }
  for (const a of manifest.artifacts) {
    const expected = artifactKey(host, snapshotId, a.instance, a.name);
    if (a.key !== expected) throw new LifeboatError("INTEGRITY", `it lists artifact ${a.instance}/${a.name} under "${a.key}", not "${expected}"`);
    const size = sizes.get(a.key);
    if (size === undefined) throw new LifeboatError("INTEGRITY", `its artifact "${a.key}" is missing from storage`);
    if (size !== a.storedSize) throw new LifeboatError("INTEGRITY", `its artifact "${a.key}" has ${size} bytes in storage, the manifest says ${a.storedSize}`);
  }
}

/** Blobs the snapshot uploaded (with their stored hashes) are recorded unchecked: a later backup uploads them again until the controller has read them through. */
function recordBlobs(ctx: ControllerContext, destination: string, host: string, snapshotId: string, manifest: Manifest): void {
  for (const a of manifest.artifacts) {
    for (const ref of (Array.isArray(a.metadata?.blobs) ? a.metadata.blobs : []) as BlobRef[]) {
      if (!ref.stored) continue;
      const name = keyedName(ctx.keys.blobKey, ref.digest);
      if (ref.key !== blobObjectKey(name) && ref.key !== blobAlternateKey(name, snapshotId)) continue;
      // Insert-only: a blob the ledger has under that key keeps its record.
      ctx.ledger.blobs.record({ destination, objectKey: ref.key, name, digest: ref.digest, sha256: ref.stored.sha256, storedSize: ref.stored.size, recipient: "", host, snapshotId });
    }
  }
}
