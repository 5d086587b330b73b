// Retention's garbage collection of chunks, end to end: real sshd hosts, the real agent, the real
// controller CLI; alpha's snapshots in S3 (s3rver behind the enforcing front: the controller
// deletes with its own key, DeleteObjects), beta's in a directory on beta (its agent deletes,
// through a signed prune job). Four backups of a few MiB of pseudo-random files, one file
// rewritten before each; prune keeps the last two; exactly the chunks no remaining snapshot
// references are gone from storage and the ledger, and every remaining snapshot restores byte for byte.
import * as crypto from "node:crypto";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chunkRows, snapshotChunkKeys } from "../harness/chunk-rows";
import { jsonLines } from "../harness/controller-cli";
import { startFleet, type Fleet } from "../harness/fleet";
import { listStored } from "./stored-object";

/** Files of the data tree (over 1 MiB each: a tar unit and a few chunks of their own). */
const FILES = 5;
const FILE_BYTES = 1536 * 1024;
const BACKUPS = 4;

const HOSTS = { alpha: "s3", beta: "local" } as const;
type Host = keyof typeof HOSTS;

/** Relative path → SHA-256 of every file under `root`. */
function contents(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const rel of (fs.readdirSync(root, { recursive: true }) as string[]).sort()) {
    const full = path.join(root, rel);
    if (fs.statSync(full).isFile()) out[rel] = crypto.createHash("sha256").update(fs.readFileSync(full)).digest("hex");
  }
  return out;
}

