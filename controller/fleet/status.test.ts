// Fleet status over a real ledger file and a real inventory, in real time; and the
// `controller status` command (the built bundle) as a monitoring check: its exit codes.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { controller } from "../../test/harness/controller-cli";
import { backUp, inventoryYaml, ledgerFixture, verifyDeep } from "../../test/harness/ledger-rows";
import { fleetStatus, PROBLEMS } from "./status";

const plugins = { files: { paths: ["/srv/data"] }, db: { plugin: "sqlite", databases: ["/srv/app.db"] } };
const both = [{ instance: "files" }, { instance: "db", plugin: "sqlite" }];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const days = (n: number) => new Date(Date.now() + n * 86_400_000).toISOString();
const certificate = (name: string, notAfter: string) => ({ name, names: [`${name}.example`], notAfter, fingerprint: "", keyMatches: true });

describe("fleet status", () => {
  let fx: ReturnType<typeof ledgerFixture>;
  beforeEach(() => {
    fx = ledgerFixture(inventoryYaml({ web: { plugins }, spare: {} }, { maxAge: "2s" }));
  });
  afterEach(() => fx.cleanup());
  const status = () => fleetStatus(fx.ledger, [...fx.inventory().hosts.values()], new Date());
  const of = (host: string) => status().hosts.find((h) => h.host === host)!;

  it("a host backed up and verified just now is fresh; once maxAge (2s) has passed it is STALE", async () => {
    const id = backUp(fx.ledger, "web", both);
    verifyDeep(fx.ledger, "web", id, { files: "ok", db: "ok" });
    const fresh = of("web");
    expect(fresh.states).toEqual(["fresh"]);
    expect(fresh.ok).toBe(true);
    expect(fresh.snapshot?.id).toBe(id);
    expect(fresh.snapshot!.ageMs).toBeLessThan(2000);
    expect(fresh.lastRun?.status).toBe("ok");
    expect(fresh.verification.unverified).toEqual([]);
    expect(fresh.verification.lastOk?.snapshotId).toBe(id);
    await sleep(2100);
    const stale = of("web");
    expect(stale.states).toEqual(["STALE"]);
    expect(stale.ok).toBe(false);
    expect(stale.snapshot!.ageMs).toBeGreaterThan(2000);
  });

  it("a host whose last backup failed is FAILED even while its newest snapshot is fresh, and counts the failed snapshot as debris", () => {
    fx.writeInventory(inventoryYaml({ web: { plugins } }));
    const id = backUp(fx.ledger, "web", both);
    verifyDeep(fx.ledger, "web", id, { files: "ok", db: "ok" });
    backUp(fx.ledger, "web", both, "failed", 'Cannot back up "/srv/app.db": sqlite3 is not installed');
    const web = of("web");
    expect(web.states).toEqual(["FAILED"]);
    expect(web.snapshot?.id).toBe(id);
    expect(web.lastRun?.status).toBe("failed");
    expect(web.lastRun?.error?.message).toContain("sqlite3 is not installed");
    expect(web.debris).toBe(1);
    // The next good backup clears it.
    backUp(fx.ledger, "web", both);
    expect(of("web").states).toEqual(["fresh"]);
  });

  it("every plugin instance needs its own successful deep verification within verifyEvery, else the host is UNVERIFIED", async () => {
    fx.writeInventory(inventoryYaml({ web: { plugins, verifyEvery: "2s" } }));
    const id = backUp(fx.ledger, "web", both);
    expect(of("web").verification.unverified).toEqual(["files", "db"]);
    // db failed its check in this verification: only files counts.
    verifyDeep(fx.ledger, "web", id, { files: "ok", db: "failed" });
    expect(of("web").states).toEqual(["UNVERIFIED"]);
    expect(of("web").verification.unverified).toEqual(["db"]);
    expect(of("web").verification.instances.db).toBeNull();
    verifyDeep(fx.ledger, "web", id, { db: "ok" });
    expect(of("web").states).toEqual(["fresh"]);
    await sleep(2100);
    expect(of("web").verification.unverified).toEqual(["files", "db"]);
    expect(of("web").states).toEqual(["UNVERIFIED"]);
  });

  it("a certificate in the newest snapshot expiring within 14 days makes the host CERT; one expiring later does not", () => {
    const withCerts = { ...plugins, le: { plugin: "letsencrypt" } };
    fx.writeInventory(inventoryYaml({ web: { plugins: withCerts } }));
    const later = backUp(fx.ledger, "web", [...both, { instance: "le", plugin: "letsencrypt", metadata: { warnDays: 14, certificates: [certificate("far", days(40))] } }]);
    verifyDeep(fx.ledger, "web", later, { files: "ok", db: "ok", le: "ok" });
    expect(of("web").states).toEqual(["fresh"]);
    backUp(fx.ledger, "web", [...both, { instance: "le", plugin: "letsencrypt", metadata: { warnDays: 14, certificates: [certificate("soon", days(5)), certificate("far", days(40))] } }]);
    const web = of("web");
    expect(web.states).toEqual(["CERT"]);
    expect(web.certificates).toEqual([expect.stringMatching(/^\[le\] certificate "soon" \(soon.example\) expires .* \(in 5 days\)$/)]);
  });

  it("a host without plugins is a restore target: shown, never a problem, whatever the ledger holds", () => {
    const spare = of("spare");
    expect(spare.states).toEqual(["restore-target"]);
    expect(spare.ok).toBe(true);
    expect(spare.snapshot).toBeNull();
    const { counts } = status();
    expect(counts).toMatchObject({ hosts: 2, restoreTargets: 1, ok: 1, problems: 1 });
  });

  it("shows every problem a host has, worst first: a host never backed up whose backups fail is STALE, FAILED and UNVERIFIED", () => {
    backUp(fx.ledger, "web", both, "failed");
    const web = of("web");
    expect(web.states).toEqual(["STALE", "FAILED", "UNVERIFIED"]);
    expect(web.states).toEqual(PROBLEMS.filter((p) => web.states.includes(p)));
    expect(web.snapshot).toBeNull();
    expect(status().counts).toMatchObject({ stale: 1, failed: 1, unverified: 1, cert: 0, fresh: 0 });
  });

  it("shows the newest measured restore time (RTO), a drill or a real restore, with each plugin instance's part", async () => {
    const id = backUp(fx.ledger, "web", both);
    expect(of("web").rto).toBeNull();
    fx.ledger.operations.recordRestoreTime({ host: "web", snapshotId: id, jobId: "job-1", kind: "drill", onHost: "spare", durationMs: 4200, instances: [{ instance: "files", durationMs: 1000 }, { instance: "db", durationMs: 2500 }] });
    expect(of("web").rto).toMatchObject({ kind: "drill", onHost: "spare", durationMs: 4200, snapshotId: id, instances: { files: 1000, db: 2500 } });
    await sleep(5);
    fx.ledger.operations.recordRestoreTime({ host: "web", snapshotId: id, jobId: "job-2", kind: "restore", onHost: "web", durationMs: 3100, instances: [{ instance: "db", durationMs: 2000 }] });
    expect(of("web").rto).toMatchObject({ kind: "restore", onHost: "web", durationMs: 3100, instances: { db: 2000 } });
  });
});

