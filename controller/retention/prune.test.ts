// Prune at the ledger + destination level, with real components: a real ledger (SQLite), a real
// controller state directory and inventory, and a real rclone destination (a local remote, which
// the controller can reach, unlike a `local` destination that lives on each host). Snapshots are
// made through the ledger's own recording methods, their objects written where the storage layout
// puts them, and then moved back in time with the test-only ledger edit.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import * as crypto from "node:crypto";
import { artifactKey, chunkObjectKey, manifestKey } from "../../core/storage-layout";
import { setSnapshotTime } from "../../test/harness/ledger-time";
import { ControllerContext } from "../context";
import { initState, statePaths } from "../keys";
import { Ledger } from "../ledger/ledger";
import type { HostOutcome } from "../output/reporter";
import { UNREFERENCED_BLOB } from "./blob-gc";
import { UNREFERENCED_CHUNK } from "./chunk-gc";
import { DEBRIS, NO_RETENTION, pruneHosts, type PruneResult } from "./prune";

const DAY = 86_400_000;

describe("prune against a real ledger and a real rclone destination", () => {
  let dir: string;
  let store: string;
  let ctx: ControllerContext;
  const globals = () => ({ inventory: path.join(dir, "fleet.yaml"), state: path.join(dir, "state"), json: false });
  const ledgerFile = () => statePaths(globals().state).ledger;

  function writeInventory(options: { brokenVault?: boolean; alphaRetention?: Record<string, unknown> } = {}): void {
    const ssh = { host: "127.0.0.1", user: "root", knownHostsFile: path.join(dir, "known_hosts") };
    const doc = {
      destinations: {
        vault: { type: "rclone", remote: `store:${store}`, env: { RCLONE_CONFIG_STORE_TYPE: "local" }, ...(options.brokenVault ? { binary: path.join(dir, "no-such-rclone") } : {}) },
        disk: { type: "local", path: path.join(dir, "on-the-host") },
      },
      hosts: {
        alpha: { ssh, destination: "vault", plugins: {}, retention: options.alphaRetention ?? { keepLast: 1 } },
        beta: { ssh, destination: "vault", plugins: {} },
        gamma: { ssh, destination: "disk", plugins: {}, retention: { keepLast: 1 } },
      },
    };
    fs.writeFileSync(globals().inventory, JSON.stringify(doc));
  }

  async function reopen(): Promise<void> {
    ctx?.close();
    ctx = await ControllerContext.open(globals());
  }

  const stored = (key: string) => fs.existsSync(path.join(store, key));
  const filesUnder = (prefix: string) => {
    const root = path.join(store, prefix);
    if (!fs.existsSync(root)) return [];
    return fs.readdirSync(root, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name));
  };
  const put = (key: string) => {
    fs.mkdirSync(path.dirname(path.join(store, key)), { recursive: true });
    fs.writeFileSync(path.join(store, key), `object ${key}\n`);
  };
  const blobKey = (c: string) => `blobs/v2/${c.repeat(64)}.age`;
  const chunkName = (label: string) => crypto.createHash("sha256").update(label).digest("hex");
  const chunkKey = (host: string, label: string) => chunkObjectKey(host, chunkName(label));

  /**
   * A snapshot as a backup job records it: run, job, snapshot, one artifact (naming `blobs`),
   * the manifest when complete; its objects in the store; then moved to `at`.
   */
  function snapshot(host: string, id: string, at: Date, o: { status?: "complete" | "failed" | "incomplete"; blobs?: string[]; jobRunning?: boolean; verified?: boolean; chunks?: { uploaded: string[]; refs: string[] } } = {}): void {
    const ledger = ctx.ledger;
    const status = o.status ?? "complete";
    const runId = ledger.startRun({ kind: "backup", trigger: "test", hosts: [host] });
    const jobId = `job-${host}-${id}`;
    ledger.startJob({ runId, jobId, host, kind: "backup", snapshotId: id });
    ledger.startSnapshot({ host, snapshotId: id, jobId, destination: "vault", destinationDescription: "rclone store" });
    const key = artifactKey(host, id, "files", "files.tar");
    put(key);
    ledger.recordArtifact(host, id, {
      plugin: "files",
      instance: "files",
      name: "files.tar",
      key,
      plainSize: 10,
      storedSize: 20,
      sha256: "0".repeat(64),
      compression: "none",
      metadata: { blobs: (o.blobs ?? []).map((k) => ({ digest: `sha256:${"e".repeat(64)}`, size: 1, key: k })) },
    });
    if (o.chunks) {
      // As the ledger recorder records a `chunks` event: what the job uploaded (stored), what its artifact references.
      const uploaded = o.chunks.uploaded.map((label) => {
        put(chunkKey(host, label));
        return { name: chunkName(label), key: chunkKey(host, label), size: 100, stored: { sha256: "3".repeat(64), size: 150 } };
      });
      const { refused } = ledger.chunks.recordBatch({ destination: "vault", host, snapshotId: id, instance: "files", recipient: "age1test", uploaded, refs: o.chunks.refs.map(chunkName) });
      expect(refused).toEqual([]);
    }
    if (status === "complete") {
      put(manifestKey(host, id));
      ledger.completeSnapshot(host, id, { manifestKey: manifestKey(host, id), manifestSha256: "1".repeat(64), manifestSize: 30 });
    }
    if (!o.jobRunning) {
      const outcome: HostOutcome = { host, kind: "backup", status: status === "complete" ? "ok" : "failed", artifacts: 1, plainBytes: 10, storedBytes: 20, durationMs: 1, errors: [], warnings: [], restored: [], checks: [] };
      ledger.finishJob(jobId, outcome);
      if (status === "failed") ledger.failSnapshot(host, id);
      ledger.finishRun(runId, outcome.status);
    }
    if (o.verified) ledger.recordVerification({ host, snapshotId: id, level: "deep", result: "ok", details: {} });
    setSnapshotTime(ledgerFile(), host, id, at);
  }

  /** A blob its job uploaded, stored and recorded, at the time of the snapshot it belongs to. */
  function blob(key: string, host: string, snapshotId: string): void {
    put(key);
    ctx.ledger.blobs.record({ destination: "vault", objectKey: key, name: key.slice(9, 73), digest: `sha256:${"e".repeat(64)}`, sha256: "2".repeat(64), storedSize: 40, recipient: "age1test", host, snapshotId });
  }

  const ids = (host: string) => ctx.ledger.listSnapshots({ host }).map((s) => s.id);
  const rowsOf = (sql: string, ...args: unknown[]) => {
    const db = new Database(ledgerFile(), { readonly: true });
    try {
      return db.prepare(sql).all(...args) as Record<string, unknown>[];
    } finally {
      db.close();
    }
  };
  const hostsOf = (names: string[]) => names.map((n) => ctx.host(n));
  const actions = (r: PruneResult, host: string) => r.hosts.find((h) => h.host === host)!.snapshots.map((s) => [s.id, s.action, s.rules.join(", "), s.result]);

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "lifeboat-prune-"));
    store = path.join(dir, "store");
    fs.mkdirSync(store);
    fs.writeFileSync(path.join(dir, "known_hosts"), "");
    await initState(globals().state);
    Ledger.open(ledgerFile()).close();
    writeInventory();
    await reopen();
  });

  afterEach(() => {
    ctx?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("deletes the snapshots no rule keeps (objects, stray objects and rows), keeps newest and newest verified, and collects only blobs that no remaining snapshot of any host references", async () => {
    const now = Date.now();
    const [x, y, w] = [blobKey("a"), blobKey("b"), blobKey("c")];
    const legacy = `blobs/${"d".repeat(64)}.age`; // stored before the ledger kept blobs: no row
    snapshot("alpha", "s1", new Date(now - 10 * DAY), { blobs: [x, y, legacy] });
    blob(x, "alpha", "s1");
    blob(y, "alpha", "s1");
    put(legacy);
    setSnapshotTime(ledgerFile(), "alpha", "s1", new Date(now - 10 * DAY)); // the blobs' recording time too
    snapshot("alpha", "s2", new Date(now - 5 * DAY), { verified: true });
    snapshot("alpha", "s3", new Date(now - 1 * DAY));
    snapshot("beta", "b1", new Date(now - 9 * DAY), { blobs: [y] });
    blob(w, "alpha", "s3"); // unreferenced, but recorded just now: a running backup may be about to reference it
    put("alpha/s1/files/files.tar.part"); // under the snapshot's prefix, unknown to the ledger

    const plan = await pruneHosts(ctx, hostsOf(["alpha", "beta", "gamma"]), { dryRun: true, graceMs: DAY, trigger: "test" });
    expect(actions(plan, "alpha")).toEqual([
      ["s3", "keep", "last 1/1, newest", "planned"],
      ["s2", "keep", "newest verified", "planned"],
      ["s1", "delete", "no rule keeps it", "planned"],
    ]);
    expect(plan.hosts.find((h) => h.host === "beta")).toMatchObject({ status: "no-retention", message: NO_RETENTION, snapshots: [] });
    // gamma's destination is a directory on gamma: planned like any other (its agent deletes, see test/e2e/prune.test.ts).
    expect(plan.hosts.find((h) => h.host === "gamma")).toMatchObject({ status: "pruned" });
    expect(plan.blobs.map((b) => [b.key, b.result]).sort()).toEqual([
      [legacy, "planned"],
      [x, "planned"],
    ]);
    expect(plan.notes.join("\n")).toContain("1 unreferenced blob(s) of \"vault\" are younger than the grace period and kept");
    expect(plan.runId).toBeNull();
    // A dry run deletes and records nothing.
    expect(ids("alpha")).toEqual(["s3", "s2", "s1"]);
    expect([x, y, w, legacy, artifactKey("alpha", "s1", "files", "files.tar")].every(stored)).toBe(true);
    expect(rowsOf("SELECT * FROM deletions")).toEqual([]);
    expect(rowsOf("SELECT * FROM runs WHERE kind = 'prune'")).toEqual([]);

    const result = await pruneHosts(ctx, hostsOf(["alpha", "beta", "gamma"]), { dryRun: false, graceMs: DAY, trigger: "test" });
    expect(result.failed).toBe(0);
    expect(actions(result, "alpha").map(([id, , , r]) => [id, r])).toEqual([
      ["s3", "kept"],
      ["s2", "kept"],
      ["s1", "deleted"],
    ]);
    expect(ids("alpha")).toEqual(["s3", "s2"]);
    expect(ids("beta")).toEqual(["b1"]);
    expect(filesUnder("alpha/s1")).toEqual([]);
    expect([artifactKey("alpha", "s2", "files", "files.tar"), manifestKey("alpha", "s3"), artifactKey("beta", "b1", "files", "files.tar")].every(stored)).toBe(true);
    expect(stored(x)).toBe(false);
    expect(stored(legacy)).toBe(false);
    expect(stored(y) && stored(w)).toBe(true);
    expect(ctx.ledger.blobs.get("vault", x)).toBeUndefined();
    expect(ctx.ledger.blobs.get("vault", y)?.damage).toBeNull();
    expect(rowsOf("SELECT count(*) AS n FROM artifacts WHERE host = 'alpha' AND snapshot_id = 's1'")).toEqual([{ n: 0 }]);

    const deletions = ctx.ledger.retention.deletions({ runId: result.runId! });
    expect(deletions.map((d) => [d.host, d.snapshotId, d.objectKey, d.rule, d.destination])).toEqual([
      ["alpha", "s1", artifactKey("alpha", "s1", "files", "files.tar"), "no rule keeps it", "vault"],
      ["alpha", "s1", "alpha/s1/files/files.tar.part", "no rule keeps it", "vault"],
      ["alpha", "s1", manifestKey("alpha", "s1"), "no rule keeps it", "vault"],
      ["alpha", "s1", x, UNREFERENCED_BLOB, "vault"],
      ["alpha", "s1", legacy, UNREFERENCED_BLOB, "vault"],
    ]);
    expect(rowsOf("SELECT kind, status FROM runs WHERE id = ?", result.runId)).toEqual([{ kind: "prune", status: "ok" }]);

    // Nothing left to do: a second prune deletes nothing.
    const again = await pruneHosts(ctx, hostsOf(["alpha"]), { dryRun: false, graceMs: DAY, trigger: "test" });
    expect(again.hosts[0]!.snapshots.filter((s) => s.action === "delete")).toEqual([]);
    expect(again.blobs).toEqual([]);
  });

  it("deletes failed and unfinished snapshots older than the grace period as debris, never one a running job writes, and collects no blob while a backup runs", async () => {
    const now = Date.now();
    snapshot("alpha", "old-failed", new Date(now - 3 * DAY), { status: "failed", blobs: [blobKey("f")] });
    blob(blobKey("f"), "alpha", "old-failed");
    setSnapshotTime(ledgerFile(), "alpha", "old-failed", new Date(now - 3 * DAY));
    snapshot("alpha", "good", new Date(now - 2 * DAY));
    snapshot("alpha", "fresh-failed", new Date(now - 3_600_000), { status: "failed" });
    snapshot("alpha", "being-written", new Date(now - 4 * DAY), { status: "incomplete", jobRunning: true });

    const result = await pruneHosts(ctx, hostsOf(["alpha"]), { dryRun: false, graceMs: DAY, trigger: "test" });
    expect(actions(result, "alpha")).toEqual([
      ["fresh-failed", "keep", "debris within the grace period", "kept"],
      ["good", "keep", "last 1/1, newest", "kept"],
      ["old-failed", "delete", DEBRIS, "deleted"],
      ["being-written", "keep", "being written by a running job", "kept"],
    ]);
    expect(stored(artifactKey("alpha", "old-failed", "files", "files.tar"))).toBe(false);
    expect(stored(artifactKey("alpha", "being-written", "files", "files.tar"))).toBe(true);
    expect(ctx.ledger.retention.deletions({ host: "alpha" }).map((d) => [d.snapshotId, d.rule])).toEqual([["old-failed", DEBRIS]]);
    // The failed snapshot's blob is unreferenced now, but a backup is running: it waits.
    expect(result.blobs).toEqual([]);
    expect(result.notes.join("\n")).toMatch(/blob garbage collection postponed: 1 backup job\(s\) running/);
    expect(stored(blobKey("f"))).toBe(true);

    // Once no backup runs, the next prune collects it.
    // The job ends (as its controller would record it).
    const db = new Database(ledgerFile());
    db.prepare("UPDATE jobs SET status = 'failed' WHERE id = 'job-alpha-being-written'").run();
    db.close();
    const later = await pruneHosts(ctx, hostsOf(["alpha"]), { dryRun: false, graceMs: DAY, trigger: "test" });
    expect(later.blobs.map((b) => [b.key, b.result])).toEqual([[blobKey("f"), "deleted"]]);
    expect(stored(blobKey("f"))).toBe(false);
  });

  it("finishes a deletion that an earlier prune began, with that prune's rule, even when objects are already gone or the rules would keep it now", async () => {
    const now = Date.now();
    snapshot("alpha", "s1", new Date(now - 3 * DAY));
    snapshot("alpha", "s2", new Date(now - 2 * DAY));
    snapshot("alpha", "s3", new Date(now - 1 * DAY));

    // Storage fails (rclone missing): s1 and s2 are marked, nothing is deleted, the run says so.
    writeInventory({ brokenVault: true });
    await reopen();
    const failed = await pruneHosts(ctx, hostsOf(["alpha"]), { dryRun: false, graceMs: DAY, trigger: "test" });
    expect(failed.failed).toBe(2);
    expect(actions(failed, "alpha").map(([id, , , r]) => [id, r])).toEqual([
      ["s3", "kept"],
      ["s2", "failed"],
      ["s1", "failed"],
    ]);
    expect(failed.hosts[0]!.snapshots[1]!.error).toMatch(/rclone/);
    expect(rowsOf("SELECT status FROM runs WHERE id = ?", failed.runId)).toEqual([{ status: "partial" }]);
    expect(ctx.ledger.runErrors(failed.runId!).map((e) => e.message)).toEqual([expect.stringMatching(/^Cannot delete snapshot "s2" of "alpha": /), expect.stringMatching(/^Cannot delete snapshot "s1" of "alpha": /)]);
    expect(stored(manifestKey("alpha", "s1"))).toBe(true);
    // Marked: no longer a backup to restore from.
    expect(ctx.ledger.listSnapshots({ host: "alpha" }).find((s) => s.id === "s1")!.damage).toMatch(/being deleted by prune/);

    // As if the earlier prune had crashed after deleting s1's objects: they are gone, its rows remain.
    fs.rmSync(path.join(store, "alpha", "s1"), { recursive: true });
    writeInventory({ brokenVault: false, alphaRetention: { keepLast: 10 } });
    await reopen();
    const finished = await pruneHosts(ctx, hostsOf(["alpha"]), { dryRun: false, graceMs: DAY, trigger: "test" });
    expect(finished.failed).toBe(0);
    expect(actions(finished, "alpha")).toEqual([
      ["s3", "keep", "last 1/10, newest", "kept"],
      ["s2", "delete", "no rule keeps it", "deleted"],
      ["s1", "delete", "no rule keeps it", "deleted"],
    ]);
    expect(finished.hosts[0]!.notes).toContain("2 deletion(s) an earlier prune began are finished now");
    expect(ids("alpha")).toEqual(["s3"]);
    expect(stored(manifestKey("alpha", "s2"))).toBe(false);
    expect(ctx.ledger.retention.deletions({ runId: finished.runId! }).map((d) => [d.snapshotId, d.objectKey])).toEqual([
      ["s2", artifactKey("alpha", "s2", "files", "files.tar")],
      ["s2", manifestKey("alpha", "s2")],
      ["s1", artifactKey("alpha", "s1", "files", "files.tar")],
      ["s1", manifestKey("alpha", "s1")],
    ]);
  });
  it("collects the chunks no remaining snapshot of the host references, whatever their status; a failed snapshot's chunks stay until it is deleted as debris", async () => {
    const now = Date.now();
    snapshot("alpha", "s1", new Date(now - 10 * DAY), { chunks: { uploaded: ["c1", "c2", "c3"], refs: ["c1", "c2", "c3"] } });
    snapshot("alpha", "old-failed", new Date(now - 9 * DAY), { status: "failed", chunks: { uploaded: ["c7"], refs: ["c7", "c3"] } });
    // c6: uploaded and never referenced (a unit read again after it changed).
    snapshot("alpha", "s2", new Date(now - 5 * DAY), { chunks: { uploaded: ["c4", "c6"], refs: ["c2", "c3", "c4"] } });
    snapshot("alpha", "s3", new Date(now - 1 * DAY), { chunks: { uploaded: ["c5"], refs: ["c3", "c4", "c5"] } });
    snapshot("alpha", "fresh-failed", new Date(now - 3_600_000), { status: "failed", chunks: { uploaded: ["c8"], refs: ["c8", "c1"] } });
    // Another host's chunks are its own: none of them is collected with alpha's (beta has no retention).
    snapshot("beta", "b1", new Date(now - 9 * DAY), { chunks: { uploaded: ["c2"], refs: ["c2"] } });
    const chunkRows = () => rowsOf("SELECT object_key FROM chunks WHERE host = 'alpha' ORDER BY object_key").map((r) => r.object_key);

    const plan = await pruneHosts(ctx, hostsOf(["alpha", "beta"]), { dryRun: true, graceMs: DAY, trigger: "test" });
    expect(actions(plan, "alpha").filter(([, a]) => a === "delete").map(([id]) => id)).toEqual(["s2", "old-failed", "s1"]);
    // Left: s3 (c3 c4 c5) and fresh-failed, within the grace period (c8 c1).
    const garbage = ["c2", "c6", "c7"].map((c) => chunkKey("alpha", c));
    expect(plan.hosts.find((h) => h.host === "alpha")!.chunks).toEqual([{ destination: "vault", rule: UNREFERENCED_CHUNK, chunks: 3, bytes: 450, deleted: 0, deletedBytes: 0, result: "planned" }]);
    expect(plan.hosts.find((h) => h.host === "beta")!.chunks).toEqual([]);
    expect(chunkRows()).toHaveLength(8);
    expect(garbage.every(stored)).toBe(true);

    const result = await pruneHosts(ctx, hostsOf(["alpha", "beta"]), { dryRun: false, graceMs: DAY, trigger: "test" });
    expect(result.failed).toBe(0);
    expect(result.hosts.find((h) => h.host === "alpha")!.chunks).toEqual([{ destination: "vault", rule: UNREFERENCED_CHUNK, chunks: 3, bytes: 450, deleted: 3, deletedBytes: 450, result: "deleted" }]);
    for (const key of garbage) expect(stored(key)).toBe(false);
    const live = ["c1", "c3", "c4", "c5", "c8"].map((c) => chunkKey("alpha", c));
    for (const key of live) expect(stored(key)).toBe(true);
    expect(chunkRows()).toEqual([...live].sort());
    expect(stored(chunkKey("beta", "c2"))).toBe(true);
    expect(ctx.ledger.retention.deletions({ runId: result.runId! }).filter((d) => d.rule === UNREFERENCED_CHUNK).map((d) => [d.host, d.snapshotId, d.objectKey, d.destination])).toEqual([
      ["alpha", "s1", chunkKey("alpha", "c2"), "vault"],
      ["alpha", "old-failed", chunkKey("alpha", "c7"), "vault"],
      ["alpha", "s2", chunkKey("alpha", "c6"), "vault"],
    ]);
    // Every snapshot left still names every chunk it references.
    expect(ctx.ledger.chunks.snapshotChunkKeys("alpha", "s3").sort()).toEqual(["c3", "c4", "c5"].map((c) => chunkKey("alpha", c)).sort());

    // Once the failed snapshot is debris, its own chunk goes too; c1 (of no snapshot left) with it.
    setSnapshotTime(ledgerFile(), "alpha", "fresh-failed", new Date(now - 2 * DAY));
    const later = await pruneHosts(ctx, hostsOf(["alpha"]), { dryRun: false, graceMs: DAY, trigger: "test" });
    expect(later.hosts[0]!.chunks.map((c) => [c.chunks, c.result])).toEqual([[2, "deleted"]]);
    expect(chunkRows()).toEqual(["c3", "c4", "c5"].map((c) => chunkKey("alpha", c)).sort());
    expect(stored(chunkKey("alpha", "c8"))).toBe(false);
  });

  it("collects no chunk of a host while one of its backups runs (another host's backup does not matter), nor once one ran since the garbage was computed", async () => {
    const now = Date.now();
    snapshot("alpha", "s1", new Date(now - 3 * DAY), { chunks: { uploaded: ["c1", "c2"], refs: ["c1", "c2"] } });
    snapshot("alpha", "s2", new Date(now - 2 * DAY), { chunks: { uploaded: ["c3"], refs: ["c2", "c3"] } });
    snapshot("alpha", "running", new Date(now - 60_000), { status: "incomplete", jobRunning: true, chunks: { uploaded: ["c4"], refs: ["c4"] } });
    snapshot("beta", "b-running", new Date(now - 60_000), { status: "incomplete", jobRunning: true });

    const result = await pruneHosts(ctx, hostsOf(["alpha"]), { dryRun: false, graceMs: DAY, trigger: "test" });
    expect(actions(result, "alpha").map(([id, , , r]) => [id, r])).toEqual([
      ["running", "kept"],
      ["s2", "kept"],
      ["s1", "deleted"],
    ]);
    expect(result.hosts[0]!.chunks).toEqual([]);
    expect(result.hosts[0]!.notes.join("\n")).toMatch(/chunks of "vault" are not collected now: a backup of alpha is running/);
    expect(stored(chunkKey("alpha", "c1"))).toBe(true);

    // The backup ends: c1 is collected (another host's running backup does not hold alpha's chunks back).
    const db = new Database(ledgerFile());
    db.prepare("UPDATE jobs SET status = 'ok' WHERE id = 'job-alpha-running'").run();
    db.close();
    const done = await pruneHosts(ctx, hostsOf(["alpha"]), { dryRun: false, graceMs: DAY, trigger: "test" });
    expect(done.hosts[0]!.chunks.map((c) => [c.chunks, c.result])).toEqual([[1, "deleted"]]);
    expect(stored(chunkKey("alpha", "c1"))).toBe(false);

    // Between the computation and the deletion, a backup of the host starts (or runs and ends): nothing is taken out of use.
    const read = ctx.ledger.retention.chunkGeneration("alpha");
    const c3 = ctx.ledger.chunks.get("vault", chunkKey("alpha", "c3"))!;
    snapshot("alpha", "s4", new Date(now - 1000), { chunks: { uploaded: [], refs: ["c3"] } });
    expect(ctx.ledger.retention.claimChunks("alpha", "vault", [c3.id], read, "run-test")).toBe(false);
    expect(ctx.ledger.chunks.get("vault", c3.objectKey)!.damage).toBeNull();
    // Nor when references were recorded without a backup (a ledger rebuild).
    const again = ctx.ledger.retention.chunkGeneration("alpha");
    ctx.ledger.chunks.appendSnapshotChunks("alpha", "s2", "files", [c3.id]);
    expect(ctx.ledger.retention.claimChunks("alpha", "vault", [c3.id], again, "run-test")).toBe(false);
    const quiet = ctx.ledger.retention.chunkGeneration("alpha");
    expect(ctx.ledger.retention.claimChunks("alpha", "vault", [c3.id], quiet, "run-test")).toBe(true);
    expect(ctx.ledger.chunks.get("vault", c3.objectKey)!.damage).toMatch(/being deleted by prune \(run-test\)/);
  });

  it("keeps chunks it could not delete out of use and collects them at the next prune", async () => {
    const now = Date.now();
    snapshot("alpha", "s1", new Date(now - 3 * DAY), { chunks: { uploaded: ["c1", "c2"], refs: ["c1", "c2"] } });
    snapshot("alpha", "s2", new Date(now - 2 * DAY), { chunks: { uploaded: [], refs: ["c2"] } });
    // s1 is deleted as the ledger says (its objects already gone, as after an interrupted prune); then storage breaks.
    ctx.ledger.retention.markDeleting("alpha", "s1", "no rule keeps it", "run-earlier");
    ctx.ledger.retention.forgetSnapshot("alpha", "s1", { destination: "vault", rule: "no rule keeps it", runId: "run-earlier", objectKeys: [] });
    writeInventory({ brokenVault: true });
    await reopen();
    const failed = await pruneHosts(ctx, hostsOf(["alpha"]), { dryRun: false, graceMs: DAY, trigger: "test" });
    expect(failed.failed).toBe(1);
    expect(failed.hosts[0]!.chunks).toEqual([expect.objectContaining({ chunks: 1, deleted: 0, result: "failed", error: expect.stringMatching(/could not be deleted/) })]);
    expect(ctx.ledger.runErrors(failed.runId!).map((e) => e.message)).toEqual([expect.stringMatching(/^Cannot collect the unreferenced chunks of "alpha" in "vault": /)]);
    // Out of use: no backup may reference it, a backup uploads it again.
    expect(ctx.ledger.chunks.get("vault", chunkKey("alpha", "c1"))!.damage).toMatch(/being deleted by prune/);
    expect(ctx.ledger.chunks.damagedNames("vault", "alpha", "age1test")).toEqual([chunkName("c1")]);
    expect(stored(chunkKey("alpha", "c1"))).toBe(true);

    writeInventory();
    await reopen();
    const finished = await pruneHosts(ctx, hostsOf(["alpha"]), { dryRun: false, graceMs: DAY, trigger: "test" });
    expect(finished.failed).toBe(0);
    expect(finished.hosts[0]!.chunks.map((c) => [c.chunks, c.deleted, c.result])).toEqual([[1, 1, "deleted"]]);
    expect(stored(chunkKey("alpha", "c1"))).toBe(false);
    expect(stored(chunkKey("alpha", "c2"))).toBe(true);
  });
});
