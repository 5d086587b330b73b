// A lost controller disk costs history, not backups: the ledger is rebuilt from the manifests in
// storage (real sshd host, the enforcing S3 front), and a snapshot restores byte for byte after it;
// `controller fetch` opens one artifact on the controller without touching any host.
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { CopyObjectCommand, DeleteObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import * as crypto from "node:crypto";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp, type AppData } from "../harness/app-data";
import { chunkRows, snapshotChunkKeys } from "../harness/chunk-rows";
import { startFleet, type Fleet, type HostEntry } from "../harness/fleet";
import { listTree } from "../harness/tree";

interface SnapshotJson {
  id: string;
  status: string;
  artifacts: { instance: string; name: string; key: string; sha256: string; compression: string; plainSize: number; chunks?: { count: number; uploaded: number; uploadedBytes: number; reusedBytes: number } }[];
}

/** The chunk rows of the ledger in `state` (what a rebuild must recover, but for ids, times and uploaders), and each snapshot's chunk objects. */
function chunkRecord(state: string): { chunks: unknown[]; sets: Record<string, string[]> } {
  const chunks = chunkRows(state, "alpha").map(({ id: _id, snapshotId: _uploader, recordedAt: _at, ...row }) => row);
  const db = new Database(path.join(state, "ledger.db"), { readonly: true });
  let ids: string[];
  try {
    ids = db.prepare("SELECT id FROM snapshots WHERE host = 'alpha' ORDER BY id").pluck().all() as string[];
  } finally {
    db.close();
  }
  return { chunks, sets: Object.fromEntries(ids.map((id) => [id, snapshotChunkKeys(state, "alpha", [id])])) };
}

