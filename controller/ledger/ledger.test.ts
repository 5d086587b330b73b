// The ledger on real SQLite files.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Ledger } from "./ledger";
import { MIGRATIONS } from "./migrations";

const outcome = { host: "a", kind: "backup" as const, status: "ok" as const, artifacts: 1, plainBytes: 10, storedBytes: 5, durationMs: 1, errors: [], warnings: [], restored: [], checks: [] };
const artifact = (name: string) => ({ plugin: "files", instance: "files", name, key: `a/s/files/${name}.age`, plainSize: 10, storedSize: 5, sha256: "ab".repeat(32), compression: "zstd" as const, metadata: { files: 3 } });

describe("ledger", () => {
  let dir: string;
  let file: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "lifeboat-ledger-"));
    file = path.join(dir, "state", "ledger.db");
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("creates a 0600 WAL database at the newest schema, and reopens it without migrating twice", () => {
    Ledger.open(file).close();
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    const db = new Database(file);
    expect(db.pragma("journal_mode", { simple: true })).toBe("wal");
    expect(db.pragma("user_version", { simple: true })).toBe(MIGRATIONS.length);
    db.close();
    Ledger.open(file).close();
  });

  it("attributes the blobs recorded before the ledger kept their key to the blob area's key, so that a rotation stops offering them", () => {
    const ledger = Ledger.open(file);
    try {
      const db = new Database(file);
      // As migration 4 records the blobs of snapshots made before: no stored hash, no recipient.
      db.prepare("INSERT INTO blobs(destination, object_key, name, digest, host, snapshot_id, recorded_at) VALUES ('s3', ?, ?, 'sha256:x', 'a', 's', '2026-01-01T00:00:00Z')").run(`blobs/v2/${"ab".repeat(32)}.age`, "ab".repeat(32));
      db.close();
      expect(Object.keys(ledger.blobs.known("s3", "age1new"))).toEqual(["ab".repeat(32)]);
      expect(ledger.blobs.attributeTo("age1old")).toBe(1);
      expect(ledger.blobs.known("s3", "age1new")).toEqual({});
      expect(Object.keys(ledger.blobs.known("s3", "age1old"))).toEqual(["ab".repeat(32)]);
      expect(ledger.blobs.get("s3", `blobs/v2/${"ab".repeat(32)}.age`)!.recipient).toBe("age1old");
    } finally {
      ledger.close();
    }
  });

  it("keeps the hook runs of a ledger made before prepare hooks, and records prepare hooks", () => {
    const old = new Database((fs.mkdirSync(path.dirname(file), { recursive: true }), file));
    const rebuilt = MIGRATIONS.findIndex((m) => m.includes("hook_runs_new"));
    for (const m of MIGRATIONS.slice(0, rebuilt)) old.exec(m);
    old.pragma(`user_version = ${rebuilt}`);
    old.prepare("INSERT INTO hook_runs(time, run_id, job_id, host, plugin, phase, command, exit_code, output) VALUES ('t', 'r', 'j', 'a', 'db', 'before', 'stop app', 0, '')").run();
    old.close();
    const ledger = Ledger.open(file);
    try {
      ledger.recordHook({ runId: "r", jobId: "j", host: "a", plugin: "db", phase: "prepare", command: "docker compose up -d db", code: 0, output: "started" });
      expect(ledger.jobHooks("j").map((h) => `${h.phase} ${h.command}`)).toEqual(["before stop app", "prepare docker compose up -d db"]);
    } finally {
      ledger.close();
    }
  });

  it("refuses a ledger from a newer Lifeboat", () => {
    Ledger.open(file).close();
    const db = new Database(file);
    db.pragma(`user_version = ${MIGRATIONS.length + 1}`);
    db.close();
    expect(() => Ledger.open(file)).toThrow(/upgrade Lifeboat|knows up to/);
  });

  it("records runs, snapshots and artifacts; latest is the newest complete snapshot", () => {
    const ledger = Ledger.open(file);
    const run = ledger.startRun({ kind: "backup", trigger: "test", hosts: ["a"] });
    for (const id of ["s1", "s2", "s3"]) {
      ledger.startJob({ runId: run, jobId: `j-${id}`, host: "a", kind: "backup", snapshotId: id });
      ledger.startSnapshot({ host: "a", snapshotId: id, jobId: `j-${id}`, destination: "usb", destinationDescription: "local /mnt" });
      ledger.recordArtifact("a", id, artifact("files.tar"));
      ledger.finishJob(`j-${id}`, outcome);
    }
    ledger.completeSnapshot("a", "s1", { manifestKey: "a/s1/manifest.json.age", manifestSha256: "cd".repeat(32), manifestSize: 100 });
    ledger.completeSnapshot("a", "s2", { manifestKey: "a/s2/manifest.json.age", manifestSha256: "cd".repeat(32), manifestSize: 100 });
    ledger.failSnapshot("a", "s3");
    ledger.recordError({ runId: run, jobId: "j-s3", host: "a", plugin: "files", code: "SOURCE", message: "Cannot read" });
    ledger.finishRun(run, "partial");
    expect(ledger.getSnapshot("a", "latest")?.id).toBe("s2");
    expect(ledger.getSnapshot("a", "s3")).toBeUndefined();
    const all = ledger.listSnapshots({ host: "a" });
    expect(all.map((s) => [s.id, s.status])).toEqual([
      ["s3", "failed"],
      ["s2", "complete"],
      ["s1", "complete"],
    ]);
    expect(all[1]!.artifacts[0]).toMatchObject({ key: "a/s/files/files.tar.age", metadata: { files: 3 } });
    expect(ledger.listSnapshots({ host: "b" })).toEqual([]);
    expect(ledger.lastGoodSnapshots().map((s) => s.host)).toEqual(["a"]);
    expect(ledger.runErrors(run)).toMatchObject([{ code: "SOURCE", plugin: "files" }]);
    ledger.close();
  });

  it("lets a second connection read committed data while the first is open", () => {
    const writer = Ledger.open(file);
    writer.touchHost("a", "0.1.0", "node v20");
    const reader = new Database(file, { readonly: true });
    expect(reader.prepare("SELECT name FROM hosts").all()).toEqual([{ name: "a" }]);
    reader.close();
    writer.close();
  });
});