describe("prune collects the chunks no remaining snapshot references (S3 and a directory on the host)", () => {
  let fleet: Fleet;
  const data = {} as Record<Host, string>;
  /** Per host, its snapshot ids oldest first, and what its data held at each. */
  const taken = {} as Record<Host, { id: string; files: Record<string, string> }[]>;
  const ledgerFile = () => path.join(fleet.state, "ledger.db");
  const chunkKeys = (host: Host) => chunkRows(fleet.state, host).map((r) => r.objectKey);
  /** The chunk objects that snapshots `ids` of `host` reference, as the ledger has them. */
  const referenced = (host: Host, ids: string[]) => snapshotChunkKeys(fleet.state, host, ids);

  beforeAll(async () => {
    fleet = await startFleet(Object.keys(HOSTS));
    expect((await fleet.controller(["init"])).code).toBe(0);
    fleet.writeInventory(
      Object.fromEntries(
        (Object.keys(HOSTS) as Host[]).map((host) => {
          data[host] = path.join(fleet.hosts[host]!.home, "data");
          return [host, { destination: HOSTS[host], plugins: { files: { paths: [data[host]] } } }];
        }),
      ),
    );
    const text = fs.readFileSync(fleet.inventory, "utf8");
    const doc = JSON.parse(text.slice(text.indexOf("\n") + 1)) as { hosts: Record<string, Record<string, unknown>> };
    for (const host of Object.keys(HOSTS)) doc.hosts[host]!.retention = { keepLast: 2 };
    fs.writeFileSync(fleet.inventory, `# written by test/e2e/prune-chunks.test.ts\n${JSON.stringify(doc, null, 2)}\n`);

    for (const host of Object.keys(HOSTS) as Host[]) {
      fs.mkdirSync(data[host], { recursive: true });
      for (let f = 0; f < FILES; f++) fs.writeFileSync(path.join(data[host], `file-${f}.bin`), crypto.randomBytes(FILE_BYTES));
      taken[host] = [];
    }
    for (let b = 0; b < BACKUPS; b++) {
      for (const host of Object.keys(HOSTS) as Host[]) {
        // Before each backup but the first, one file is rewritten: its chunks are new, the others' shared.
        if (b > 0) fs.writeFileSync(path.join(data[host], `file-${b - 1}.bin`), crypto.randomBytes(FILE_BYTES));
        execFileSync("chown", ["-R", `${fleet.hosts[host]!.user}:${fleet.hosts[host]!.user}`, data[host]]);
      }
      const run = await fleet.controller(["run", "--all", "--json"]);
      expect(run.code, run.stdout + run.stderr).toBe(0);
      for (const host of Object.keys(HOSTS) as Host[]) taken[host].push({ id: "", files: contents(data[host]) });
    }
    const listed = await fleet.controller(["snapshots", "--json"]);
    const snapshots = (JSON.parse(listed.stdout) as { snapshots: { host: Host; id: string; artifacts: { compression: string }[] }[] }).snapshots;
    for (const host of Object.keys(HOSTS) as Host[]) {
      const ids = snapshots.filter((s) => s.host === host).map((s) => s.id).sort();
      expect(ids).toHaveLength(BACKUPS);
      ids.forEach((id, i) => (taken[host][i]!.id = id));
      for (const s of snapshots.filter((x) => x.host === host)) expect(s.artifacts.map((a) => a.compression)).toEqual(["chunked"]);
    }
  }, 600_000);

  afterAll(async () => {
    await fleet?.stop();
  });

  it("plans the garbage in a dry run, per host and destination, and deletes nothing", async () => {
    const before = await Promise.all((Object.keys(HOSTS) as Host[]).map((host) => listStored(fleet, HOSTS[host], `${host}/chunks/`)));
    const dry = await fleet.controller(["prune", "--all", "--dry-run", "--json"]);
    expect(dry.code, dry.stdout + dry.stderr).toBe(0);
    const lines = jsonLines(dry.stdout);
    for (const host of Object.keys(HOSTS) as Host[]) {
      const kept = taken[host].slice(-2).map((s) => s.id);
      const garbage = chunkKeys(host).filter((k) => !referenced(host, kept).includes(k));
      // Two rewritten files' old chunks: at least one chunk each.
      expect(garbage.length).toBeGreaterThanOrEqual(2);
      const line = lines.find((l) => l.type === "prune-host" && l.host === host) as { chunks: { destination: string; chunks: number; result: string }[] };
      expect(line.chunks).toEqual([expect.objectContaining({ destination: HOSTS[host], rule: "unreferenced chunk", chunks: garbage.length, deleted: 0, result: "planned" })]);
    }
    const summary = lines.at(-1) as { chunks: number };
    expect(summary).toMatchObject({ type: "prune-summary", dryRun: true, snapshots: 4 });
    expect(summary.chunks).toBe(line(lines, "alpha").chunks[0]!.chunks + line(lines, "beta").chunks[0]!.chunks);
    const text = await fleet.controller(["prune", "--all", "--dry-run"]);
    expect(text.stdout).toMatch(/chunks in "s3": \d+ no snapshot references \([\d.]+ [KM]iB\): DELETE \(unreferenced chunk\)/);
    expect(text.stdout).toMatch(/dry run: would delete 4 snapshot\(s\) \(\d+ objects\), 0 blob\(s\) and \d+ chunk\(s\) \([\d.]+ MiB\); nothing was deleted/);
    const after = await Promise.all((Object.keys(HOSTS) as Host[]).map((host) => listStored(fleet, HOSTS[host], `${host}/chunks/`)));
    expect(after).toEqual(before);
  });

  it("deletes exactly the chunk objects no remaining snapshot references, records them, and every remaining snapshot restores byte for byte", async () => {
    const expected = {} as Record<Host, { garbage: string[]; live: string[]; before: string[] }>;
    for (const host of Object.keys(HOSTS) as Host[]) {
      const live = referenced(host, taken[host].slice(-2).map((s) => s.id));
      const before = await listStored(fleet, HOSTS[host], `${host}/chunks/`);
      // The ledger knows every chunk object in storage (no job failed).
      expect(before).toEqual(chunkKeys(host));
      expected[host] = { garbage: before.filter((k) => !live.includes(k)), live, before };
    }

    const requestsBefore = fleet.s3.requests.length;
    const result = await fleet.controller(["prune", "--all", "--json"]);
    expect(result.code, result.stdout + result.stderr).toBe(0);
    // In S3, chunks go by the thousand (DeleteObjects), not one request each.
    const deletes = fleet.s3.requests.slice(requestsBefore).filter((r) => r.action === "DeleteObjects" || r.action === "DeleteObject");
    expect(deletes.filter((r) => r.action === "DeleteObjects").map((r) => r.key.split(" ").map((k) => k.replace(/^fleet\//, "")).sort())).toEqual([expected.alpha.garbage]);
    expect(deletes.filter((r) => r.action === "DeleteObject").every((r) => !r.key.includes("/chunks/"))).toBe(true);
    const lines = jsonLines(result.stdout);
    const summary = lines.at(-1) as { runId: string; chunks: number; failed: number };
    expect(summary).toMatchObject({ type: "prune-summary", dryRun: false, snapshots: 4, failed: 0 });
    expect(summary.chunks).toBe(expected.alpha.garbage.length + expected.beta.garbage.length);
    for (const host of Object.keys(HOSTS) as Host[]) {
      const { garbage, live } = expected[host];
      expect(line(lines, host).chunks).toEqual([expect.objectContaining({ chunks: garbage.length, deleted: garbage.length, result: "deleted" })]);
      // Storage holds exactly the chunks of the two snapshots kept; the ledger the same.
      expect(await listStored(fleet, HOSTS[host], `${host}/chunks/`)).toEqual(live);
      expect(chunkKeys(host)).toEqual(live);
      const db = new Database(ledgerFile(), { readonly: true });
      try {
        const deleted = db.prepare("SELECT object_key FROM deletions WHERE host = ? AND rule = 'unreferenced chunk' AND run_id = ?").pluck().all(host, summary.runId) as string[];
        expect(deleted.sort()).toEqual(garbage);
      } finally {
        db.close();
      }
    }

    // Every snapshot left restores, each file as it was when the snapshot was taken.
    for (const host of Object.keys(HOSTS) as Host[]) {
      for (const s of taken[host].slice(-2)) {
        const into = path.join(fleet.hosts[host]!.home, `restored-${s.id}`);
        const restore = await fleet.controller(["restore", "--from", host, "--snapshot", s.id, "--into", into, "--yes"]);
        expect(restore.code, restore.stdout + restore.stderr).toBe(0);
        expect(contents(path.join(into, "files", path.basename(data[host])))).toEqual(s.files);
      }
    }

    // A second prune finds nothing more.
    const again = await fleet.controller(["prune", "--all", "--json"]);
    expect(again.code, again.stdout + again.stderr).toBe(0);
    expect(jsonLines(again.stdout).at(-1)).toMatchObject({ snapshots: 0, chunks: 0, failed: 0 });
  });
});

/** The prune-host line of `host`. */
function line(lines: Record<string, unknown>[], host: string): { chunks: { chunks: number }[] } {
  return lines.find((l) => l.type === "prune-host" && l.host === host) as never;
}
