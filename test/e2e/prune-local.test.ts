// A destination only its host reaches (`local`: a directory on the host): the controller reads it over the
// host's SSH login (fetch, stored verify, ledger rebuild), and for retention
// plans, the host's agent deletes exactly what a signed prune job names, the ledger follows. Real sshd
// host, real agent, the directory checked on disk.
import * as fs from "node:fs";
import * as path from "node:path";
import { execFileSync } from "node:child_process";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFleet, type Fleet } from "../harness/fleet";

describe("a local destination (a directory on the host): read over its SSH login, pruned by its agent", () => {
  let fleet: Fleet;
  let data: string;
  const ids: string[] = [];
  const store = () => path.join(fleet.dir, "local-store");
  const folders = () => (fs.existsSync(path.join(store(), "alpha")) ? fs.readdirSync(path.join(store(), "alpha")).sort() : []);

  beforeAll(async () => {
    fleet = await startFleet(["alpha"]);
    data = path.join(fleet.hosts.alpha!.home, "data");
    fs.mkdirSync(data);
    execFileSync("chown", ["-R", `${fleet.hosts.alpha!.user}:${fleet.hosts.alpha!.user}`, data]);
    expect((await fleet.controller(["init"])).code).toBe(0);
    fleet.writeInventory({ alpha: { destination: "local", plugins: { files: { paths: [data] } } } });
    const text = fs.readFileSync(fleet.inventory, "utf8");
    const doc = JSON.parse(text.slice(text.indexOf("\n") + 1)) as { hosts: Record<string, Record<string, unknown>> };
    doc.hosts.alpha!.retention = { keepLast: 1 };
    fs.writeFileSync(fleet.inventory, `# written by test/e2e/prune-local.test.ts\n${JSON.stringify(doc, null, 2)}\n`);
    for (let i = 0; i < 3; i++) {
      fs.writeFileSync(path.join(data, "notes.txt"), `backup ${i}\n`);
      const run = await fleet.controller(["run", "--host", "alpha"]);
      expect(run.code, run.stdout + run.stderr).toBe(0);
    }
    const listed = await fleet.controller(["snapshots", "--host", "alpha", "--json"]);
    ids.push(...(JSON.parse(listed.stdout) as { snapshots: { id: string }[] }).snapshots.map((x) => x.id));
    expect(ids).toHaveLength(3);
    expect(folders()).toEqual([...ids].sort());
  }, 300_000);

  afterAll(async () => {
    await fleet?.stop();
  });

  it("plans in a dry run without touching the host's directory", async () => {
    const dry = await fleet.controller(["prune", "--host", "alpha", "--dry-run"]);
    expect(dry.code, dry.stdout + dry.stderr).toBe(0);
    expect(dry.stdout).toMatch(/would delete 2 snapshot\(s\)/);
    expect(folders()).toEqual([...ids].sort());
  });

  it("reads the host's directory over its SSH login for fetch, stored verification and a ledger rebuild", async () => {
    const out = path.join(fleet.dir, "files.tar");
    const fetched = await fleet.controller(["fetch", "--from", "alpha", "--snapshot", ids[1]!, "--artifact", "files/files.tar", "--out", out]);
    expect(fetched.code, fetched.stdout + fetched.stderr).toBe(0);
    expect(execFileSync("tar", ["-xOf", out, `${data.slice(1)}/notes.txt`], { encoding: "utf8" })).toBe("backup 1\n");

    const verified = await fleet.controller(["verify", "--host", "alpha", "--level", "stored"]);
    expect(verified.code, verified.stdout + verified.stderr).toBe(0);

    const ledger = path.join(fleet.state, "ledger.db");
    fs.copyFileSync(ledger, `${ledger}.kept`);
    try {
      for (const suffix of ["", "-wal", "-shm"]) fs.rmSync(`${ledger}${suffix}`, { force: true });
      expect((await fleet.controller(["init"])).code).toBe(0);
      const rebuilt = await fleet.controller(["ledger", "rebuild", "--destination", "local", "--json"]);
      expect(rebuilt.code, rebuilt.stdout + rebuilt.stderr).toBe(0);
      expect(JSON.parse(rebuilt.stdout.trim().split("\n").pop()!).destinations).toEqual([expect.objectContaining({ destination: "local", host: "alpha", manifests: 3, added: 3, failed: [] })]);
    } finally {
      for (const suffix of ["", "-wal", "-shm"]) fs.rmSync(`${ledger}${suffix}`, { force: true });
      fs.renameSync(`${ledger}.kept`, ledger);
    }
  });

  it("deletes the two older snapshots' folders on the host, records the deletions, and the newest still restores", async () => {
    // An object the ledger does not know, inside a folder to delete: it goes too (the folder is named, not only its keys).
    const stray = path.join(store(), "alpha", ids[2]!, "files", "planted.age");
    fs.writeFileSync(stray, "an object the ledger does not know");
    const result = await fleet.controller(["prune", "--host", "alpha"]);
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toMatch(/deleted 2 snapshot\(s\)/);
    // Empty folders may stay behind; no object of the deleted snapshots does.
    const left = (id: string) => (fs.existsSync(path.join(store(), "alpha", id)) ? (fs.readdirSync(path.join(store(), "alpha", id), { recursive: true }) as string[]).filter((p) => fs.statSync(path.join(store(), "alpha", id, p)).isFile()) : []);
    expect(left(ids[1]!)).toEqual([]);
    expect(left(ids[2]!)).toEqual([]);
    expect(left(ids[0]!).length).toBeGreaterThan(0);

    const db = new Database(path.join(fleet.state, "ledger.db"), { readonly: true });
    try {
      expect(db.prepare("SELECT id FROM snapshots WHERE host = 'alpha'").pluck().all()).toEqual([ids[0]]);
      expect(db.prepare("SELECT kind, status FROM jobs WHERE kind = 'prune'").all()).toEqual([{ kind: "prune", status: "ok" }]);
      expect(new Set(db.prepare("SELECT snapshot_id FROM deletions WHERE rule = 'no rule keeps it'").pluck().all())).toEqual(new Set([ids[1], ids[2]]));
    } finally {
      db.close();
    }

    const into = path.join(fleet.hosts.alpha!.home, "restored");
    const restore = await fleet.controller(["restore", "--from", "alpha", "--snapshot", "latest", "--into", into, "--yes"]);
    expect(restore.code, restore.stdout + restore.stderr).toBe(0);
    // --into DIR: each instance under DIR/<instance>, its paths relative to the folder above them.
    expect(fs.readFileSync(path.join(into, "files", path.basename(data), "notes.txt"), "utf8")).toBe("backup 2\n");
  });
});
