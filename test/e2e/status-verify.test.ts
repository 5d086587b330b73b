// End to end, through the real controller CLI and real hosts (sshd per host, s3rver, an rclone
// remote over SFTP): `status` as a monitoring check, verification rotation (`verify --due`), and
// restore drills and real restores measured as the hosts' restore times (RTO).
import * as fs from "node:fs";
import * as path from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jsonLines } from "../harness/controller-cli";
import { createApp, type AppData } from "../harness/app-data";
import { startFleet, type Fleet, type HostEntry } from "../harness/fleet";

interface StatusJson {
  type: "status";
  hosts: { host: string; states: string[]; ok: boolean; snapshot: { id: string } | null; verification: { unverified: string[] }; rto: { kind: string; onHost: string; durationMs: number; snapshotId: string; instances: Record<string, number> } | null }[];
  counts: Record<string, number>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("status, verification rotation and restore drills on a real fleet", () => {
  let fleet: Fleet;
  const apps: Record<string, AppData> = {};

  const write = (defaults: Record<string, unknown>) => {
    const hosts: Record<string, HostEntry> = {
      alpha: { destination: "s3", plugins: { files: { paths: [apps.alpha!.data], exclude: ["cache/"] }, db: { plugin: "sqlite", databases: [apps.alpha!.database] } } },
      beta: { destination: "sftp", plugins: { files: { paths: [apps.beta!.data], exclude: ["cache/"] } } },
      // A spare VPS to restore onto: nothing of its own to back up.
      gamma: { destination: "s3", plugins: {} },
    };
    fleet.writeInventory(hosts, { defaults });
  };

  async function status(args: string[] = []): Promise<{ code: number; doc: StatusJson; of: (host: string) => StatusJson["hosts"][number] }> {
    const result = await fleet.controller(["status", "--json", ...args]);
    expect([0, 1], result.stderr).toContain(result.code);
    const doc = JSON.parse(result.stdout) as StatusJson;
    return { code: result.code, doc, of: (host) => doc.hosts.find((h) => h.host === host)! };
  }

  /** Verification instances recorded after row `after`, as [host, instance, result]. */
  function verifiedSince(after: number): { rows: [string, string, string][]; last: number } {
    const db = new Database(path.join(fleet.state, "ledger.db"), { readonly: true });
    try {
      const rows = db.prepare("SELECT vi.verification_id AS id, vi.host, vi.instance, vi.result, v.duration_ms, v.on_host FROM verification_instances vi JOIN verifications v ON v.id = vi.verification_id WHERE vi.verification_id > ? ORDER BY vi.host, vi.instance").all(after) as { id: number; host: string; instance: string; result: string; duration_ms: number | null; on_host: string | null }[];
      for (const r of rows) {
        expect(r.duration_ms, `${r.host}/${r.instance} duration`).toBeGreaterThan(0);
        expect(r.on_host).toBe(r.host);
      }
      const last = (db.prepare("SELECT coalesce(max(id), 0) AS n FROM verifications").get() as { n: number }).n;
      return { rows: rows.map((r) => [r.host, r.instance, r.result]), last };
    } finally {
      db.close();
    }
  }

  beforeAll(async () => {
    fleet = await startFleet(["alpha", "beta", "gamma"]);
    apps.alpha = createApp(fleet.hosts.alpha!);
    apps.beta = createApp(fleet.hosts.beta!);
    const init = await fleet.controller(["init"]);
    expect(init.code, init.stderr).toBe(0);
  });

  afterAll(async () => {
    await fleet?.stop();
  });

  it("before any backup, status exits 1 with the hosts STALE and UNVERIFIED, and the restore target fine", async () => {
    write({ maxAge: "1h", verifyEvery: "1h" });
    const { code, of, doc } = await status();
    expect(code).toBe(1);
    expect(of("alpha").states).toEqual(["STALE", "UNVERIFIED"]);
    expect(of("beta").states).toEqual(["STALE", "UNVERIFIED"]);
    expect(of("gamma").states).toEqual(["restore-target"]);
    expect(doc.counts).toMatchObject({ hosts: 3, problems: 2, restoreTargets: 1 });
  });

  it("after backups, verify --due verifies exactly the due plugin instances, then nothing is due and status exits 0", async () => {
    const run = await fleet.controller(["run", "--all"]);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.stderr).toContain("skipping gamma");
    const manual = await fleet.controller(["verify", "--host", "alpha", "--plugins", "db"]);
    expect(manual.code, manual.stdout + manual.stderr).toBe(0);
    let since = verifiedSince(0);
    expect(since.rows).toEqual([["alpha", "db", "ok"]]);

    const before = await status();
    expect(before.code).toBe(1);
    expect(before.of("alpha").states).toEqual(["UNVERIFIED"]);
    expect(before.of("alpha").verification.unverified).toEqual(["files"]);
    expect(before.of("beta").verification.unverified).toEqual(["files"]);

    const due = await fleet.controller(["verify", "--due", "--json"]);
    expect(due.code, due.stdout + due.stderr).toBe(0);
    const lines = jsonLines(due.stdout);
    const list = lines.find((l) => l.type === "due")!.verifications as { host: string; instances: string[]; snapshotId: string }[];
    expect(list.map((d) => [d.host, d.instances])).toEqual([
      ["alpha", ["files"]],
      ["beta", ["files"]],
    ]);
    expect(list.find((d) => d.host === "alpha")!.snapshotId).toBe(before.of("alpha").snapshot!.id);
    const summaries = lines.filter((l) => l.type === "host-summary") as { host: string; status: string; checks: string[] }[];
    expect(summaries.map((s) => [s.host, s.status]).sort()).toEqual([
      ["alpha", "ok"],
      ["beta", "ok"],
    ]);
    expect(summaries.find((s) => s.host === "alpha")!.checks.every((c) => c.startsWith("files: "))).toBe(true);
    since = verifiedSince(since.last);
    expect(since.rows).toEqual([
      ["alpha", "files", "ok"],
      ["beta", "files", "ok"],
    ]);

    const again = await fleet.controller(["verify", "--due"]);
    expect(again.code, again.stdout + again.stderr).toBe(0);
    expect(again.stdout).toContain("nothing is due");
    expect(verifiedSince(since.last).rows).toEqual([]);

    const after = await status();
    expect(after.code).toBe(0);
    expect(after.doc.hosts.map((h) => [h.host, h.states])).toEqual([
      ["alpha", ["fresh"]],
      ["beta", ["fresh"]],
      ["gamma", ["restore-target"]],
    ]);
    const text = await fleet.controller(["status"]);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^alpha\s+fresh\s/m);
    expect(text.stdout).toContain("3 hosts: 2 fresh, 1 restore target");
  });

