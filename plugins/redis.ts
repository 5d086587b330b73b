/** @module The `redis` plugin: BGSAVE, wait for LASTSAVE, copy the RDB (and AOF directory), check with redis-check-rdb; restore by stop, place, start, confirm keys. */
import { parseDuration } from "../agent/durations";
import { LifeboatError } from "../agent/errors";
import { writeTar } from "../agent/tar/writer";
import { describe, FieldReader } from "../agent/validate";
import { RedisCli, type RedisEndpoint } from "./redis-cli";
import { baseName, parentOf, reroot } from "./safe-path";
import { readLocation, ServiceTool, type ServiceLocation } from "./service-tool";
import { runStep } from "./shell";
import type { ArtifactSource, CompressionHint, Plugin, PluginContext, RestoreInput } from "./types";

/** Configuration of a `redis` plugin instance. */
export interface RedisConfig extends RedisEndpoint {
  location: ServiceLocation;
  /** How long BGSAVE may take. */
  saveTimeoutMs: number;
  /** Commands (sh -c) that stop and start the server around an in-place restore. */
  stop?: string;
  start?: string;
  redisCheckRdb: string;
  compression: CompressionHint;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitForSave(cli: RedisCli, before: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const last = Number(await cli.command("LASTSAVE"));
    const info = await cli.info("persistence");
    if (last > before && info.rdb_bgsave_in_progress === "0") {
      if (info.rdb_last_bgsave_status !== "ok") throw new LifeboatError("SOURCE", `Cannot back up Redis: its BGSAVE failed (rdb_last_bgsave_status:${info.rdb_last_bgsave_status})`, { hint: "see the Redis log; often the disk is full or dir is not writable" });
      return;
    }
    if (Date.now() > deadline) {
      throw new LifeboatError("SOURCE", `Cannot back up Redis: BGSAVE did not finish within ${Math.round(timeoutMs / 1000)}s`, { hint: "raise saveTimeout for this plugin, or look at why saving is slow (rdb-key-save-delay, disk)" });
    }
    await sleep(200);
  }
}

async function checkRdb(ctx: PluginContext, config: RedisConfig, file: string, what: string): Promise<void> {
  let result;
  try {
    result = await ctx.platform.run(config.redisCheckRdb, [file]);
  } catch {
    throw new LifeboatError("TOOL_MISSING", `Cannot check "${file}": ${config.redisCheckRdb} is not installed on this host`, { hint: "install redis-tools (apt-get install redis-tools)" });
  }
  const report = `${result.stdout}\n${result.stderr}`.trim();
  if (result.code !== 0 || !/RDB looks OK/i.test(report)) {
    const lines = report.split("\n").filter((l) => /error|fail|unexpected|invalid|wrong|corrupt/i.test(l));
    throw new LifeboatError("INTEGRITY", `Cannot ${what} the Redis RDB: redis-check-rdb says: ${(lines.length ? lines : report.split("\n").slice(-2)).slice(0, 3).join(" | ")}`);
  }
}

