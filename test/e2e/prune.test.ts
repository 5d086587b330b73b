// Retention end to end, through the real controller CLI, a real sshd host, the real agent and the
// S3 server (s3rver behind the enforcing front; the controller's key is the admin key): five real
// snapshots, moved back in time with the test-only ledger edit, a deep verification of an old one,
// then `prune --dry-run` and `prune`, checked against the bucket's own listing and the ledger.
import * as fs from "node:fs";
import * as path from "node:path";
import { execFileSync } from "node:child_process";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jsonLines } from "../harness/controller-cli";
import { startFleet, type Fleet, type HostEntry } from "../harness/fleet";
import { setSnapshotTime } from "../harness/ledger-time";
import { addBlob, addModel } from "../harness/ollama-models";
import { listTree } from "../harness/tree";
import { listStored } from "./stored-object";

interface SnapshotJson {
  id: string;
  status: string;
  artifacts: { instance: string; key: string; metadata: { blobs?: { key: string; digest: string }[] } }[];
}

/** When each of the five snapshots was "taken" (oldest first): January, March, two in June, July 2025 (UTC). */
const TAKEN = ["2025-01-10T02:30:00Z", "2025-03-05T02:30:00Z", "2025-06-01T02:30:00Z", "2025-06-20T02:30:00Z", "2025-07-02T02:30:00Z"].map((t) => new Date(t));