  it("verify --all passes the restore target by with one line instead of failing", async () => {
    const all = await fleet.controller(["verify", "--all"]);
    expect(all.code, all.stdout + all.stderr).toBe(0);
    expect(all.stderr.trim().split("\n")).toEqual(["controller verify: skipping gamma: no plugins (nothing to verify)"]);
    expect(all.stdout).toContain("2/2 snapshots verified");
  });

  it("a drill on the spare host and a real restore onto it are recorded as restore times, and status shows the newest as RTO", async () => {
    const drill = await fleet.controller(["verify", "--drill", "--host", "alpha", "--on", "gamma"]);
    expect(drill.code, drill.stdout + drill.stderr).toBe(0);
    expect(drill.stdout).toContain("recorded as the restore time of alpha");
    const { of } = await status();
    const rto = of("alpha").rto!;
    expect(rto).toMatchObject({ kind: "drill", onHost: "gamma", snapshotId: of("alpha").snapshot!.id });
    expect(Object.keys(rto.instances).sort()).toEqual(["db", "files"]);
    expect(rto.durationMs).toBeGreaterThan(0);
    expect(rto.durationMs).toBeGreaterThanOrEqual(rto.instances.files! + rto.instances.db!);
    expect(of("beta").rto).toBeNull();

    const into = path.join(fleet.hosts.gamma!.home, "from-beta");
    const restore = await fleet.controller(["restore", "--from", "beta", "--snapshot", "latest", "--to", "gamma", "--into", into, "--yes"]);
    expect(restore.code, restore.stdout + restore.stderr).toBe(0);
    expect(fs.existsSync(path.join(into, "files", path.basename(apps.beta!.data), "README.txt"))).toBe(true);
    const after = await status();
    expect(after.of("beta").rto).toMatchObject({ kind: "restore", onHost: "gamma", instances: { files: expect.any(Number) } });
    const text = await fleet.controller(["status"]);
    expect(text.stdout).toMatch(/^alpha\s.*\(drill \S+ ago\)/m);
    expect(text.stdout).toMatch(/^beta\s.*\(restore \S+ ago\)/m);
  });

  it("with maxAge 2s, once it has passed, the hosts are STALE and status exits 1; the restore target alone is fine", async () => {
    write({ maxAge: "2s", verifyEvery: "1h" });
    await sleep(2500);
    const { code, of } = await status();
    expect(code).toBe(1);
    expect(of("alpha").states).toEqual(["STALE"]);
    expect(of("beta").states).toEqual(["STALE"]);
    expect(of("gamma").states).toEqual(["restore-target"]);
    const text = await fleet.controller(["status"]);
    expect(text.code).toBe(1);
    expect(text.stdout).toMatch(/alpha: STALE: newest complete snapshot \S+ is \d+s old, more than maxAge 2s/);
    const target = await fleet.controller(["status", "--host", "gamma"]);
    expect(target.code, target.stdout).toBe(0);
  });
});
