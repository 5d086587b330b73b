// The redis plugin against a real redis-server: BGSAVE + LASTSAVE, redis-check-rdb, stop/place/start restore.
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addUser } from "../../test/harness/accounts";
import { dockerStandIn } from "../../test/harness/docker-standin";
import { startRedis, fillRedis, type RedisServer } from "../../test/harness/redis";
import { collect, pluginContext, restoreInput, type TestContext } from "../../test/plugin-context";
import { redisPlugin } from "./redis";

describe("redis plugin", () => {
  let redis: RedisServer;
  let ctx: TestContext;

  beforeAll(async () => {
    redis = await startRedis();
    fillRedis(redis, 5000);
    ctx = pluginContext();
  });
  afterAll(async () => {
    ctx?.cleanup();
    await redis?.stop();
  });

  const config = (extra: Record<string, unknown> = {}) =>
    redisPlugin.parseConfig({ port: redis.port, password: redis.password, stop: redis.stopCommand, start: redis.startCommand, ...extra }, "hosts.h.plugins.redis");

  async function backup(cfg = config()) {
    await redisPlugin.check(ctx, cfg);
    const out: { name: string; bytes: Buffer; metadata: Record<string, unknown> }[] = [];
    for await (const a of redisPlugin.backup(ctx, cfg)) out.push({ name: a.name, bytes: await collect(a.data), metadata: a.metadata() });
    return out;
  }

  it("saves with BGSAVE, waits for LASTSAVE, and stores an RDB that redis-check-rdb accepts, with the keyspace", async () => {
    const [rdb] = await backup();
    expect(rdb!.name).toBe("dump.rdb");
    expect(rdb!.metadata).toMatchObject({ rdbPath: path.join(redis.dir, "dump.rdb"), keyspace: { db0: 5000, db1: 2 } });
    expect(rdb!.bytes.subarray(0, 5).toString()).toBe("REDIS");
  });

  it("restores in place: stop, place the file, start, and the keys are back", async () => {
    const [rdb] = await backup();
    redis.cli("FLUSHALL");
    redis.cli("SET", "after-backup", "1");
    const report = await redisPlugin.restore(ctx, config(), [restoreInput(rdb!.bytes, rdb!.metadata, false, "dump.rdb")], {});
    expect(report.restored).toEqual([path.join(redis.dir, "dump.rdb")]);
    expect(redis.cli("DBSIZE")).toBe("5000");
    expect(redis.cli("GET", "after-backup")).toBe("");
    expect(redis.cli("HGET", "hash:1", "b")).toBe("x y");
    expect(redis.cli("-n", "1", "GET", "other:2")).toBe("two");
  });

  it("records dump.rdb's mode, owner and time, and restores them: the owner by name, whose id here differs from the recorded one", async () => {
    const [rdb] = await backup();
    const live = fs.statSync(path.join(redis.dir, "dump.rdb"));
    const file = rdb!.metadata.file as Record<string, unknown>;
    expect(file).toEqual({ mode: live.mode & 0o7777, uid: live.uid, gid: live.gid, user: "root", group: "root", mtimeMs: live.mtimeMs });
    // As a snapshot of another host records it: user "redis"-like, with that host's ids.
    const owner = addUser();
    try {
      const recorded = { ...file, mode: 0o644, uid: owner.uid + 1, gid: owner.gid + 1, user: owner.name, group: owner.name, mtimeMs: Date.parse("2025-05-06T07:08:09Z") };
      redis.cli("FLUSHALL");
      // A restore is a job of its own: it reads this host's accounts afresh.
      const job = pluginContext();
      await redisPlugin.restore(job, config(), [restoreInput(rdb!.bytes, { ...rdb!.metadata, file: recorded }, false, "dump.rdb")], {}).finally(() => job.cleanup());
      expect(redis.cli("DBSIZE")).toBe("5000");
      const st = fs.statSync(path.join(redis.dir, "dump.rdb"));
      expect([st.mode & 0o7777, st.uid, st.gid, st.mtimeMs]).toEqual([0o644, owner.uid, owner.gid, recorded.mtimeMs]);
    } finally {
      owner.remove();
    }
  });

  it("refuses --path, touching nothing: it restores the whole dataset", async () => {
    const [rdb] = await backup();
    redis.cli("SET", "still-here", "yes");
    await expect(redisPlugin.restore(ctx, config(), [restoreInput(rdb!.bytes, rdb!.metadata, false, "dump.rdb")], { paths: [path.join(redis.dir, "dump.rdb")] })).rejects.toMatchObject({
      code: "USAGE",
      message: expect.stringContaining("of Redis: --path selects files of files, nginx and letsencrypt instances only"),
    });
    expect(redis.cli("GET", "still-here")).toBe("yes");
  });

  it("refuses a damaged RDB before stopping the server", async () => {
    const [rdb] = await backup();
    const damaged = Buffer.from(rdb!.bytes);
    damaged.fill(0x7a, 100, 400);
    redis.cli("SET", "still-here", "yes");
    await expect(redisPlugin.restore(ctx, config(), [restoreInput(damaged, rdb!.metadata, false, "dump.rdb")], {})).rejects.toMatchObject({ code: "INTEGRITY" });
    expect(redis.cli("GET", "still-here")).toBe("yes");
    expect(fs.readdirSync(redis.dir).filter((n) => n.includes("lifeboat"))).toEqual([]);
  });

  it("gives up on a BGSAVE that does not finish in time, with a clear message", async () => {
    redis.cli("CONFIG", "SET", "rdb-key-save-delay", "100000");
    try {
      await expect(backup(config({ saveTimeout: "2s" }))).rejects.toMatchObject({ code: "SOURCE", message: expect.stringContaining("BGSAVE did not finish within 2s") });
    } finally {
      redis.cli("CONFIG", "SET", "rdb-key-save-delay", "0");
      // The slow save's child would run for minutes: end it.
      execFileSync("pkill", ["-KILL", "-P", fs.readFileSync(path.join(redis.dir, "redis.pid"), "utf8").trim()]);
      for (let i = 0; i < 100 && redis.cli("INFO", "persistence").includes("rdb_bgsave_in_progress:1"); i++) await new Promise((r) => setTimeout(r, 100));
    }
  });

  it("runs its tools through docker exec for a containerized server (stand-in docker executable), without the password in argv", async () => {
    const standin = dockerStandIn();
    try {
      const [rdb] = await backup(config({ container: "cache", docker: standin.docker, containerPaths: { [redis.dir]: redis.dir } }));
      expect((rdb!.metadata.keyspace as Record<string, number>).db0).toBeGreaterThanOrEqual(5000);
      expect(standin.calls()).toContain(`cache redis-cli -h 127.0.0.1 -p ${redis.port} --no-auth-warning BGSAVE`);
      expect(standin.calls().join("\n")).not.toContain(redis.password);
    } finally {
      standin.cleanup();
    }
  });

  it("refuses an in-place restore for a container whose data dir containerPaths does not map, touching nothing", async () => {
    const [rdb] = await backup();
    redis.cli("SET", "untouched", "yes");
    const standin = dockerStandIn();
    try {
      await expect(redisPlugin.restore(ctx, config({ container: "cache", docker: standin.docker }), [restoreInput(rdb!.bytes, rdb!.metadata, false, "dump.rdb")], {})).rejects.toMatchObject({
        code: "CONFIG",
        hint: expect.stringContaining("containerPaths"),
      });
    } finally {
      standin.cleanup();
    }
    expect(redis.cli("GET", "untouched")).toBe("yes");
    expect(fs.readdirSync(redis.dir).filter((n) => n.includes("lifeboat"))).toEqual([]);
  });

  it("names the problem when the server is down or the password is wrong", async () => {
    await expect(redisPlugin.check(ctx, config({ port: 1 }))).rejects.toMatchObject({ code: "SOURCE", hint: expect.stringContaining("redis-server running") });
    await expect(redisPlugin.check(ctx, config({ password: "wrong" }))).rejects.toMatchObject({ code: "SOURCE", message: expect.not.stringContaining("wrong") });
  });
});