describe("controller prune on a real fleet", () => {
  let fleet: Fleet;
  let data: string;
  let models: string;
  /** Snapshot ids, oldest first (s[0] … s[4]). */
  const s: string[] = [];
  let droppedDigests: string[] = [];

  const entry = (): HostEntry => ({ destination: "s3", plugins: { files: { paths: [data] }, ollama: { models } } });

  /** The inventory with alpha's retention (and two hosts with nothing to prune: one on a local destination without snapshots, one without retention). */
  function writeInventory(): void {
    const unreachable = { host: "127.0.0.1", port: 1, user: "nobody" };
    fleet.writeInventory({
      alpha: entry(),
      gamma: { destination: "local", plugins: {}, sshOverride: unreachable },
      delta: { destination: "s3", plugins: {}, sshOverride: unreachable },
    });
    const text = fs.readFileSync(fleet.inventory, "utf8");
    const doc = JSON.parse(text.slice(text.indexOf("\n") + 1)) as { hosts: Record<string, Record<string, unknown>> };
    doc.hosts.alpha!.retention = { keepMonthly: 2 };
    doc.hosts.gamma!.retention = { keepLast: 1 };
    fs.writeFileSync(fleet.inventory, `# written by test/e2e/prune.test.ts\n${JSON.stringify(doc, null, 2)}\n`);
  }

  function chownToHost(dir: string): void {
    execFileSync("chown", ["-R", `${fleet.hosts.alpha!.user}:${fleet.hosts.alpha!.user}`, dir]);
  }

  async function snapshots(): Promise<SnapshotJson[]> {
    const result = await fleet.controller(["snapshots", "--host", "alpha", "--json"]);
    expect(result.code, result.stderr).toBe(0);
    return (JSON.parse(result.stdout) as { snapshots: SnapshotJson[] }).snapshots;
  }

  /** Every object key in the bucket, listed with the admin key (the controller's), without the destination's prefix. */
  const bucket = () => listStored(fleet, "s3", "");

  const blobKeysOf = (snap: SnapshotJson) => snap.artifacts.flatMap((a) => (a.metadata.blobs ?? []).map((b) => b.key));
  const ledgerRows = (sql: string) => {
    const db = new Database(path.join(fleet.state, "ledger.db"), { readonly: true });
    try {
      return db.prepare(sql).all() as Record<string, unknown>[];
    } finally {
      db.close();
    }
  };

  beforeAll(async () => {
    fleet = await startFleet(["alpha"]);
    const home = fleet.hosts.alpha!.home;
    data = path.join(home, "data");
    models = path.join(home, "ollama", "models");
    fs.mkdirSync(data, { recursive: true });
    fs.writeFileSync(path.join(data, "notes.txt"), "retention\n");
    // Two models sharing a layer: "kept" stays on the host, "dropped" is removed after two backups.
    const shared = addBlob(models, Buffer.from("a layer both models use\n".repeat(100)));
    addModel(models, "kept", "latest", 64 * 1024, [shared]);
    const droppedLayers = addModel(models, "dropped", "latest", 64 * 1024, [shared]);
    chownToHost(path.join(home, "data"));
    chownToHost(path.join(home, "ollama"));
    expect((await fleet.controller(["init"])).code).toBe(0);
    writeInventory();

    for (let i = 0; i < 5; i++) {
      if (i === 2) {
        // The "dropped" model is removed from the host: later snapshots no longer reference its own blobs.
        const manifest = JSON.parse(fs.readFileSync(path.join(models, "manifests", "registry.ollama.ai", "library", "dropped", "latest"), "utf8")) as { config: { digest: string } };
        droppedDigests = [manifest.config.digest, ...droppedLayers.filter((d) => d !== shared)];
        fs.rmSync(path.join(models, "manifests", "registry.ollama.ai", "library", "dropped"), { recursive: true });
        for (const digest of droppedDigests) fs.rmSync(path.join(models, "blobs", digest.replace(":", "-")));
      }
      fs.writeFileSync(path.join(data, "notes.txt"), `retention, backup ${i}\n`);
      const run = await fleet.controller(["run", "--host", "alpha"]);
      expect(run.code, run.stdout + run.stderr).toBe(0);
    }
    s.push(...(await snapshots()).map((x) => x.id).reverse());
    expect(s).toHaveLength(5);
    // TEST ONLY: the five snapshots were taken over half a year.
    s.forEach((id, i) => setSnapshotTime(path.join(fleet.state, "ledger.db"), "alpha", id, TAKEN[i]!));
    // The oldest snapshot without the dropped model passes a deep verification: whatever the rules, it stays.
    const verify = await fleet.controller(["verify", "--host", "alpha", "--snapshot", s[2]!]);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
  }, 600_000);

  afterAll(async () => {
    await fleet?.stop();
  });

  it("plans without deleting: keepMonthly 2 keeps July and the newest of June, the newest verified stays, and the blobs only deleted snapshots reference are listed", async () => {
    const before = await bucket();
    const text = await fleet.controller(["prune", "--all", "--dry-run"]);
    expect(text.code, text.stdout + text.stderr).toBe(0);
    const line = (id: string) => text.stdout.split("\n").find((l) => l.includes(id)) ?? "";
    expect(text.stdout).toContain("alpha: retention keepMonthly 2 (periods in UTC)");
    expect(line(s[4]!)).toMatch(/KEEP\s+monthly 1\/2, newest$/);
    expect(line(s[3]!)).toMatch(/KEEP\s+monthly 2\/2$/);
    expect(line(s[2]!)).toMatch(/KEEP\s+newest verified$/);
    expect(line(s[1]!)).toMatch(/DELETE\s+no rule keeps it$/);
    expect(line(s[0]!)).toMatch(/DELETE\s+no rule keeps it$/);
    // gamma keeps its snapshots in a directory on itself (its agent deletes: test/e2e/prune-local.test.ts); it has none.
    expect(text.stdout).toMatch(/gamma: retention keepLast 1/);
    expect(text.stdout).toContain("delta: keeps everything: no retention");
    expect(text.stdout).toMatch(/dry run: would delete 2 snapshot\(s\) \(\d+ objects\) and 3 blob\(s\); nothing was deleted/);

    const json = await fleet.controller(["prune", "--host", "alpha", "--dry-run", "--json"]);
    expect(json.code, json.stderr).toBe(0);
    const lines = jsonLines(json.stdout);
    const host = lines.find((l) => l.type === "prune-host") as { snapshots: { id: string; action: string; rules: string[]; result: string }[] };
    expect(host.snapshots.map((x) => [x.id, x.action, x.rules, x.result])).toEqual([
      [s[4], "keep", ["monthly 1/2", "newest"], "planned"],
      [s[3], "keep", ["monthly 2/2"], "planned"],
      [s[2], "keep", ["newest verified"], "planned"],
      [s[1], "delete", ["no rule keeps it"], "planned"],
      [s[0], "delete", ["no rule keeps it"], "planned"],
    ]);
    const all = await snapshots();
    const onlyOld = blobKeysOf(all.find((x) => x.id === s[0])!).filter((k) => !all.filter((x) => x.id !== s[0] && x.id !== s[1]).some((x) => blobKeysOf(x).includes(k)));
    expect(onlyOld).toHaveLength(droppedDigests.length);
    expect(lines.filter((l) => l.type === "prune-blob").map((l) => l.key).sort()).toEqual([...onlyOld].sort());
    expect(lines.at(-1)).toMatchObject({ type: "prune-summary", dryRun: true, runId: null, snapshots: 2, blobs: 3, failed: 0 });

    expect(await bucket()).toEqual(before);
    expect((await snapshots()).map((x) => x.id)).toEqual([...s].reverse());
    expect(ledgerRows("SELECT * FROM deletions")).toEqual([]);
  });

  it("deletes exactly the planned snapshots' objects and rows and the blobs no remaining snapshot references; a kept snapshot still restores", async () => {
    const all = await snapshots();
    const kept = all.filter((x) => ![s[0], s[1]].includes(x.id));
    const keptBlobs = new Set(kept.flatMap(blobKeysOf));
    const droppedBlobs = [...new Set([s[0], s[1]].flatMap((id) => blobKeysOf(all.find((x) => x.id === id)!)))].filter((k) => !keptBlobs.has(k));
    const before = await bucket();
    const deletedObjects = before.filter((k) => k.startsWith(`alpha/${s[0]}/`) || k.startsWith(`alpha/${s[1]}/`));
    expect(deletedObjects.length).toBeGreaterThanOrEqual(6); // two artifacts and a manifest each
    expect(droppedBlobs).toHaveLength(3);
    expect(keptBlobs.size).toBeGreaterThan(0);

    const result = await fleet.controller(["prune", "--all"]);
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toMatch(new RegExp(`${s[0]}.*DELETE\\s+no rule keeps it\\s+deleted \\(3 objects\\)`));
    expect(result.stdout).toMatch(/deleted 2 snapshot\(s\) \(6 objects\) and 3 blob\(s\) in run-[0-9a-f]+/);

    const after = await bucket();
    expect(after).toEqual(before.filter((k) => !deletedObjects.includes(k) && !droppedBlobs.includes(k)));
    for (const k of keptBlobs) expect(after).toContain(k);
    for (const x of kept) for (const a of x.artifacts) expect(after).toContain(a.key);

    expect((await snapshots()).map((x) => x.id)).toEqual([s[4], s[3], s[2]]);
    const listing = await fleet.controller(["snapshots"]);
    expect(listing.stdout).not.toContain(s[0]!);
    expect(listing.stdout).not.toContain(s[1]!);

    const runs = ledgerRows("SELECT id, status FROM runs WHERE kind = 'prune'");
    expect(runs).toEqual([{ id: expect.stringMatching(/^run-/), status: "ok" }]);
    const deletions = ledgerRows("SELECT snapshot_id, object_key, rule, destination, run_id FROM deletions ORDER BY id");
    expect(deletions.filter((d) => d.rule === "no rule keeps it").map((d) => d.object_key).sort()).toEqual([...deletedObjects].sort());
    expect(deletions.filter((d) => d.rule === "unreferenced blob").map((d) => d.object_key).sort()).toEqual([...droppedBlobs].sort());
    expect(new Set(deletions.map((d) => `${d.destination} ${d.run_id}`))).toEqual(new Set([`s3 ${runs[0]!.id}`]));
    expect(ledgerRows("SELECT object_key FROM blobs").map((r) => r.object_key).sort()).toEqual([...keptBlobs].sort());

    // A second prune has nothing left to delete.
    const again = await fleet.controller(["prune", "--host", "alpha", "--json"]);
    expect(jsonLines(again.stdout).at(-1)).toMatchObject({ type: "prune-summary", snapshots: 0, blobs: 0, failed: 0 });

    // The oldest kept snapshot (the verified one) restores, shared blobs and all.
    const into = path.join(fleet.hosts.alpha!.home, "restored");
    const restore = await fleet.controller(["restore", "--from", "alpha", "--snapshot", s[2]!, "--into", into, "--yes"]);
    expect(restore.code, restore.stdout + restore.stderr).toBe(0);
    // --into DIR: each instance under DIR/<instance>, its paths relative to the folder above them.
    expect(fs.readFileSync(path.join(into, "files", path.basename(data), "notes.txt"), "utf8")).toBe("retention, backup 2\n");
    // Blobs come back by content (the blob area keeps no mtimes): compare content and modes.
    const contents = (root: string) => Object.fromEntries(Object.entries(listTree(root)).map(([rel, e]) => [rel, { ...e, mtimeS: undefined }]));
    expect(contents(path.join(into, "ollama", path.basename(models)))).toEqual(contents(models));
  });
});
