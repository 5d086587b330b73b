// The disaster this project exists for: a host is gone and a fresh VPS must take its place. The
// fresh VPS is an sshd in its own mount namespace where node and deno are masked (no runtime), the
// controller logs in as root, and the source's data directories are empty tmpfs there; its own
// PostgreSQL cluster is down (a prepare step starts it) and knows none of the source's roles, its
// Redis is empty. Planned, restored with one command, compared with the source (checksums, modes,
// owners, mtimes, row counts, role ownership and grants), measured; then the new machine becomes
// the host under the old name.
import { execFileSync } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jsonLines } from "../harness/controller-cli";
import { startFleet, type Fleet, type HostEntry } from "../harness/fleet";
import { startPostgres, type PostgresServer } from "../harness/postgres";
import { fillRedis, startRedis, type RedisServer } from "../harness/redis";
import { listTree } from "../harness/tree";

describe("rebuilding a host on a fresh VPS", () => {
  let fleet: Fleet;
  let srv: string;
  let pgA: PostgresServer;
  let pgB: PostgresServer;
  let redisA: RedisServer;
  let redisB: RedisServer;
  const app = () => ({ root: path.join(srv, "app"), data: path.join(srv, "app", "data"), db: path.join(srv, "app", "webui.db") });
  const fresh = () => fleet.hosts.newvps!;

  /** Runs `command` as root on the fresh VPS (inside its namespace) with the stock ssh client; stdout as a Buffer. */
  const onFresh = (command: string): Buffer =>
    execFileSync(
      "ssh",
      ["-F", "none", "-i", fresh().clientKeyPath, "-p", String(fresh().port), "-o", "BatchMode=yes", "-o", `UserKnownHostsFile=${fleet.knownHosts}`, "-o", "IdentitiesOnly=yes", `root@${fresh().hostname}`, command],
      { stdio: ["ignore", "pipe", "pipe"], maxBuffer: 64 * 1024 * 1024 },
    );

  /** A copy of `dir` as the fresh VPS has it (owners, modes and mtimes kept), on this side. */
  const copyFromFresh = (dir: string): string => {
    const local = fs.mkdtempSync(path.join(fleet.dir, "from-fresh-"));
    execFileSync("tar", ["--numeric-owner", "-xpf", "-", "-C", local], { input: onFresh(`tar --numeric-owner -C '${dir}' -cf - .`) });
    return local;
  };

  const owners = (root: string) => Object.fromEntries(Object.keys(listTree(root)).map((rel) => [rel, `${fs.lstatSync(path.join(root, rel)).uid}:${fs.lstatSync(path.join(root, rel)).gid}`]));

  const source = (): HostEntry => ({
    destination: "s3",
    plugins: {
      files: { paths: [app().data], exclude: ["cache/"] },
      webui: { plugin: "sqlite", databases: [app().db] },
      db: { plugin: "postgres", port: pgA.port, password: "${PG_A_PW}", databases: ["shop"] },
      cache: { plugin: "redis", port: redisA.port, password: "${REDIS_A_PW}" },
    },
  });
  // The new VPS says where things go: the same paths (its own, empty), its own database servers.
  const target = (extra: { redisCheckRdb?: string } = {}): HostEntry => ({
    destination: "s3",
    plugins: {
      files: { paths: [app().data] },
      webui: { plugin: "sqlite", databases: [app().db] },
      db: { plugin: "postgres", port: pgB.port, password: "${PG_B_PW}", hooks: { prepare: pgB.startCommand, readyTimeout: "60s" } },
      cache: { plugin: "redis", port: redisB.port, password: "${REDIS_B_PW}", stop: redisB.stopCommand, start: redisB.startCommand, ...extra },
    },
  });

  beforeAll(async () => {
    srv = fs.mkdtempSync(path.join(os.tmpdir(), "lifeboat-srv-"));
    fs.chmodSync(srv, 0o755);
    fs.mkdirSync(app().root);
    fleet = await startFleet(["aidset", "newvps"], { hosts: { newvps: { bare: true, root: true, hide: [srv] } } });
    const user = fleet.hosts.aidset!.user;

    // The source's files: modes, an old mtime, a symlink, a private folder; and a live-style SQLite database, 0644.
    fs.mkdirSync(path.join(app().data, "uploads", "2026"), { recursive: true });
    fs.mkdirSync(path.join(app().data, "private"), { mode: 0o750 });
    fs.chmodSync(path.join(app().data, "private"), 0o750);
    fs.writeFileSync(path.join(app().data, "README.txt"), "notes\n".repeat(300));
    fs.writeFileSync(path.join(app().data, "uploads", "2026", "model.bin"), crypto.randomBytes(2 * 1024 * 1024));
    fs.writeFileSync(path.join(app().data, "private", "token"), "secret\n", { mode: 0o600 });
    fs.chmodSync(path.join(app().data, "private", "token"), 0o600);
    fs.writeFileSync(path.join(app().data, "run.sh"), "#!/bin/sh\necho hi\n", { mode: 0o755 });
    fs.chmodSync(path.join(app().data, "run.sh"), 0o755);
    fs.utimesSync(path.join(app().data, "README.txt"), new Date("2024-01-02T03:04:05Z"), new Date("2024-01-02T03:04:05Z"));
    fs.symlinkSync("uploads/2026", path.join(app().data, "latest"));
    execFileSync("sqlite3", [app().db], { input: "PRAGMA journal_mode=WAL;\nCREATE TABLE chat(id INTEGER PRIMARY KEY, body TEXT);\nWITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 1500) INSERT INTO chat(body) SELECT hex(randomblob(40)) FROM n;\n" });
    execFileSync("chown", ["-R", `${user}:${user}`, app().root]);
    fs.chmodSync(app().db, 0o644);
    fs.utimesSync(app().db, new Date("2026-11-01T10:00:00Z"), new Date("2026-11-01T10:00:00Z"));

    // PostgreSQL: database shop owned by a non-superuser role, a grant to another role, a membership.
    [pgA, pgB, redisA, redisB] = await Promise.all([startPostgres(), startPostgres(), startRedis(), startRedis()]);
    pgA.sql("postgres", "CREATE ROLE app LOGIN PASSWORD 'app-secret-pw'; CREATE ROLE reader NOLOGIN; CREATE ROLE auditor LOGIN IN ROLE reader; CREATE DATABASE shop OWNER app;");
    pgA.sql("shop", "SET ROLE app; CREATE TABLE orders(id serial PRIMARY KEY, item text); INSERT INTO orders(item) SELECT 'item ' || i FROM generate_series(1, 2500) i; CREATE TABLE customers(id int PRIMARY KEY); INSERT INTO customers SELECT generate_series(1, 300); GRANT SELECT ON orders TO reader;");
    pgB.halt(); // the fresh server is down: the restore's prepare step starts it
    fillRedis(redisA, 400);
    fs.chmodSync(redisA.dir, 0o755); // the source's agent (not root) reads the RDB file
    Object.assign(fleet.env, { PG_A_PW: pgA.password, PG_B_PW: pgB.password, REDIS_A_PW: redisA.password, REDIS_B_PW: redisB.password });
    fleet.writeInventory({ aidset: source(), newvps: target() });
    expect((await fleet.controller(["init"])).code).toBe(0);
    const backup = await fleet.controller(["run", "--host", "aidset"]);
    expect(backup.code, backup.stdout + backup.stderr).toBe(0);
    // What the run stored counts the chunks it uploaded (2 MiB of random bytes do not shrink), not only the chunk indexes.
    expect(backup.stdout).toMatch(/→ 2\.\d+ MiB stored/);
  });

  afterAll(async () => {
    await fleet?.stop();
    await Promise.allSettled([pgA?.stop(), pgB?.stop(), redisA?.stop(), redisB?.stop()]);
    if (srv) fs.rmSync(srv, { recursive: true, force: true });
  });

  it("the fresh VPS has no runtime and none of the data", () => {
    expect(onFresh("id -u").toString().trim()).toBe("0");
    expect(() => onFresh("node --version")).toThrow();
    expect(() => onFresh("deno --version")).toThrow();
    expect(onFresh(`ls -A '${srv}'`).toString()).toBe("");
  });

  it("--plan shows the order, the runtime to push, the prepare step and a tool the target lacks, and changes nothing", async () => {
    fleet.writeInventory({ aidset: source(), newvps: target({ redisCheckRdb: "/opt/none/redis-check-rdb" }) });
    const plan = await fleet.controller(["restore", "--from", "aidset", "--snapshot", "latest", "--to", "newvps", "--plan"]);
    expect(plan.code, plan.stdout + plan.stderr).toBe(1);
    const steps = [...plan.stdout.matchAll(/^\s+(\d+)\s+(\S+)\s+(\S+)\s+(\S+)/gm)].map((m) => `${m[2]} ${m[3]}`);
    expect(steps).toEqual(["files files", "data cache", "data db", "data webui"]);
    expect(plan.stdout).toMatch(/runtime: push deno 2\.\d+\.\d+/);
    expect(plan.stdout).toContain(`prepare: ${pgB.startCommand}`);
    expect(plan.stdout).toMatch(/\/opt\/none\/redis-check-rdb MISSING/);
    expect(plan.stdout).toContain("The restore cannot start");
    expect(plan.stdout).toMatch(/estimated time: \S+ \(no measured restore of "aidset" yet/);
    const yes = await fleet.controller(["restore", "--from", "aidset", "--snapshot", "latest", "--to", "newvps", "--yes"]);
    expect(yes.code).toBe(1);
    expect(yes.stderr).toMatch(/Cannot restore onto "newvps": it lacks \/opt\/none\/redis-check-rdb; nothing was changed/);
    // Nothing happened there: no runtime pushed, no agent, the database server still down.
    expect(onFresh("ls -A /root").toString()).toBe("");
    expect(() => pgB.sql("postgres", "SELECT 1")).toThrow();
    fleet.writeInventory({ aidset: source(), newvps: target() });
  });

  it("a target that declares no plugins gets the source's layout, and one that declares some must declare every instance", async () => {
    fleet.writeInventory({ aidset: source(), newvps: { destination: "s3", plugins: {} } });
    const bare = await fleet.controller(["restore", "--from", "aidset", "--snapshot", "latest", "--to", "newvps", "--plan"]);
    expect(bare.code, bare.stdout + bare.stderr).toBe(0);
    expect(bare.stdout).toContain(`note: "newvps" declares no plugins: the snapshot is restored with "aidset"'s layout (its paths, databases and hooks)`);
    fleet.writeInventory({ aidset: source(), newvps: { destination: "s3", plugins: { files: { paths: [app().data] } } } });
    const some = await fleet.controller(["restore", "--from", "aidset", "--snapshot", "latest", "--to", "newvps", "--plan"]);
    expect(some.code).toBe(2);
    expect(some.stderr).toMatch(/Cannot restore "\w+" onto "newvps": its inventory entry declares plugins, but not "\w+"/);
    const chosen = await fleet.controller(["restore", "--from", "aidset", "--snapshot", "latest", "--to", "newvps", "--plugins", "files", "--plan"]);
    expect(chosen.code, chosen.stdout + chosen.stderr).toBe(0);
    fleet.writeInventory({ aidset: source(), newvps: target() });
  });

  it("--at picks the newest complete snapshot at or before a time, and says when there is none", async () => {
    const none = await fleet.controller(["restore", "--from", "aidset", "--at", "2020-01-01 00:00", "--to", "newvps", "--plan"]);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain("no complete snapshot taken at or before 2020-01-01");
    const later = new Date(Date.now() + 60_000).toISOString().slice(0, 16);
    const plan = await fleet.controller(["restore", "--from", "aidset", "--at", `${later}Z`, "--to", "newvps", "--plan", "--json"]);
    expect(plan.code, plan.stderr).toBe(0);
    const snapshots = JSON.parse((await fleet.controller(["snapshots", "--host", "aidset", "--json"])).stdout) as { snapshots: { id: string }[] };
    expect((jsonLines(plan.stdout)[0] as { snapshot: { id: string } }).snapshot.id).toBe(snapshots.snapshots[0]!.id);
  });

  it("restores the whole host with one command onto the fresh VPS, faithfully, and reports the recovery time", async () => {
    const result = await fleet.controller(["restore", "--from", "aidset", "--snapshot", "latest", "--to", "newvps", "--yes"]);
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^ {2}newvps: pushed runtime deno 2\.\d+\.\d+ \(x86_64-linux\)/m);
    expect(result.stdout).toMatch(/^ {2}newvps: db prepare hook/m);
    expect(result.stdout).toContain('Recovery report: snapshot');
    expect(result.stdout).toMatch(/recovery time: \S+ from command to last check/);
    // Each instance's checks in the report: counts as recorded, integrity, keys after the restart, owners.
    const report = result.stdout.slice(result.stdout.indexOf("Recovery report"));
    expect(report).toMatch(/^ {2}files\s+files\s+ok\s.*\s1$/m);
    expect(report).toMatch(/checked .*app\/data: restored 4 files .* as recorded/);
    expect(report).toMatch(/checked integrity_check ok: .*webui\.db \(1 tables, row counts as recorded, mode, owner and time as recorded\)/);
    expect(report).toMatch(/checked Redis restarted on it with the snapshot's keys \(db0=\d+/);
    expect(report).toMatch(/checked database shop: row counts of 2 tables as recorded, owned by "app"/);

    // Files: content, modes, mtimes, symlinks, owners by name.
    const copy = copyFromFresh(app().data);
    expect(listTree(copy)).toEqual(listTree(app().data));
    expect(owners(copy)).toEqual(owners(app().data));
    // SQLite: the file's mode, owner and mtime, and its rows.
    const dbCopy = copyFromFresh(app().root);
    const restoredDb = path.join(dbCopy, "webui.db");
    const st = fs.statSync(restoredDb);
    const src = fs.statSync(app().db);
    expect({ mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtime: Math.floor(st.mtimeMs / 1000) }).toEqual({ mode: 0o644, uid: src.uid, gid: src.gid, mtime: Math.floor(src.mtimeMs / 1000) });
    expect(execFileSync("sqlite3", [restoredDb, "PRAGMA integrity_check; SELECT count(*) FROM chat;"], { encoding: "utf8" }).trim().split("\n")).toEqual(["ok", "1500"]);
    // PostgreSQL: roles created, the database owned by its role, the grant and membership, the rows.
    expect(pgB.sql("postgres", "SELECT rolname, rolcanlogin, rolsuper FROM pg_roles WHERE rolname IN ('app', 'reader', 'auditor') ORDER BY rolname")).toBe("app|t|f\nauditor|t|f\nreader|f|f");
    expect(pgB.sql("postgres", "SELECT rolpassword FROM pg_authid WHERE rolname = 'app'")).toBe(pgA.sql("postgres", "SELECT rolpassword FROM pg_authid WHERE rolname = 'app'"));
    expect(pgB.sql("postgres", "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'shop'")).toBe("app");
    expect(pgB.sql("shop", "SELECT tableowner FROM pg_tables WHERE tablename = 'orders'")).toBe("app");
    expect(pgB.sql("shop", "SELECT has_table_privilege('reader', 'orders', 'SELECT'), pg_has_role('auditor', 'reader', 'MEMBER')")).toBe("t|t");
    expect(pgB.sql("shop", "SELECT (SELECT count(*) FROM orders), (SELECT count(*) FROM customers)")).toBe("2500|300");
    // Redis: every key of every database.
    expect(redisB.cli("INFO", "keyspace").replace(/\r/g, "").split("\n").filter((l) => l.startsWith("db")).map((l) => l.split(",")[0])).toEqual(
      redisA.cli("INFO", "keyspace").replace(/\r/g, "").split("\n").filter((l) => l.startsWith("db")).map((l) => l.split(",")[0]),
    );
    // The password of the role never reached the run's output.
    expect(result.stdout + result.stderr).not.toContain("SCRAM-SHA-256$");

    // Measured and shown.
    const hosts = await fleet.controller(["hosts"]);
    expect(hosts.stdout).toMatch(/^aidset\s.*\s\S+ restore on newvps \(/m);
    const snapshots = await fleet.controller(["snapshots", "--host", "aidset", "--json"]);
    expect((JSON.parse(snapshots.stdout) as { snapshots: { restoreTime: { kind: string; onHost: string } | null }[] }).snapshots[0]!.restoreTime).toMatchObject({ kind: "restore", onHost: "newvps" });
  });

  it("--path brings back one deleted file and leaves every other file as it is", async () => {
    const readme = path.join(app().data, "README.txt");
    const script = path.join(app().data, "run.sh");
    onFresh(`rm '${readme}' && echo changed >> '${script}'`);
    const outside = await fleet.controller(["restore", "--from", "aidset", "--snapshot", "latest", "--to", "newvps", "--path", "/etc/nothing-here", "--yes"]);
    expect(outside.code).toBe(2);
    expect(outside.stderr).toContain("it has no artifacts of files of plugin files under /etc/nothing-here");
    const result = await fleet.controller(["restore", "--from", "aidset", "--snapshot", "latest", "--to", "newvps", "--path", readme, "--yes"]);
    expect(result.code, result.stdout + result.stderr).toBe(0);
    const plan = result.stdout.slice(0, result.stdout.indexOf("tools on"));
    expect(plan).toContain(`--path: only files matching ${readme}`);
    expect(plan).not.toMatch(/\bdata\s+db\b/); // only the files instance
    const copy = copyFromFresh(app().data);
    expect(fs.readFileSync(path.join(copy, "README.txt"))).toEqual(fs.readFileSync(readme));
    expect(fs.readFileSync(path.join(copy, "run.sh"), "utf8")).toBe("#!/bin/sh\necho hi\nchanged\n");
  });

  it("the new machine becomes the host: its name, history and next backups go on", async () => {
    // Point aidset's entry at the new machine (its address, root login), drop the temporary entry.
    const inventory = JSON.parse(fs.readFileSync(fleet.inventory, "utf8").replace(/^#.*\n/, "")) as { hosts: Record<string, { ssh: unknown; plugins: unknown }> };
    inventory.hosts.aidset = { ...inventory.hosts.newvps!, ssh: inventory.hosts.newvps!.ssh };
    delete inventory.hosts.newvps;
    fs.writeFileSync(fleet.inventory, JSON.stringify(inventory, null, 2));
    const install = await fleet.controller(["install", "--host", "aidset"]);
    expect(install.code, install.stdout + install.stderr).toBe(0);
    expect(install.stdout).toMatch(/the machine was pinned as "newvps": now it is "aidset" \(it was rebuilt from "aidset"'s snapshot/);
    const backup = await fleet.controller(["run", "--host", "aidset"]);
    expect(backup.code, backup.stdout + backup.stderr).toBe(0);
    const list = JSON.parse((await fleet.controller(["snapshots", "--host", "aidset", "--json"])).stdout) as { snapshots: { status: string }[] };
    expect(list.snapshots.filter((s) => s.status === "complete")).toHaveLength(2);
  });
});