describe("redis plugin with appendonly on (Redis 7 multi-part AOF)", () => {
  let redis: RedisServer;
  let ctx: TestContext;

  beforeAll(async () => {
    redis = await startRedis({ appendonly: true });
    fillRedis(redis, 3000);
    ctx = pluginContext();
  });
  afterAll(async () => {
    ctx?.cleanup();
    await redis?.stop();
  });

  const config = () => redisPlugin.parseConfig({ port: redis.port, password: redis.password, stop: redis.stopCommand, start: redis.startCommand }, "hosts.h.plugins.redis");
  const restart = () => execFileSync("sh", ["-c", `${redis.stopCommand}; ${redis.startCommand}`]);

  async function backup() {
    const out: { name: string; bytes: Buffer; metadata: Record<string, unknown> }[] = [];
    for await (const a of redisPlugin.backup(ctx, config())) out.push({ name: a.name, bytes: await collect(a.data), metadata: a.metadata() });
    return out;
  }
  const asInputs = (artifacts: { name: string; bytes: Buffer; metadata: Record<string, unknown> }[]) => artifacts.map((a) => restoreInput(a.bytes, a.metadata, false, a.name));

  it("captures the RDB and the AOF directory, and records the AOF layout", async () => {
    const inputs = asInputs(await backup());
    expect(inputs.map((i) => i.record.name)).toEqual(["dump.rdb", "appendonly.tar"]);
    expect(inputs[0]!.record.metadata.aof).toEqual({ kind: "dir", path: path.join(redis.dir, "appendonlydir"), filename: "appendonly.aof" });
    expect(inputs[1]!.record.metadata.files).toContain("appendonly.aof.manifest");
  });

  it("restores in place: Redis loads the restored data from a rebuilt AOF (the RDB alone would be ignored), and keeps it across restarts", async () => {
    const inputs = asInputs(await backup());
    redis.cli("FLUSHALL");
    redis.cli("SET", "after-backup", "1");
    const report = await redisPlugin.restore(ctx, config(), inputs, {});
    expect(report.restored).toEqual([path.join(redis.dir, "dump.rdb"), path.join(redis.dir, "appendonlydir")]);
    expect(redis.cli("DBSIZE")).toBe("3000");
    expect(redis.cli("GET", "after-backup")).toBe("");
    restart();
    await waitForRedis(redis);
    expect(redis.cli("DBSIZE")).toBe("3000");
    expect(redis.cli("-n", "1", "GET", "other:2")).toBe("two");
    expect(fs.readdirSync(redis.dir).filter((n) => n.includes("lifeboat"))).toEqual([]);
  });

  it("puts the previous data back and restarts Redis on it when the restored server does not show the snapshot's keys", async () => {
    const [rdb, aof] = await backup();
    redis.cli("SET", "kept", "yes");
    const claimsMore = restoreInput(rdb!.bytes, { ...rdb!.metadata, keyspace: { db0: 999999 } }, false, "dump.rdb");
    await expect(redisPlugin.restore(ctx, config(), asInputs([aof!]).concat(claimsMore), {})).rejects.toMatchObject({
      code: "RESTORE",
      message: expect.stringContaining("the previous data files were put back and Redis was started on them again"),
    });
    await waitForRedis(redis);
    expect(redis.cli("GET", "kept")).toBe("yes");
    expect(fs.readdirSync(redis.dir).filter((n) => n.includes("lifeboat"))).toEqual([]);
  });

  it("with --into, places the RDB and the snapshot's AOF files under the directory and touches no server", async () => {
    const inputs = asInputs(await backup());
    redis.cli("SET", "untouched", "yes");
    const into = fs.mkdtempSync(path.join(ctx.scratchDir, "into-"));
    const report = await redisPlugin.restore(ctx, config(), inputs, { into });
    // Relative to the folder that holds them.
    const aofDir = path.join(into, "appendonlydir");
    expect(report.restored).toEqual([path.join(into, "dump.rdb"), aofDir]);
    expect(fs.readdirSync(aofDir).sort()).toEqual((inputs[1]!.record.metadata.files as string[]).slice().sort());
    expect(redis.cli("GET", "untouched")).toBe("yes");
  });
});

/** Waits until the server answers and has finished loading. */
async function waitForRedis(redis: RedisServer): Promise<void> {
  for (let i = 0; i < 200; i++) {
    try {
      if (redis.cli("INFO", "persistence").includes("loading:0")) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error("redis did not come back");
}