describe("ledger rebuild and fetch", () => {
  let fleet: Fleet;
  let app: AppData;
  const entry = (): HostEntry => ({ destination: "s3", plugins: { files: { paths: [app.data], exclude: ["cache/", "audit.log"] }, db: { plugin: "sqlite", databases: [app.database] } } });

  async function snapshots(): Promise<SnapshotJson[]> {
    const result = await fleet.controller(["snapshots", "--host", "alpha", "--json"]);
    expect(result.code, `${result.stdout}\n${result.stderr}`).toBe(0);
    return (JSON.parse(result.stdout) as { snapshots: SnapshotJson[] }).snapshots;
  }

  const s3 = () => fleet.s3.client();

  beforeAll(async () => {
    fleet = await startFleet(["alpha"]);
    app = createApp(fleet.hosts.alpha!);
    expect((await fleet.controller(["init"])).code).toBe(0);
    fleet.writeInventory({ alpha: entry() });
    for (let i = 0; i < 2; i++) {
      const run = await fleet.controller(["run", "--host", "alpha"]);
      expect(run.code, `${run.stdout}\n${run.stderr}`).toBe(0);
    }
  });

  afterAll(async () => {
    await fleet?.stop();
  });

  it("fetches one artifact onto the controller, checked against the ledger, and refuses to overwrite a file", async () => {
    const out = path.join(fleet.dir, "fetched.db");
    const result = await fleet.controller(["fetch", "--from", "alpha", "--artifact", "db/webui.db", "--out", out]);
    expect(result.code, `${result.stdout}\n${result.stderr}`).toBe(0);
    expect(result.stdout).toContain("checked against the ledger");
    expect(execFileSync("sqlite3", [out, "SELECT count(*) FROM chat; PRAGMA integrity_check;"], { encoding: "utf8" }).trim().split("\n")).toEqual(["2000", "ok"]);
    const again = await fleet.controller(["fetch", "--from", "alpha", "--artifact", "db/webui.db", "--out", out]);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain("the file exists");
    const unknown = await fleet.controller(["fetch", "--from", "alpha", "--artifact", "db/nope", "--out", path.join(fleet.dir, "x")]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/holds: .*files\/files\.tar.*db\/webui\.db|holds: .*db\/webui\.db.*files\/files\.tar/);
  });

  it("fetches nothing when the stored object was altered, and exits 1", async () => {
    const [latest] = await snapshots();
    const key = `fleet/${latest!.artifacts.find((a) => a.instance === "db")!.key}`;
    const client = s3();
    try {
      await client.send(new CopyObjectCommand({ Bucket: fleet.s3.bucket, Key: `${key}.orig`, CopySource: `${fleet.s3.bucket}/${key}` }));
      // Replace it by another artifact's object: valid age, wrong hash.
      const other = `fleet/${latest!.artifacts.find((a) => a.instance === "files")!.key}`;
      await client.send(new CopyObjectCommand({ Bucket: fleet.s3.bucket, Key: key, CopySource: `${fleet.s3.bucket}/${other}` }));
      const out = path.join(fleet.dir, "tampered.db");
      const result = await fleet.controller(["fetch", "--from", "alpha", "--artifact", "db/webui.db", "--out", out]);
      expect(result.code).toBe(1);
      expect(result.stderr).toContain("Cannot trust stored object");
      expect(fs.existsSync(out)).toBe(false);
      expect(fs.readdirSync(fleet.dir).filter((n) => n.includes("lifeboat-fetch"))).toEqual([]);
    } finally {
      await client.send(new CopyObjectCommand({ Bucket: fleet.s3.bucket, Key: key, CopySource: `${fleet.s3.bucket}/${key}.orig` }));
      await client.send(new DeleteObjectCommand({ Bucket: fleet.s3.bucket, Key: `${key}.orig` }));
      client.destroy();
    }
  });

  it("rebuilds a deleted ledger from storage, chunks included; the rebuilt snapshot restores byte for byte", async () => {
    const before = await snapshots();
    expect(before.filter((s) => s.status === "complete")).toHaveLength(2);
    expect(before[0]!.artifacts.find((a) => a.instance === "files")!.compression).toBe("chunked");
    const chunksBefore = chunkRecord(fleet.state);
    expect(chunksBefore.chunks.length).toBeGreaterThan(0);
    for (const suffix of ["", "-wal", "-shm"]) fs.rmSync(path.join(fleet.state, `ledger.db${suffix}`), { force: true });
    const lost = await fleet.controller(["snapshots", "--host", "alpha"]);
    expect(lost.code).toBe(2);
    expect(lost.stderr).toContain("controller init");
    expect((await fleet.controller(["init"])).code).toBe(0);
    expect(await snapshots()).toEqual([]);

    const rebuilt = await fleet.controller(["ledger", "rebuild", "--json"]);
    expect(rebuilt.code, `${rebuilt.stdout}\n${rebuilt.stderr}`).toBe(0);
    const report = JSON.parse(rebuilt.stdout.trim().split("\n").pop()!) as { destinations: { destination: string; manifests: number; added: number; failed: unknown[] }[] };
    // Every destination the controller can read is searched (here also the rclone vault, empty).
    expect(report.destinations).toEqual(expect.arrayContaining([expect.objectContaining({ destination: "s3", manifests: 2, added: 2, failed: [] }), expect.objectContaining({ destination: "sftp", manifests: 0, failed: [] })]));
    const after = await snapshots();
    expect(after.map((s) => [s.id, s.status, s.artifacts.map((a) => [a.key, a.sha256]).sort()])).toEqual(before.map((s) => [s.id, s.status, s.artifacts.map((a) => [a.key, a.sha256]).sort()]));
    // Every chunk as the backups recorded it (keyed name, stored hash and size, the host key), and each snapshot's set.
    expect(chunkRecord(fleet.state)).toEqual(chunksBefore);

    // Run again: nothing new, nothing lost.
    const again = await fleet.controller(["ledger", "rebuild", "--destination", "s3", "--json"]);
    expect(JSON.parse(again.stdout.trim().split("\n").pop()!).destinations[0]).toMatchObject({ added: 0, known: 2 });

    const into = path.join(fleet.hosts.alpha!.home, "restored");
    const restore = await fleet.controller(["restore", "--from", "alpha", "--snapshot", "latest", "--plugins", "files", "--into", into, "--yes"]);
    expect(restore.code, `${restore.stdout}\n${restore.stderr}`).toBe(0);
    const excluded = (rel: string) => rel === "cache" || rel.startsWith("cache/") || rel === "audit.log";
    const source = Object.fromEntries(Object.entries(listTree(app.data)).filter(([rel]) => !excluded(rel)));
    expect(listTree(path.join(into, "files", path.basename(app.data)))).toEqual(source);
  });

  it("records no manifest that describes another snapshot than its folder, and says why", async () => {
    const [latest, older] = await snapshots();
    const client = s3();
    const moved = `fleet/alpha/20200101T000000Z-dead/manifest.json.age`;
    try {
      await client.send(new CopyObjectCommand({ Bucket: fleet.s3.bucket, Key: moved, CopySource: `${fleet.s3.bucket}/fleet/alpha/${older!.id}/manifest.json.age` }));
      const rebuilt = await fleet.controller(["ledger", "rebuild", "--destination", "s3", "--json"]);
      expect(rebuilt.code).toBe(1);
      const report = JSON.parse(rebuilt.stdout.trim().split("\n").pop()!) as { destinations: { failed: { key: string; reason: string }[]; known: number }[] };
      expect(report.destinations[0]!.known).toBe(2);
      expect(report.destinations[0]!.failed).toEqual([{ key: "alpha/20200101T000000Z-dead/manifest.json.age", reason: expect.stringContaining(`describes "alpha"/"${older!.id}"`) }]);
      expect((await snapshots()).map((s) => s.id)).toEqual([latest!.id, older!.id]);
    } finally {
      await client.send(new DeleteObjectCommand({ Bucket: fleet.s3.bucket, Key: moved }));
      client.destroy();
    }
  });

  it("records no planted manifest that says it is newer than now: it would become every job's latest snapshot", async () => {
    const recipient = /public key: (age1\S+)/.exec(fs.readFileSync(path.join(fleet.state, "age-identity.txt"), "utf8"))![1]!;
    const id = "20991231T000000Z-beef";
    const manifest = { format: "lifeboat-manifest/1", host: "alpha", snapshotId: id, jobId: "job-x", startedAt: "2099-12-31T00:00:00.000Z", finishedAt: "2099-12-31T00:01:00.000Z", agentVersion: "0.1.0", runtime: "node", plugins: [], artifacts: [] };
    const encrypted = execFileSync("age", ["-r", recipient], { input: JSON.stringify(manifest) });
    const client = s3();
    const key = `fleet/alpha/${id}/manifest.json.age`;
    try {
      await client.send(new PutObjectCommand({ Bucket: fleet.s3.bucket, Key: key, Body: encrypted }));
      const rebuilt = await fleet.controller(["ledger", "rebuild", "--destination", "s3", "--json"]);
      expect(rebuilt.code).toBe(1);
      const report = JSON.parse(rebuilt.stdout.trim().split("\n").pop()!) as { destinations: { failed: { key: string; reason: string }[] }[] };
      expect(report.destinations[0]!.failed).toEqual([{ key: `alpha/${id}/manifest.json.age`, reason: expect.stringContaining("finished in the future") }]);
      expect((await snapshots()).map((x) => x.id)).not.toContain(id);
    } finally {
      await client.send(new DeleteObjectCommand({ Bucket: fleet.s3.bucket, Key: key }));
      client.destroy();
    }
  });

  it("opens the manifests with an offline identity alone, when the controller's keys are gone", async () => {
    const escrow = path.join(fleet.dir, "master-copy.txt");
    fs.copyFileSync(path.join(fleet.state, "age-identity.txt"), escrow);
    const state = path.join(fleet.dir, "new-state");
    expect((await fleet.controller(["init", "--state", state])).code).toBe(0);
    const rebuilt = await fleet.controller(["ledger", "rebuild", "--state", state, "--destination", "s3", "--identity", escrow, "--json"]);
    expect(rebuilt.code, `${rebuilt.stdout}\n${rebuilt.stderr}`).toBe(0);
    expect(JSON.parse(rebuilt.stdout.trim().split("\n").pop()!).destinations[0]).toMatchObject({ added: 2 });
    const listed = await fleet.controller(["snapshots", "--host", "alpha", "--state", state, "--json"]);
    expect((JSON.parse(listed.stdout) as { snapshots: unknown[] }).snapshots).toHaveLength(2);
    // The documented route: the offline identity becomes the new controller's master (init keeps it).
    const adopted = path.join(fleet.dir, "adopted-state");
    fs.mkdirSync(adopted, { mode: 0o700 });
    fs.copyFileSync(escrow, path.join(adopted, "age-identity.txt"));
    fs.chmodSync(path.join(adopted, "age-identity.txt"), 0o600);
    expect((await fleet.controller(["init", "--state", adopted])).code).toBe(0);
    const viaMaster = await fleet.controller(["ledger", "rebuild", "--state", adopted, "--destination", "s3", "--json"]);
    expect(JSON.parse(viaMaster.stdout.trim().split("\n").pop()!).destinations[0]).toMatchObject({ added: 2, failed: [] });
    // Found with the master key only, a snapshot is never opened on a host without the operator's --master-key:
    // the master identity would open every host's snapshots. On the controller, it is checked as it is.
    const refusedDeep = await fleet.controller(["verify", "--host", "alpha", "--state", adopted]);
    expect(refusedDeep.code).toBe(2);
    expect(refusedDeep.stderr).toContain("encrypted to the master key only");
    const stored = await fleet.controller(["verify", "--host", "alpha", "--level", "stored", "--state", adopted]);
    expect(stored.code, stored.stdout + stored.stderr).toBe(0);
    // Without a key that opens them, nothing is recorded and the hint says what to give.
    const keyless = path.join(fleet.dir, "keyless-state");
    expect((await fleet.controller(["init", "--state", keyless])).code).toBe(0);
    const refused = await fleet.controller(["ledger", "rebuild", "--state", keyless, "--destination", "s3"]);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toContain("no key of this controller opens it");
  });
  it("records no snapshot whose chunk index names another host's chunks, even with every hash matching the manifest", async () => {
    const recipient = /public key: (age1\S+)/.exec(fs.readFileSync(path.join(fleet.state, "age-identity.txt"), "utf8"))![1]!;
    const encrypt = (text: string) => execFileSync("age", ["-r", recipient], { input: text });
    const sha256 = (b: Buffer) => crypto.createHash("sha256").update(b).digest("hex");
    const [latest] = await snapshots();
    const id = `${latest!.id.slice(0, 16)}-f00d`;
    const chunk = encrypt("a chunk of beta's");
    const name = "be".repeat(32);
    const index = encrypt(JSON.stringify({ format: "lifeboat-chunks/1", size: 17, chunks: [{ key: `beta/chunks/be/${name}.age`, size: 17, sha256: sha256(Buffer.from("a chunk of beta's")), compression: "none", stored: { sha256: sha256(chunk), size: chunk.length } }] }));
    const artifact = { plugin: "files", instance: "files", name: "files.tar", key: `alpha/${id}/files/files.tar.age`, plainSize: 17, storedSize: index.length, sha256: sha256(index), compression: "chunked", metadata: {} };
    const manifest = { format: "lifeboat-manifest/1", host: "alpha", snapshotId: id, jobId: "job-x", startedAt: new Date(Date.now() - 60_000).toISOString(), finishedAt: new Date().toISOString(), agentVersion: "0.1.0", runtime: "node", plugins: [{ instance: "files", plugin: "files" }], artifacts: [artifact] };
    const planted = [
      [`fleet/beta/chunks/be/${name}.age`, chunk],
      [`fleet/${artifact.key}`, index],
      [`fleet/alpha/${id}/manifest.json.age`, encrypt(JSON.stringify(manifest))],
    ] as const;
    const client = s3();
    try {
      for (const [key, body] of planted) await client.send(new PutObjectCommand({ Bucket: fleet.s3.bucket, Key: key, Body: body }));
      const rebuilt = await fleet.controller(["ledger", "rebuild", "--destination", "s3", "--json"]);
      expect(rebuilt.code).toBe(1);
      const report = JSON.parse(rebuilt.stdout.trim().split("\n").pop()!) as { destinations: { failed: { key: string; reason: string }[] }[] };
      expect(report.destinations[0]!.failed).toEqual([{ key: `alpha/${id}/manifest.json.age`, reason: expect.stringMatching(/artifact files\/files\.tar: its chunk index is damaged \(its chunk 1 is malformed or outside alpha\/chunks\/\)/) }]);
      expect((await snapshots()).map((x) => x.id)).not.toContain(id);
      const db = new Database(path.join(fleet.state, "ledger.db"), { readonly: true });
      try {
        expect(db.prepare("SELECT count(*) FROM chunks WHERE object_key LIKE 'beta/%' OR host = 'beta'").pluck().get()).toBe(0);
      } finally {
        db.close();
      }
    } finally {
      for (const [key] of planted) await client.send(new DeleteObjectCommand({ Bucket: fleet.s3.bucket, Key: key }));
      client.destroy();
    }
  });

  it("after a rebuild, the next backup takes the rebuilt snapshot as its parent: unchanged data uploads nothing, and the new snapshot restores", async () => {
    const [rebuiltLatest] = await snapshots();
    const run = await fleet.controller(["run", "--host", "alpha"]);
    expect(run.code, `${run.stdout}\n${run.stderr}`).toBe(0);
    const [next] = await snapshots();
    expect(next!.id).not.toBe(rebuiltLatest!.id);
    const files = next!.artifacts.find((a) => a.instance === "files")!;
    expect(files.compression).toBe("chunked");
    // Every chunk referenced as the rebuilt ledger knows it: none uploaded again.
    expect(files.chunks).toMatchObject({ uploaded: 0, uploadedBytes: 0, reusedBytes: files.plainSize });
    expect(files.chunks!.count).toBeGreaterThan(0);
    const into = path.join(fleet.hosts.alpha!.home, "restored-after-rebuild");
    const restore = await fleet.controller(["restore", "--from", "alpha", "--snapshot", next!.id, "--plugins", "files", "--into", into, "--yes"]);
    expect(restore.code, `${restore.stdout}\n${restore.stderr}`).toBe(0);
    const excluded = (rel: string) => rel === "cache" || rel.startsWith("cache/") || rel === "audit.log";
    expect(listTree(path.join(into, "files", path.basename(app.data)))).toEqual(Object.fromEntries(Object.entries(listTree(app.data)).filter(([rel]) => !excluded(rel))));
  });
});
