// The ledger's chunk areas on a real SQLite file: recording a backup's batches (and refusing what a
// backup may not reference), a snapshot's chunk set per instance, parents and damaged chunks for
// the next backup, and what garbage collection reads.
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { ChunkUpload } from "../../core/events";
import { chunkObjectKey } from "../../core/storage-layout";
import type { ChunkBatch } from "./chunk-ledger";
import { encodeIdSet } from "./id-set";
import { Ledger } from "./ledger";
import { MIGRATIONS } from "./migrations";

const name = (label: string) => crypto.createHash("sha256").update(label).digest("hex");
const upload = (host: string, label: string): ChunkUpload => ({ name: name(label), key: chunkObjectKey(host, name(label)), size: 1 << 20, stored: { sha256: name(`stored ${label}`), size: (1 << 20) + 200 } });

describe("the chunk ledger", () => {
  let dir: string;
  let file: string;
  let ledger: Ledger;
  let made = 0;

  /** A snapshot of `host` as a backup starts it (recipient: its host key). */
  const start = (host: string, s: { destination?: string; recipient?: string; rehash?: boolean } = {}) => {
    const snapshotId = `20261201T${String(++made).padStart(6, "0")}Z-0000`;
    const runId = ledger.startRun({ kind: "backup", trigger: "test", hosts: [host] });
    ledger.startJob({ runId, jobId: `job-${made}`, host, kind: "backup", snapshotId });
    ledger.startSnapshot({ host, snapshotId, jobId: `job-${made}`, destination: s.destination ?? "s3", destinationDescription: "test", recipient: s.recipient ?? `age1${host}`, rehash: s.rehash ?? false });
    return snapshotId;
  };
  const complete = (host: string, snapshotId: string, chunkedInstances: string[] = ["files"]) => {
    for (const instance of chunkedInstances) {
      ledger.recordArtifact(host, snapshotId, { plugin: "files", instance, name: `${instance}.tar`, key: `${host}/${snapshotId}/${instance}/${instance}.tar.age`, plainSize: 10, storedSize: 5, sha256: "ab".repeat(32), compression: "chunked", metadata: {}, chunks: { count: 1, uploaded: 1, uploadedBytes: 10, reusedBytes: 0 } });
    }
    ledger.completeSnapshot(host, snapshotId, { manifestKey: `${host}/${snapshotId}/manifest.json.age`, manifestSha256: "cd".repeat(32), manifestSize: 1 });
    ledger.chunks.compactSnapshot(host, snapshotId);
  };
  const batch = (host: string, snapshotId: string, b: Partial<ChunkBatch>): ChunkBatch => ({ destination: "s3", host, snapshotId, instance: "files", recipient: `age1${host}`, uploaded: [], refs: [], ...b });
  const rows = (sql: string, ...params: unknown[]) => {
    const db = new Database(file, { readonly: true });
    try {
      return db.prepare(sql).all(...params) as Record<string, unknown>[];
    } finally {
      db.close();
    }
  };

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "lifeboat-chunks-"));
    file = path.join(dir, "ledger.db");
    ledger = Ledger.open(file);
  });
  afterEach(() => {
    ledger.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("records a batch: the chunks uploaded, and the references as a set of ids of the snapshot's instance", () => {
    const s = start("alpha");
    const [a, b] = [upload("alpha", "a"), upload("alpha", "b")];
    expect(ledger.chunks.recordBatch(batch("alpha", s, { uploaded: [a, b], refs: [a.name, b.name, a.name] }))).toEqual({ refused: [] });
    expect(ledger.chunks.get("s3", a.key)).toMatchObject({ host: "alpha", name: a.name, size: a.size, sha256: a.stored.sha256, storedSize: a.stored.size, recipient: "age1alpha", snapshotId: s, damage: null });
    // A later batch may reference what an earlier one uploaded.
    expect(ledger.chunks.recordBatch(batch("alpha", s, { instance: "db", refs: [b.name] }))).toEqual({ refused: [] });
    const idOf = (u: ChunkUpload) => ledger.chunks.get("s3", u.key)!.id;
    expect(ledger.chunks.snapshotChunkIds("alpha", s)).toEqual([idOf(a), idOf(b)].sort((x, y) => x - y));
    expect(ledger.chunks.snapshotChunkIds("alpha", s, ["db"])).toEqual([idOf(b)]);
    expect(ledger.chunks.snapshotChunkKeys("alpha", s, ["files"]).sort()).toEqual([a.key, b.key].sort());
    expect(rows("SELECT seq, instance, count FROM snapshot_chunks ORDER BY seq")).toEqual([
      { seq: 0, instance: "files", count: 2 },
      { seq: 1, instance: "db", count: 1 },
    ]);
  });

  it("refuses, recording nothing, a reference to a chunk of another host, destination or key, a damaged one, or one it does not know", () => {
    const mine = start("alpha");
    const theirs = start("beta");
    const [own, damaged, foreign, elsewhere, retired] = [upload("alpha", "own"), upload("alpha", "damaged"), upload("beta", "foreign"), upload("alpha", "elsewhere"), upload("alpha", "retired")];
    ledger.chunks.recordBatch(batch("alpha", mine, { uploaded: [own, damaged], refs: [own.name, damaged.name] }));
    ledger.chunks.recordBatch(batch("beta", theirs, { uploaded: [foreign], refs: [foreign.name] }));
    ledger.chunks.recordBatch(batch("alpha", start("alpha", { destination: "usb" }), { destination: "usb", uploaded: [elsewhere], refs: [elsewhere.name] }));
    ledger.chunks.recordBatch(batch("alpha", start("alpha", { recipient: "age1retired" }), { recipient: "age1retired", uploaded: [retired], refs: [retired.name] }));
    expect(ledger.chunks.markDamaged("s3", damaged.key, "missing")).toBe(true);

    expect([...ledger.chunks.usableIds("s3", "alpha", "age1alpha", [own.name, damaged.name, foreign.name, elsewhere.name, retired.name]).keys()]).toEqual([own.name]);
    const s = start("alpha");
    const fresh = upload("alpha", "fresh");
    for (const bad of [damaged, foreign, elsewhere, retired, upload("alpha", "never uploaded")]) {
      expect(ledger.chunks.recordBatch(batch("alpha", s, { uploaded: [fresh], refs: [own.name, fresh.name, bad.name] }))).toEqual({ refused: [bad.name] });
    }
    expect(ledger.chunks.get("s3", fresh.key)).toBeUndefined();
    expect(ledger.chunks.snapshotChunkIds("alpha", s)).toEqual([]);
    expect(ledger.chunks.recordBatch(batch("alpha", s, { uploaded: [fresh], refs: [own.name, fresh.name] }))).toEqual({ refused: [] });
  });

  it("a chunk uploaded again replaces its stored hash, size, recipient and uploader, and is no longer damaged", () => {
    const first = start("alpha");
    const c = upload("alpha", "c");
    ledger.chunks.recordBatch(batch("alpha", first, { uploaded: [c], refs: [c.name] }));
    const id = ledger.chunks.get("s3", c.key)!.id;
    ledger.chunks.markDamaged("s3", c.key, "altered: stored hash differs");
    expect(ledger.chunks.damagedNames("s3", "alpha", "age1alpha")).toEqual([c.name]);
    expect(ledger.chunks.damagedNames("s3", "alpha", "age1other")).toEqual([]);
    expect(ledger.chunks.markDamaged("s3", "alpha/chunks/00/none.age", "x")).toBe(false);

    const second = start("alpha");
    const again = { ...c, stored: { sha256: name("new stored"), size: 5 } };
    ledger.chunks.recordBatch(batch("alpha", second, { uploaded: [again], refs: [c.name] }));
    expect(ledger.chunks.get("s3", c.key)).toMatchObject({ id, sha256: again.stored.sha256, storedSize: 5, snapshotId: second, damage: null });
    expect(ledger.chunks.damagedNames("s3", "alpha", "age1alpha")).toEqual([]);
  });

  it("merges a completed snapshot's batches into one set per instance", () => {
    const s = start("alpha");
    const chunks = Array.from({ length: 30 }, (_, i) => upload("alpha", `c${i}`));
    for (let i = 0; i < 30; i += 5) ledger.chunks.recordBatch(batch("alpha", s, { instance: i < 15 ? "files" : "db", uploaded: chunks.slice(i, i + 5), refs: chunks.slice(i, i + 5).map((c) => c.name).concat(chunks[0]!.name) }));
    const before = ledger.chunks.snapshotChunkIds("alpha", s);
    complete("alpha", s);
    expect(rows("SELECT seq, instance, count FROM snapshot_chunks ORDER BY seq")).toEqual([
      { seq: 0, instance: "db", count: 16 },
      { seq: 1, instance: "files", count: 15 },
    ]);
    expect(ledger.chunks.snapshotChunkIds("alpha", s)).toEqual(before);
    complete("alpha", s);
    expect(rows("SELECT count(*) AS n FROM snapshot_chunks")).toEqual([{ n: 2 }]);
  });

  it("refuses to name the keys of a snapshot that references chunks the ledger no longer has", () => {
    const s = start("alpha");
    const [a, b] = [upload("alpha", "a"), upload("alpha", "b")];
    ledger.chunks.recordBatch(batch("alpha", s, { uploaded: [a, b], refs: [a.name, b.name] }));
    ledger.chunks.forget([ledger.chunks.get("s3", b.key)!.id]);
    expect(() => ledger.chunks.snapshotChunkKeys("alpha", s)).toThrow(expect.objectContaining({ code: "INTEGRITY", message: expect.stringContaining("references 1 chunk(s) the ledger no longer has") }));
  });

  it("names as parent of each instance the newest complete, undamaged snapshot of the host on the destination, encrypted to the key, with a chunked artifact of it", () => {
    const old = start("alpha");
    complete("alpha", old, ["files", "db"]);
    const newer = start("alpha");
    complete("alpha", newer, ["files"]);
    start("alpha"); // incomplete (running)
    const failed = start("alpha");
    ledger.failSnapshot("alpha", failed);
    const damaged = start("alpha");
    complete("alpha", damaged, ["files", "db"]);
    ledger.markSnapshotDamaged("alpha", damaged, "manifest missing");
    const deleting = start("alpha");
    complete("alpha", deleting, ["files", "db"]);
    ledger.retention.markDeleting("alpha", deleting, "keepLast", "run-x");
    complete("alpha", start("alpha", { destination: "usb" }), ["files", "db"]);
    complete("alpha", start("alpha", { recipient: "age1retired" }), ["files", "db"]);
    complete("beta", start("beta"), ["files", "db"]);
    const single = start("alpha");
    ledger.recordArtifact("alpha", single, { plugin: "sqlite", instance: "db", name: "db.sqlite", key: `alpha/${single}/db/db.sqlite.age`, plainSize: 1, storedSize: 1, sha256: "ab".repeat(32), compression: "zstd", metadata: {} });
    ledger.completeSnapshot("alpha", single, { manifestKey: `alpha/${single}/manifest.json.age`, manifestSha256: "cd".repeat(32), manifestSize: 1 });

    expect(ledger.chunks.parents("alpha", "s3", "age1alpha", ["files", "db", "redis"])).toEqual({ files: newer, db: old });
    expect(ledger.chunks.parents("alpha", "s3", "age1new", ["files"])).toEqual({});
  });

  it("knows when the host's newest complete snapshot made with rehash started", () => {
    expect(ledger.chunks.lastRehash("alpha")).toBeUndefined();
    const first = start("alpha", { rehash: true });
    expect(ledger.chunks.lastRehash("alpha")).toBeUndefined();
    complete("alpha", first);
    complete("alpha", start("alpha"));
    const failed = start("alpha", { rehash: true });
    ledger.failSnapshot("alpha", failed);
    const started = ledger.listSnapshots({ host: "alpha" }).find((s) => s.id === first)!.startedAt;
    expect(ledger.chunks.lastRehash("alpha")).toEqual(new Date(started));
    expect(ledger.listSnapshots({ host: "alpha" }).map((s) => s.rehash)).toEqual([true, false, true]);
  });

  it("for garbage collection: marks the chunks of the surviving snapshots and lists the others; a deleted snapshot's sets go with it", () => {
    const chunks = Array.from({ length: 10 }, (_, i) => upload("alpha", `c${i}`));
    const s1 = start("alpha");
    ledger.chunks.recordBatch(batch("alpha", s1, { uploaded: chunks.slice(0, 6), refs: chunks.slice(0, 6).map((c) => c.name) }));
    complete("alpha", s1);
    const s2 = start("alpha");
    ledger.chunks.recordBatch(batch("alpha", s2, { uploaded: chunks.slice(6, 8), refs: [...chunks.slice(3, 8)].map((c) => c.name) }));
    complete("alpha", s2);
    // A failed job's uploads are referenced by its (failed) snapshot until it is deleted.
    const s3 = start("alpha");
    ledger.chunks.recordBatch(batch("alpha", s3, { uploaded: chunks.slice(8), refs: chunks.slice(8).map((c) => c.name) }));
    ledger.failSnapshot("alpha", s3);
    // Another host's and another destination's chunks are not this area's.
    ledger.chunks.recordBatch(batch("beta", start("beta"), { uploaded: [upload("beta", "b")], refs: [name("b")] }));
    const usb = start("alpha", { destination: "usb" });
    ledger.chunks.recordBatch(batch("alpha", usb, { destination: "usb", uploaded: [upload("alpha", "u")], refs: [name("u")] }));
    const keys = (list: { objectKey: string }[]) => list.map((g) => g.objectKey).sort();

    expect(ledger.chunks.unreferenced("alpha", "s3", ledger.chunks.liveChunks("alpha", "s3"))).toEqual([]);
    const live = ledger.chunks.liveChunks("alpha", "s3", [s1, s3]);
    expect(live.snapshots).toBe(1);
    const garbage = ledger.chunks.unreferenced("alpha", "s3", live);
    expect(keys(garbage)).toEqual(keys([...chunks.slice(0, 3), ...chunks.slice(8)].map((c) => ({ objectKey: c.key }))));
    expect(garbage[0]).toEqual({ id: expect.any(Number), objectKey: expect.any(String), storedSize: chunks[0]!.stored.size });

    // Prune deletes s1 and s3 (their sets cascade), then the chunks.
    for (const id of [s1, s3]) ledger.retention.forgetSnapshot("alpha", id, { destination: "s3", rule: "keepLast", runId: "run-x", objectKeys: [] });
    expect(rows("SELECT DISTINCT snapshot_id FROM snapshot_chunks WHERE host = 'alpha'").map((r) => r.snapshot_id).sort()).toEqual([s2, usb].sort());
    expect(keys(ledger.chunks.unreferenced("alpha", "s3", ledger.chunks.liveChunks("alpha", "s3")))).toEqual(keys(garbage));
    expect(ledger.chunks.forget(garbage.map((g) => g.id))).toBe(5);
    expect(ledger.chunks.unreferenced("alpha", "s3", ledger.chunks.liveChunks("alpha", "s3"))).toEqual([]);
    expect(ledger.chunks.snapshotChunkKeys("alpha", s2).sort()).toEqual(chunks.slice(3, 8).map((c) => c.key).sort());
    // Ids are never given again, so no old reference can come to mean a new chunk.
    const next = start("alpha");
    const fresh = upload("alpha", "fresh");
    ledger.chunks.recordBatch(batch("alpha", next, { uploaded: [fresh], refs: [fresh.name] }));
    expect(ledger.chunks.get("s3", fresh.key)!.id).toBeGreaterThan(Math.max(...garbage.map((g) => g.id)));
  });

  it("marks damaged, on a restore's or verification's word, only a chunk of the host that the snapshot references", () => {
    const [a, b] = [upload("alpha", "a"), upload("alpha", "b")];
    const s1 = start("alpha");
    ledger.chunks.recordBatch(batch("alpha", s1, { uploaded: [a], refs: [a.name] }));
    complete("alpha", s1);
    const s2 = start("alpha");
    ledger.chunks.recordBatch(batch("alpha", s2, { uploaded: [b], refs: [a.name, b.name] }));
    complete("alpha", s2);
    const theirs = upload("beta", "a");
    ledger.chunks.recordBatch(batch("beta", start("beta"), { uploaded: [theirs], refs: [theirs.name] }));
    for (const key of [b.key, theirs.key, `alpha/${s1}/files/files.tar.age`, `alpha/chunks/00/${name("a")}.age`]) expect(ledger.chunks.markSnapshotChunkDamaged("alpha", s1, key, "missing")).toBe(false);
    expect(ledger.chunks.markSnapshotChunkDamaged("beta", s1, theirs.key, "missing")).toBe(false);
    expect(rows("SELECT count(*) AS n FROM chunks WHERE damage IS NOT NULL")).toEqual([{ n: 0 }]);
    expect(ledger.chunks.markSnapshotChunkDamaged("alpha", s1, a.key, "missing from storage")).toBe(true);
    expect(ledger.chunks.get("s3", a.key)!.damage).toBe("missing from storage");
    expect(ledger.chunks.damagedNames("s3", "alpha", "age1alpha")).toEqual([a.name]);
  });

  it("records what a ledger rebuild found: new chunk rows (a known one kept), damaged ones, the snapshot's set per instance; nothing with a key outside the host's chunks", () => {
    const known = upload("alpha", "known");
    const s1 = start("alpha");
    ledger.chunks.recordBatch(batch("alpha", s1, { uploaded: [known], refs: [known.name] }));
    complete("alpha", s1);
    const ref = (u: ChunkUpload) => ({ key: u.key, size: u.size, sha256: name(`plain ${u.name}`), compression: "gzip" as const, stored: u.stored });
    const [x, y] = [upload("alpha", "x"), upload("alpha", "y")];
    const found = (id: string, instances: Map<string, ReturnType<typeof ref>[]>, damaged = new Map<string, string>()) =>
      ledger.recordFoundSnapshot({
        host: "alpha",
        snapshotId: id,
        startedAt: "2026-12-02T00:00:00.000Z",
        finishedAt: "2026-12-02T00:01:00.000Z",
        destination: "s3",
        destinationDescription: "test",
        manifest: { key: `alpha/${id}/manifest.json.age`, sha256: "cd".repeat(32), size: 1 },
        recipient: "age1alpha",
        artifacts: [],
        chunks: { instances, damaged },
      });
    expect(found("20261202T000000Z-f00d", new Map([["files", [ref(known), ref(x), ref(x)]], ["db", [ref(y)]]]), new Map([[y.key, "missing from storage"]]))).toBe(true);
    expect(ledger.chunks.get("s3", known.key)).toMatchObject({ snapshotId: s1, damage: null });
    expect(ledger.chunks.get("s3", x.key)).toMatchObject({ name: x.name, size: x.size, sha256: x.stored.sha256, storedSize: x.stored.size, recipient: "age1alpha", snapshotId: "20261202T000000Z-f00d", damage: null });
    expect(ledger.chunks.get("s3", y.key)!.damage).toBe("missing from storage");
    expect(ledger.chunks.snapshotChunkKeys("alpha", "20261202T000000Z-f00d", ["files"]).sort()).toEqual([known.key, x.key].sort());
    expect(ledger.chunks.snapshotChunkKeys("alpha", "20261202T000000Z-f00d", ["db"])).toEqual([y.key]);
    expect(rows("SELECT count(*) AS n FROM snapshot_chunks WHERE snapshot_id = '20261202T000000Z-f00d'")).toEqual([{ n: 2 }]);

    const before = rows("SELECT count(*) AS n FROM chunks");
    expect(() => found("20261202T000000Z-beef", new Map([["files", [ref(upload("alpha", "z")), ref(upload("beta", "z"))]]]))).toThrow(expect.objectContaining({ code: "INTERNAL" }));
    expect(ledger.hasSnapshot("alpha", "20261202T000000Z-beef")).toBe(false);
    expect(rows("SELECT count(*) AS n FROM chunks")).toEqual(before);
  });

  it("refuses to tell live chunks from a set that does not hold its count", () => {
    const s = start("alpha");
    const c = upload("alpha", "c");
    ledger.chunks.recordBatch(batch("alpha", s, { uploaded: [c], refs: [c.name] }));
    const db = new Database(file);
    db.prepare("UPDATE snapshot_chunks SET ids = ? WHERE snapshot_id = ?").run(encodeIdSet([]), s);
    db.close();
    expect(() => ledger.chunks.liveChunks("alpha", "s3")).toThrow(expect.objectContaining({ code: "INTERNAL", message: expect.stringContaining("holds 0 ids, the ledger says 1") }));
  });

  it("migrates a ledger of version 5: its artifacts have no chunk counts, its snapshots no rehash", () => {
    ledger.close();
    fs.rmSync(file);
    const db = new Database(file);
    for (const sql of MIGRATIONS.slice(0, 5)) db.exec(sql);
    db.pragma("user_version = 5");
    db.exec(`INSERT INTO snapshots(host, id, started_at, finished_at, status, destination, destination_description, manifest_key, manifest_sha256, manifest_size)
             VALUES ('alpha', 's1', '2026-01-01T00:00:00Z', '2026-01-01T00:01:00Z', 'complete', 's3', 'test', 'alpha/s1/manifest.json.age', 'cd', 1);
             INSERT INTO artifacts VALUES ('alpha', 's1', 'files', 'files', 'files.tar', 'alpha/s1/files/files.tar.age', 10, 5, 'ab', 'zstd', '{}');`);
    db.close();
    ledger = Ledger.open(file);
    const [snapshot] = ledger.listSnapshots({ host: "alpha" });
    expect(snapshot).toMatchObject({ rehash: false });
    expect(snapshot!.artifacts[0]).not.toHaveProperty("chunks");
    expect(ledger.chunks.lastRehash("alpha")).toBeUndefined();
  });
});