export const redisPlugin: Plugin<RedisConfig> = {
  name: "redis",

  parseConfig(raw, where) {
    const r = FieldReader.of(raw, where);
    const saveTimeout = r.value("saveTimeout");
    const saveTimeoutMs = saveTimeout === undefined ? 5 * 60_000 : parseDuration(saveTimeout);
    if (saveTimeoutMs === null || saveTimeoutMs <= 0) throw r.fail("saveTimeout", `expected a duration such as 5m, got ${describe(saveTimeout)}`);
    const config: RedisConfig = {
      host: r.string("host", true) ?? "127.0.0.1",
      port: r.number("port", true) ?? 6379,
      socket: r.string("socket", true),
      user: r.string("user", true),
      password: r.string("password", true),
      redisCli: r.string("redisCli", true) ?? "redis-cli",
      redisCheckRdb: r.string("redisCheckRdb", true) ?? "redis-check-rdb",
      location: readLocation(r),
      saveTimeoutMs,
      stop: r.string("stop", true),
      start: r.string("start", true),
      compression: r.oneOf("compression", ["auto", "none", "zstd", "gzip"] as const, "auto"),
    };
    if ((config.stop === undefined) !== (config.start === undefined)) throw r.fail(config.stop ? "start" : "stop", "stop and start go together");
    r.rejectUnknown();
    return config;
  },

  async check(ctx, config) {
    const cli = new RedisCli(new ServiceTool(ctx.platform, config.location), config);
    await cli.command("PING");
  },

  async *backup(ctx, config): AsyncIterable<ArtifactSource> {
    const tool = new ServiceTool(ctx.platform, config.location);
    const cli = new RedisCli(tool, config);
    const before = Number(await cli.command("LASTSAVE"));
    // LASTSAVE counts whole seconds: start the save in a later second than the last one, so that it shows.
    for (let i = 0; i < 30 && Number((await cli.command("TIME")).split("\n")[0]) <= before; i++) await sleep(100);
    try {
      await cli.command("BGSAVE");
    } catch (err) {
      if (!/already in progress/i.test((err as Error).message)) throw err;
    }
    await waitForSave(cli, before, config.saveTimeoutMs);
    const dir = tool.hostPath(await cli.config("dir"));
    const rdbPath = `${dir}/${await cli.config("dbfilename")}`;
    const server = await cli.info("server");
    const keyspace = await cli.keyspace();
    const copy = `${ctx.scratchDir}/redis.rdb`;
    try {
      await ctx.platform.writeStream(copy, ctx.platform.readStream(rdbPath), 0o600);
      await checkRdb(ctx, config, copy, "back up");
      yield {
        name: "dump.rdb",
        compression: config.compression,
        data: ctx.platform.readStream(copy),
        metadata: () => ({ rdbPath, redisVersion: server.redis_version, keyspace }),
      };
    } finally {
      await ctx.platform.remove(copy);
    }
    if ((await cli.config("appendonly")) === "yes") {
      const aofDir = `${dir}/${(await cli.config("appenddirname")) || "appendonlydir"}`;
      const names = (await ctx.platform.readdir(aofDir).catch(() => [] as string[])).sort();
      const entries = [];
      for (const name of names) {
        const info = await ctx.platform.stat(`${aofDir}/${name}`);
        if (info.kind === "file") entries.push({ header: { name: name, type: "file" as const, mode: info.mode, uid: info.uid, gid: info.gid, size: info.size, mtime: Math.floor(info.mtimeMs / 1000), linkname: "" }, source: `${aofDir}/${name}` });
      }
      yield { name: "appendonly.tar", compression: config.compression, data: writeTar(ctx.platform, entries), metadata: () => ({ aofDir, files: names }) };
    }
  },

  async restore(ctx, config, inputs, target) {
    const rdb = inputs.find((i) => i.record.name === "dump.rdb");
    if (!rdb) throw new LifeboatError("RESTORE", "Cannot restore Redis: the snapshot has no dump.rdb");
    if (inputs.some((i) => i.record.name === "appendonly.tar")) {
      ctx.warn("the snapshot also holds an AOF directory; the RDB is restored and Redis rebuilds its AOF from it when appendonly is on");
    }
    const recorded = rdb.record.metadata.rdbPath;
    if (typeof recorded !== "string" || !recorded.startsWith("/")) throw new LifeboatError("RESTORE", "Cannot restore Redis: the manifest does not say where the RDB lived");
    const destination = reroot(recorded, target.into);
    await ctx.platform.mkdir(parentOf(destination), 0o755);
    const staged = `${parentOf(destination)}/.${baseName(destination)}.lifeboat-staging-${ctx.jobId}`;
    try {
      await ctx.platform.writeStream(staged, rdb.open(), 0o600);
      await checkRdb(ctx, config, staged, "restore");
      if (target.into) {
        await ctx.platform.rename(staged, destination);
        return { restored: [destination] };
      }
      if (!config.stop || !config.start) {
        throw new LifeboatError("CONFIG", "Cannot restore Redis in place without stop and start commands", { hint: "set stop: and start: for this plugin (e.g. systemctl stop redis-server), or restore with --into DIR" });
      }
      await runStep(ctx.platform, ctx.log, "stop Redis", config.stop);
      try {
        await ctx.platform.rename(staged, destination);
      } finally {
        await runStep(ctx.platform, ctx.log, "start Redis", config.start);
      }
      await confirmKeys(ctx, config, rdb);
      return { restored: [destination], details: { keyspace: rdb.record.metadata.keyspace } };
    } finally {
      await ctx.platform.remove(staged);
    }
  },

  async verify(ctx, config, inputs, scratch) {
    // Placing the copy runs redis-check-rdb over it; stop/start are never used under --into.
    const report = await redisPlugin.restore(ctx, config, inputs, { into: scratch });
    const rdb = inputs.find((i) => i.record.name === "dump.rdb")!;
    return { checks: [`${String(rdb.record.metadata.rdbPath)}: redis-check-rdb ok on the restored copy (${report.restored.length} file(s) restored)`] };
  },
};

async function confirmKeys(ctx: PluginContext, config: RedisConfig, rdb: RestoreInput): Promise<void> {
  const cli = new RedisCli(new ServiceTool(ctx.platform, config.location), config);
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      if ((await cli.info("persistence")).loading === "0") break;
    } catch (err) {
      if (Date.now() > deadline) throw err;
    }
    await sleep(200);
  }
  const expected = (rdb.record.metadata.keyspace ?? {}) as Record<string, number>;
  const actual = await cli.keyspace();
  for (const [db, keys] of Object.entries(expected)) {
    if ((actual[db] ?? 0) < keys) {
      throw new LifeboatError("RESTORE", `Redis restarted with ${actual[db] ?? 0} keys in ${db}, the snapshot has ${keys}`, { hint: "check that appendonly is off or its AOF was replaced, and that start uses the same dir/dbfilename" });
    }
  }
  ctx.log(`redis restarted with keyspace ${JSON.stringify(actual)}`);
}
