// The sqlite plugin with the real sqlite3 CLI: consistent copies under a live writer, checked restores.
import { execFileSync, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { addUser } from "../../test/harness/accounts";
import { dockerStandIn } from "../../test/harness/docker-standin";
import { startSqliteWriter } from "../../test/harness/sqlite-writer";
import { collect, pluginContext, restoreInput, type TestContext } from "../../test/plugin-context";
import { sqlitePlugin } from "./sqlite";

const sql = (db: string, query: string) => execFileSync("sqlite3", [db, query], { encoding: "utf8" }).trim();

describe("sqlite plugin", () => {
  let dir: string;
  let db: string;
  let ctx: TestContext;

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "lifeboat-sqlite-"));
    db = path.join(dir, "webui.db");
    execFileSync("sqlite3", [db], {
      input: `PRAGMA journal_mode=WAL;
CREATE TABLE chat(id INTEGER PRIMARY KEY, body TEXT);
CREATE TABLE "odd ""name"" table"(x);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 5000) INSERT INTO chat(body) SELECT hex(randomblob(100)) FROM n;
INSERT INTO "odd ""name"" table" VALUES (1),(2),(3);`,
    });
    ctx = pluginContext();
  });
  afterEach(() => {
    ctx.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const config = (extra: Record<string, unknown> = {}) => sqlitePlugin.parseConfig({ databases: [db], ...extra }, "hosts.h.plugins.db");

  async function backup(cfg = config()) {
    await sqlitePlugin.check(ctx, cfg);
    const out: { name: string; bytes: Buffer; metadata: Record<string, unknown> }[] = [];
    for await (const a of sqlitePlugin.backup(ctx, cfg)) out.push({ name: a.name, bytes: await collect(a.data), metadata: a.metadata() });
    return out;
  }

  it("finishes a consistent copy of a 100 MB database while another process commits 50 times a second", async () => {
    const big = path.join(dir, "busy.db");
    sql(big, "PRAGMA journal_mode=WAL; CREATE TABLE chat(id INTEGER PRIMARY KEY, body BLOB); WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 25000) INSERT INTO chat(body) SELECT randomblob(4000) FROM n;");
    expect(fs.statSync(big).size).toBeGreaterThan(100_000_000);
    const writer = await startSqliteWriter(big, "INSERT INTO chat(body) VALUES (randomblob(500))", 50);
    let artifacts;
    let during: number;
    try {
      const before = writer.commits();
      artifacts = await backup(config({ databases: [big], copyTimeout: "90s" }));
      during = writer.commits() - before;
    } finally {
      await writer.stop();
    }
    expect(during).toBeGreaterThan(0);
    const copy = path.join(dir, "copy.db");
    fs.writeFileSync(copy, artifacts[0]!.bytes);
    expect(sql(copy, "PRAGMA integrity_check")).toBe("ok");
    const tables = artifacts[0]!.metadata.tables as Record<string, number>;
    expect(Number(sql(copy, "SELECT count(*) FROM chat"))).toBe(tables.chat);
    expect(tables.chat).toBeGreaterThan(25_000);
    // The copy keeps the source's WAL mode (byte 18 of the header: 2 = WAL).
    expect(artifacts[0]!.bytes[18]).toBe(2);
    expect(artifacts[0]!.metadata.journalMode).toBe("wal");
  });

  it("fails within copyTimeout, naming the database and what to do, when another process keeps it locked", async () => {
    const locked = path.join(dir, "locked.db");
    sql(locked, "CREATE TABLE t(x); INSERT INTO t VALUES (1);");
    const holder = spawn("sqlite3", [locked], { stdio: ["pipe", "ignore", "ignore"] });
    holder.stdin.write("BEGIN EXCLUSIVE; INSERT INTO t VALUES (2);\n");
    await new Promise((r) => setTimeout(r, 300));
    try {
      await expect(backup(config({ databases: [locked], copyTimeout: "2s" }))).rejects.toMatchObject({
        code: "SOURCE",
        message: `Cannot back up SQLite database "${locked}": a consistent copy did not finish within 2s`,
        hint: expect.stringContaining("before/after hooks"),
      });
    } finally {
      holder.kill();
    }
    expect(fs.readdirSync(ctx.scratchDir).filter((n) => n.startsWith("sqlite-"))).toEqual([]);
  });

  it("copies a database consistently while another process keeps writing, with row counts that match the copy", async () => {
    const writer = spawn("bash", ["-c", `while :; do echo "INSERT INTO chat(body) VALUES (hex(randomblob(300)));"; sleep 0.002; done | sqlite3 -cmd '.timeout 5000' ${db}`], { stdio: "ignore", detached: true });
    await new Promise((r) => setTimeout(r, 300));
    let artifacts;
    try {
      artifacts = await backup();
    } finally {
      process.kill(-writer.pid!, "SIGTERM");
    }
    const [artifact] = artifacts;
    expect(artifact!.name).toBe("webui.db");
    const copy = path.join(dir, "copy.db");
    fs.writeFileSync(copy, artifact!.bytes);
    expect(sql(copy, "PRAGMA integrity_check")).toBe("ok");
    const tables = artifact!.metadata.tables as Record<string, number>;
    expect(Number(sql(copy, "SELECT count(*) FROM chat"))).toBe(tables.chat);
    expect(tables.chat).toBeGreaterThan(5000);
    expect(tables['odd "name" table']).toBe(3);
    expect(artifact!.metadata).toMatchObject({ path: db, journalMode: "wal" });
  });

  it("restores in place over a changed database, checked before the swap", async () => {
    const [artifact] = await backup();
    sql(db, "DELETE FROM chat WHERE id > 10");
    const report = await sqlitePlugin.restore(ctx, config(), [restoreInput(artifact!.bytes, artifact!.metadata)], {});
    expect(report.restored).toEqual([db]);
    expect(sql(db, "SELECT count(*) FROM chat")).toBe("5000");
    expect(fs.readdirSync(dir).sort()).toEqual(["webui.db"]);
  });

  it("swaps two databases in as one: when the second cannot be swapped in, the first is put back and nothing changed", async () => {
    const second = path.join(dir, "second.db");
    sql(second, "PRAGMA journal_mode=WAL; CREATE TABLE t(x); INSERT INTO t VALUES (1),(2);");
    const artifacts = await backup(config({ databases: [db, second] }));
    sql(db, "DELETE FROM chat WHERE id > 10");
    sql(second, "DELETE FROM t");
    // Something in the way of moving the second database's -wal aside: a directory already holding that name.
    fs.writeFileSync(`${second}-wal`, "");
    const inTheWay = `${second}-wal.lifeboat-old-${ctx.jobId}`;
    fs.mkdirSync(inTheWay);
    fs.writeFileSync(path.join(inTheWay, "x"), "x");
    const inputs = artifacts.map((a) => restoreInput(a.bytes, a.metadata));
    await expect(sqlitePlugin.restore(ctx, config({ databases: [db, second] }), inputs, {})).rejects.toMatchObject({ code: "RESTORE", message: expect.stringMatching(new RegExp(`nothing was changed \\("${db}" put back\\)`)) });
    expect(sql(db, "SELECT count(*) FROM chat")).toBe("10");
    expect(sql(second, "SELECT count(*) FROM t")).toBe("0");
    expect(fs.readdirSync(dir).filter((n) => n.includes("lifeboat") && n !== path.basename(inTheWay))).toEqual([]);
  });

  it("restores a 0644 database with its recorded mode, time and owner by name (whose id differs on the target), also where it is missing", async () => {
    const source = addUser();
    let target: ReturnType<typeof addUser> | undefined;
    try {
      fs.chownSync(db, source.uid, source.gid);
      fs.chmodSync(db, 0o644);
      const time = new Date("2025-01-02T03:04:05Z");
      fs.utimesSync(db, time, time);
      const job = pluginContext();
      let artifact;
      try {
        for await (const a of sqlitePlugin.backup(job, config())) artifact = { bytes: await collect(a.data), metadata: a.metadata() };
      } finally {
        job.cleanup();
      }
      const file = artifact!.metadata.file as { mode: number; user: string; group: string; mtimeMs: number };
      expect(file).toMatchObject({ mode: 0o644, uid: source.uid, gid: source.gid, user: source.name, group: source.name });
      // The fresh host: the same names under other ids, and no database yet.
      source.remove();
      target = addUser(source.name);
      fs.rmSync(db);
      await sqlitePlugin.restore(ctx, config(), [restoreInput(artifact!.bytes, artifact!.metadata)], {});
      const st = fs.statSync(db);
      expect([st.mode & 0o7777, st.uid, st.gid]).toEqual([0o644, target.uid, target.gid]);
      expect(Math.abs(st.mtimeMs - file.mtimeMs)).toBeLessThan(0.002);
      expect(sql(db, "SELECT count(*) FROM chat")).toBe("5000");
      // Under --into as well; a snapshot that recorded no facts keeps the previous behaviour (0600).
      const into = path.join(dir, "into");
      await sqlitePlugin.restore(ctx, config(), [restoreInput(artifact!.bytes, artifact!.metadata)], { into });
      expect(fs.statSync(path.join(into, "webui.db")).mode & 0o7777).toBe(0o644);
      const { file: _file, ...older } = artifact!.metadata;
      const intoAgain = path.join(dir, "into-again");
      await sqlitePlugin.restore(ctx, config(), [restoreInput(artifact!.bytes, older)], { into: intoAgain });
      expect(fs.statSync(path.join(intoAgain, "webui.db")).mode & 0o7777).toBe(0o600);
    } finally {
      source.remove();
      target?.remove();
    }
  });

  it("refuses --path: it restores whole databases, never single files", async () => {
    const [artifact] = await backup();
    sql(db, "DELETE FROM chat");
    await expect(sqlitePlugin.restore(ctx, config(), [restoreInput(artifact!.bytes, artifact!.metadata)], { paths: [db] })).rejects.toMatchObject({
      code: "USAGE",
      message: `Cannot restore only "${db}" of SQLite databases: --path selects files of files, nginx and letsencrypt instances only`,
    });
    expect(sql(db, "SELECT count(*) FROM chat")).toBe("0");
  });

  it("restores under --into", async () => {
    const [artifact] = await backup();
    const into = path.join(dir, "into");
    await sqlitePlugin.restore(ctx, config(), [restoreInput(artifact!.bytes, artifact!.metadata)], { into });
    expect(sql(path.join(into, path.basename(db)), "SELECT count(*) FROM chat")).toBe("5000");
  });

  it("refuses a damaged copy and leaves the live database and directory untouched", async () => {
    const [artifact] = await backup();
    const damaged = Buffer.from(artifact!.bytes);
    damaged.fill(0x41, 4096 + 100, 4096 + 3000);
    const before = fs.readFileSync(db);
    await expect(sqlitePlugin.restore(ctx, config(), [restoreInput(damaged, artifact!.metadata)], {})).rejects.toMatchObject({ code: expect.stringMatching(/INTEGRITY|SOURCE/) });
    expect(fs.readFileSync(db).equals(before)).toBe(true);
    expect(fs.readdirSync(dir).filter((n) => n.includes("lifeboat"))).toEqual([]);
  });

  it("refuses a copy whose row counts differ from the manifest", async () => {
    const [artifact] = await backup();
    const metadata = { ...artifact!.metadata, tables: { ...(artifact!.metadata.tables as object), chat: 4999 } };
    await expect(sqlitePlugin.restore(ctx, config(), [restoreInput(artifact!.bytes, metadata)], {})).rejects.toMatchObject({ code: "INTEGRITY", message: expect.stringContaining('table "chat"') });
  });

  it("leaves the target untouched when the input fails at its end", async () => {
    const [artifact] = await backup();
    const before = fs.readFileSync(db);
    await expect(sqlitePlugin.restore(ctx, config(), [restoreInput(artifact!.bytes, artifact!.metadata, true)], {})).rejects.toMatchObject({ code: "INTEGRITY" });
    expect(fs.readFileSync(db).equals(before)).toBe(true);
    expect(fs.readdirSync(dir).filter((n) => n.includes("lifeboat"))).toEqual([]);
  });

  it("reports a missing sqlite3 tool and a missing database clearly", async () => {
    await expect(sqlitePlugin.check(ctx, config({ sqlite3: "/nonexistent/sqlite3" }))).rejects.toMatchObject({ code: "TOOL_MISSING" });
    const missing = sqlitePlugin.parseConfig({ databases: [`${dir}/nope.db`] }, "x");
    await expect(sqlitePlugin.check(ctx, missing)).rejects.toMatchObject({ code: "SOURCE", message: expect.stringContaining("nope.db") });
    expect(() => sqlitePlugin.parseConfig({ databases: ["rel.db"] }, "hosts.h.plugins.db")).toThrow("hosts.h.plugins.db.databases[0]");
  });

  describe("for an application in a container (stand-in docker: runs locally, no Docker engine here)", () => {
    let standin: ReturnType<typeof dockerStandIn>;
    beforeEach(() => {
      standin = dockerStandIn();
    });
    afterEach(() => standin.cleanup());

    // The container's /app/data is the host directory `dir`.
    const inContainer = (databases = ["/app/data/webui.db"], containerPaths: Record<string, string> = { "/app/data": dir }) =>
      sqlitePlugin.parseConfig({ databases, container: "webui", docker: standin.docker, containerPaths }, "hosts.h.plugins.db");

    it("backs up, restores and verifies through containerPaths with the host's sqlite3, recording the container path", async () => {
      const [artifact] = await backup(inContainer());
      expect(artifact!.metadata).toMatchObject({ path: "/app/data/webui.db", container: "webui", tables: { chat: 5000 } });
      sql(db, "DELETE FROM chat WHERE id > 10");
      const report = await sqlitePlugin.restore(ctx, inContainer(), [restoreInput(artifact!.bytes, artifact!.metadata)], {});
      expect(report.restored).toEqual([db]);
      expect(sql(db, "SELECT count(*) FROM chat")).toBe("5000");
      const scratch = path.join(dir, "scratch");
      const verified = await sqlitePlugin.verify(ctx, inContainer(), [restoreInput(artifact!.bytes, artifact!.metadata)], scratch);
      expect(verified.checks).toEqual(["/app/data/webui.db: integrity_check ok, row counts of 2 tables as recorded"]);
      expect(sql(`${scratch}/webui.db`, "SELECT count(*) FROM chat")).toBe("5000");
      // sqlite3 ran on the host against the mapped path: nothing went through docker.
      expect(standin.calls()).toEqual([]);
    });

    it("refuses a database path that containerPaths does not map, naming the path, the container and the fix", async () => {
      const unmapped = inContainer(["/var/lib/webui/webui.db"]);
      await expect(sqlitePlugin.check(ctx, unmapped)).rejects.toMatchObject({
        code: "CONFIG",
        message: 'Cannot find "/var/lib/webui/webui.db" of container "webui" on the host',
        hint: expect.stringContaining("containerPaths"),
      });
      await expect(backup(unmapped)).rejects.toMatchObject({ code: "CONFIG" });
      const [artifact] = await backup(inContainer());
      const before = fs.readFileSync(db);
      await expect(sqlitePlugin.restore(ctx, inContainer(["/app/data/webui.db"], { "/srv": dir }), [restoreInput(artifact!.bytes, artifact!.metadata)], {})).rejects.toMatchObject({
        code: "CONFIG",
        message: expect.stringContaining('"/app/data/webui.db" of container "webui"'),
      });
      expect(fs.readFileSync(db).equals(before)).toBe(true);
    });

    it("refuses to restore a container's snapshot in place for a plugin without container:, and restores it under --into", async () => {
      const [artifact] = await backup(inContainer());
      const onHost = sqlitePlugin.parseConfig({ databases: ["/app/data/webui.db"] }, "hosts.h.plugins.db");
      await expect(sqlitePlugin.restore(ctx, onHost, [restoreInput(artifact!.bytes, artifact!.metadata)], {})).rejects.toMatchObject({
        code: "CONFIG",
        message: 'Cannot restore "/app/data/webui.db" in place: the snapshot recorded it as a path of container "webui", and this plugin has no container:',
        hint: expect.stringContaining("--into"),
      });
      const into = path.join(dir, "into");
      await sqlitePlugin.restore(ctx, onHost, [restoreInput(artifact!.bytes, artifact!.metadata)], { into });
      expect(sql(`${into}/webui.db`, "SELECT count(*) FROM chat")).toBe("5000");
    });

    it("names both the container path and the host path of a missing database", async () => {
      await expect(sqlitePlugin.check(ctx, inContainer(["/app/data/nope.db"]))).rejects.toMatchObject({
        code: "SOURCE",
        message: `Cannot back up SQLite database "/app/data/nope.db" of container "webui" (on the host "${dir}/nope.db"): no such file on this host`,
        hint: expect.stringContaining("containerPaths"),
      });
    });
  });
});