describe("controller status, the command", () => {
  let fx: ReturnType<typeof ledgerFixture>;
  beforeEach(async () => {
    fx = ledgerFixture(inventoryYaml({ web: { plugins }, spare: {} }, { maxAge: "1h" }));
    const init = await run(["init"]);
    expect(init.code, init.stderr).toBe(0);
  });
  afterEach(() => fx.cleanup());
  const run = (args: string[]) => controller(args, { LIFEBOAT_STATE: fx.state, LIFEBOAT_INVENTORY: fx.inventoryFile });

  it("exits 1 while a host has a problem, 0 once every host is fresh (restore targets count as fine), 2 for a usage error", async () => {
    const before = await run(["status"]);
    expect(before.code, before.stderr).toBe(1);
    expect(before.stdout).toMatch(/^web\s+STALE UNVERIFIED\s+never/m);
    expect(before.stdout).toMatch(/^spare\s+no plugins \(restore target\)/m);
    expect(before.stdout).toContain("web: STALE: no complete snapshot");
    expect(before.stdout).toContain("2 hosts: 0 fresh, 1 with problems (1 STALE, 1 UNVERIFIED), 1 restore target");

    const id = backUp(fx.ledger, "web", both);
    verifyDeep(fx.ledger, "web", id, { files: "ok", db: "ok" });
    const after = await run(["status", "--json"]);
    expect(after.code, after.stderr).toBe(0);
    const doc = JSON.parse(after.stdout) as { type: string; hosts: { host: string; states: string[]; snapshot: { id: string } }[]; counts: Record<string, number> };
    expect(doc.type).toBe("status");
    expect(doc.hosts.map((h) => [h.host, h.states])).toEqual([
      ["web", ["fresh"]],
      ["spare", ["restore-target"]],
    ]);
    expect(doc.hosts[0]!.snapshot.id).toBe(id);
    expect(doc.counts).toEqual({ hosts: 2, ok: 2, problems: 0, fresh: 1, restoreTargets: 1, stale: 0, failed: 0, unverified: 0, cert: 0 });

    const one = await run(["status", "--host", "spare"]);
    expect(one.code).toBe(0);
    expect(one.stdout).not.toMatch(/^web/m);

    const unknown = await run(["status", "--host", "nope"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('Cannot find host "nope"');
    expect((await run(["status", "--frobnicate"])).code).toBe(2);
  });
});
