/** @module The `redis` plugin: BGSAVE, wait for LASTSAVE, copy the RDB (and the AOF when it is on), check with redis-check-rdb; restore by stop, swap in (an AOF rebuilt from the RDB when AOF is on), start, confirm keys, or put the old files back. */
import { isLifeboatError, LifeboatError, messageOf } from "../../core/errors";
import { readTar } from "../common/tar/reader";
import { writeTar } from "../common/tar/writer";
import { FieldReader } from "../../core/validate";
import { RedisCli, type RedisEndpoint } from "./redis-cli";
import { baseName, parentOf } from "../common/safe-path";
import { applyFileFacts, recordedFileFacts, recordFileFacts } from "../common/file-facts";
import { refusePathPatterns } from "../common/path-patterns";
import { instanceRoot, placeRestored } from "../common/restore-place";
import { readLocation, ServiceTool, type ServiceLocation } from "../common/service-tool";
import { runStep } from "../common/shell";
import { beginSwap, stagedBeside, swapIn, type PendingSwap } from "../common/staging";
import type { ArtifactSource, Plugin, PluginContext, RestoreInput, RestoreReport } from "../contract";
import { serviceTools } from "../common/restore-tools";
import { waitForService } from "../common/service-ready";
import { readCompression } from "../common/config-fields";
import type { CompressionHint } from "../../core/records";

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
  restoreStage: "data",
  // redis-check-rdb runs on the host over the staged file; redis-cli where the server is.
  restoreTools: (config) => [{ command: config.redisCheckRdb, install: "apt-get install redis-tools" }, ...serviceTools(config.location, [{ command: config.redisCli, install: "apt-get install redis-tools" }])],

  parseConfig(raw, where) {
    const r = FieldReader.of(raw, where);
    const saveTimeoutMs = r.duration("saveTimeout", 5 * 60_000);
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
      compression: readCompression(r),
    };
    if ((config.stop === undefined) !== (config.start === undefined)) throw r.fail(config.stop ? "start" : "stop", "stop and start go together");
    r.rejectUnknown();
    return config;
  },

  async check(ctx, config) {
    const cli = new RedisCli(new ServiceTool(ctx.platform, config.location), config);
    await cli.command("PING");
  },

  async ready(ctx, config, timeoutMs) {
    const cli = new RedisCli(new ServiceTool(ctx.platform, config.location), config);
    const where = config.socket ?? `${config.host}:${config.port}`;
    await waitForService(ctx, {
      service: `Redis on ${where}${config.location.container ? ` (container "${config.location.container}")` : ""}`,
      ask: async (signal) => void (await cli.commandUntil(signal, "PING")),
      // Waiting does not mend a wrong password or a missing redis-cli; LOADING and a refused connection it does.
      final: (err) => isLifeboatError(err) && (err.code === "TOOL_MISSING" || /NOAUTH|WRONGPASS|NOPERM/.test(err.message)),
    }, timeoutMs);
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
    const layout = await serverLayout(cli, tool);
    const server = await cli.info("server");
    const keyspace = await cli.keyspace();
    const copy = `${ctx.scratchDir}/redis.rdb`;
    try {
      const file = await recordFileFacts(ctx, layout.rdbPath);
      await ctx.platform.writeStream(copy, ctx.platform.readStream(layout.rdbPath), 0o600);
      await checkRdb(ctx, config, copy, "back up");
      yield {
        name: "dump.rdb",
        compression: config.compression,
        data: ctx.platform.readStream(copy),
        metadata: () => ({ rdbPath: layout.rdbPath, aof: layout.aof ?? null, redisVersion: server.redis_version, keyspace, file }),
      };
    } finally {
      await ctx.platform.remove(copy);
    }
    if (layout.aof) {
      const files = await aofFiles(ctx, layout.aof);
      const entries = [];
      for (const file of files) {
        const info = await ctx.platform.stat(file);
        entries.push({ header: { name: baseName(file), type: "file" as const, mode: info.mode, uid: info.uid, gid: info.gid, size: info.size, mtime: Math.floor(info.mtimeMs / 1000), linkname: "" }, source: file });
      }
      yield { name: "appendonly.tar", compression: config.compression, data: writeTar(ctx.platform, entries), metadata: () => ({ aof: layout.aof, files: files.map(baseName) }) };
    }
  },

  async restore(ctx, config, inputs, target) {
    const rdb = inputs.find((i) => i.record.name === "dump.rdb");
    if (!rdb) throw new LifeboatError("RESTORE", "Cannot restore Redis: the snapshot has no dump.rdb");
    refusePathPatterns(target, "Redis");
    const recorded = recordedLayout(rdb, inputs);
    if (target.into) return placeInto(ctx, config, rdb, inputs, recorded, target.into);
    if (!config.stop || !config.start) {
      throw new LifeboatError("CONFIG", "Cannot restore Redis in place without stop and start commands", { hint: "set stop: and start: for this plugin (e.g. systemctl stop redis-server), or restore with --into DIR" });
    }
    const tool = new ServiceTool(ctx.platform, config.location);
    const layout = await serverLayout(new RedisCli(tool, config), tool).catch((err: unknown) => {
      // An unmapped container path is the inventory's mistake, not a server that is down.
      if (isLifeboatError(err) && err.code === "CONFIG") throw err;
      ctx.log(`redis: the server does not answer (${messageOf(err)}); restoring to the paths the snapshot recorded`);
      return recorded;
    });
    return restoreInPlace(ctx, config, rdb, layout, { stop: config.stop, start: config.start });
  },

  async verify(ctx, config, inputs, scratch) {
    // Placing the copy runs redis-check-rdb over it; stop/start are never used under --into.
    const report = await redisPlugin.restore(ctx, config, inputs, { into: scratch });
    const rdb = inputs.find((i) => i.record.name === "dump.rdb")!;
    return { checks: [`${String(rdb.record.metadata.rdbPath)}: redis-check-rdb ok on the restored copy (${report.restored.length} file(s) restored)`] };
  },
};

/** Where a Redis server keeps its data: the RDB, and with appendonly on its AOF. */
export interface RedisLayout {
  rdbPath: string;
  /** Redis 7 keeps the AOF as a directory of parts named after `filename`; Redis 6 as one file. Absent when appendonly is off. */
  aof?: { kind: "dir"; path: string; filename: string } | { kind: "file"; path: string };
}

/** The running server's layout, from CONFIG GET, as host paths. */
async function serverLayout(cli: RedisCli, tool: ServiceTool): Promise<RedisLayout> {
  const dir = tool.hostPath(await cli.config("dir"));
  const rdbPath = `${dir}/${await cli.config("dbfilename")}`;
  if ((await cli.config("appendonly")) !== "yes") return { rdbPath };
  const filename = (await cli.config("appendfilename")) || "appendonly.aof";
  const dirname = await cli.config("appenddirname"); // Redis 7+
  return { rdbPath, aof: dirname ? { kind: "dir", path: `${dir}/${dirname}`, filename } : { kind: "file", path: `${dir}/${filename}` } };
}

/** The layout the snapshot recorded (for --into, and for a server that does not answer). */
function recordedLayout(rdb: RestoreInput, inputs: RestoreInput[]): RedisLayout {
  const { rdbPath, aof } = rdb.record.metadata as { rdbPath?: unknown; aof?: RedisLayout["aof"] | null };
  if (typeof rdbPath !== "string" || !rdbPath.startsWith("/")) throw new LifeboatError("RESTORE", "Cannot restore Redis: the manifest does not say where the RDB lived");
  const tar = inputs.find((i) => i.record.name === "appendonly.tar")?.record.metadata as { aof?: RedisLayout["aof"] } | undefined;
  const recordedAof = aof ?? tar?.aof;
  return recordedAof ? { rdbPath, aof: recordedAof } : { rdbPath };
}

/** The AOF's files as they are now (Redis 7: every file of the directory; Redis 6: the one file). */
async function aofFiles(ctx: PluginContext, aof: NonNullable<RedisLayout["aof"]>): Promise<string[]> {
  if (aof.kind === "file") return (await ctx.platform.exists(aof.path)) ? [aof.path] : [];
  const names = (await ctx.platform.readdir(aof.path).catch(() => [] as string[])).sort();
  const files = [];
  for (const name of names) if ((await ctx.platform.stat(`${aof.path}/${name}`)).kind === "file") files.push(`${aof.path}/${name}`);
  return files;
}

/**
 * Streams the RDB to a staging file next to `destination`, checks it with
 * redis-check-rdb, and gives it the recorded mode, owner and time (a snapshot
 * that recorded none: 0600, the agent's user). @returns the staged path.
 */
async function stageRdb(ctx: PluginContext, config: RedisConfig, rdb: RestoreInput, destination: string): Promise<string> {
  await ctx.platform.mkdir(parentOf(destination), 0o755);
  const staged = stagedBeside(destination, ctx.jobId);
  try {
    await ctx.platform.writeNewFile(staged, rdb.open(), { mode: 0o600 });
    await checkRdb(ctx, config, staged, "restore");
    const facts = recordedFileFacts(rdb.record.metadata.file);
    if (facts) await applyFileFacts(ctx, staged, facts);
    return staged;
  } catch (err) {
    await ctx.platform.remove(staged);
    throw err;
  }
}

/**
 * An AOF whose whole content is the restored RDB, staged next to the live one:
 * Redis 7 loads a directory whose manifest names one base part, which may be in
 * RDB format (as `aof-use-rdb-preamble` writes it); Redis 6 loads an AOF file
 * that is an RDB preamble. With appendonly on, Redis loads its AOF and ignores
 * dump.rdb, so placing the RDB alone would start it with the old data, or none.
 */
async function stageAof(ctx: PluginContext, stagedRdb: string, aof: NonNullable<RedisLayout["aof"]>, rdb: RestoreInput): Promise<string> {
  const staged = stagedBeside(aof.path, ctx.jobId);
  // The RDB's recorded owner and mode for the AOF's files too: the server that reads one reads the other.
  const facts = recordedFileFacts(rdb.record.metadata.file);
  if (aof.kind === "file") {
    await ctx.platform.writeStream(staged, ctx.platform.readStream(stagedRdb), 0o600);
    if (facts) await applyFileFacts(ctx, staged, facts);
    return staged;
  }
  const base = `${aof.filename}.1.base.rdb`;
  await ctx.platform.mkdir(staged, 0o755);
  await ctx.platform.writeStream(`${staged}/${base}`, ctx.platform.readStream(stagedRdb), 0o600);
  await ctx.platform.writeFile(`${staged}/${aof.filename}.manifest`, `file ${base} seq 1 type b\n`, 0o600);
  if (facts) {
    for (const file of [base, `${aof.filename}.manifest`]) await applyFileFacts(ctx, `${staged}/${file}`, facts);
    await applyFileFacts(ctx, staged, { ...facts, mode: 0o755 });
  }
  return staged;
}

/**
 * Stop, swap the staged RDB (and AOF) in with the old files kept aside, start,
 * confirm the keys; when any step after the stop fails the old files are put
 * back and Redis is started on them again.
 */
async function restoreInPlace(ctx: PluginContext, config: RedisConfig, rdb: RestoreInput, layout: RedisLayout, commands: { stop: string; start: string }): Promise<RestoreReport> {
  const platform = ctx.platform;
  const staged: string[] = [];
  const swaps: PendingSwap[] = [];
  let keys: Record<string, number> = {};
  try {
    staged.push(await stageRdb(ctx, config, rdb, layout.rdbPath));
    if (layout.aof) staged.push(await stageAof(ctx, staged[0]!, layout.aof, rdb));
    await runStep(platform, ctx.log, "stop Redis", commands.stop);
    try {
      swaps.push(await beginSwap(platform, staged[0]!, layout.rdbPath, ctx.jobId));
      if (layout.aof) swaps.push(await beginSwap(platform, staged[1]!, layout.aof.path, ctx.jobId));
      await runStep(platform, ctx.log, "start Redis", commands.start);
      keys = await confirmKeys(ctx, config, rdb);
    } catch (err) {
      throw await putBack(ctx, commands, swaps, err);
    }
    for (const swap of swaps) await swap.commit();
    const restored = layout.aof ? [layout.rdbPath, layout.aof.path] : [layout.rdbPath];
    const loaded = Object.entries(keys).map(([db, n]) => `${db}=${n}`).join(", ") || "no keys";
    return {
      restored,
      details: { keyspace: rdb.record.metadata.keyspace, aof: layout.aof ? `rebuilt from the RDB at ${layout.aof.path}` : "off" },
      checks: [`redis-check-rdb ok on ${layout.rdbPath}`, `Redis restarted on it with the snapshot's keys (${loaded})`],
    };
  } finally {
    for (const path of staged) await platform.remove(path);
  }
}

/** Undoes a failed in-place restore: stop (if it runs), the old files back, start. @returns the error to throw, saying what state Redis is in. */
async function putBack(ctx: PluginContext, commands: { stop: string; start: string }, swaps: PendingSwap[], err: unknown): Promise<LifeboatError> {
  const code = isLifeboatError(err) ? err.code : "RESTORE";
  const hint = isLifeboatError(err) ? err.hint : undefined;
  if (swaps.length === 0) {
    await runStep(ctx.platform, ctx.log, "start Redis", commands.start).catch(() => undefined);
    return new LifeboatError(code, messageOf(err), hint ? { hint } : {});
  }
  await runStep(ctx.platform, ctx.log, "stop Redis", commands.stop).catch(() => undefined);
  for (const swap of [...swaps].reverse()) await swap.undo();
  const started = await runStep(ctx.platform, ctx.log, "start Redis", commands.start).then(
    () => "Redis was started on them again",
    (e: unknown) => `starting Redis on them failed too: ${messageOf(e)}`,
  );
  return new LifeboatError(code, `${messageOf(err)}; the previous data files were put back and ${started}`, hint ? { hint } : {});
}

/** `--into DIR`: the checked RDB, and the snapshot's AOF files, under DIR relative to the folder that holds them; no server is touched. */
async function placeInto(ctx: PluginContext, config: RedisConfig, rdb: RestoreInput, inputs: RestoreInput[], layout: RedisLayout, into: string): Promise<RestoreReport> {
  const root = instanceRoot(layout.aof ? [layout.rdbPath, layout.aof.path] : [layout.rdbPath]);
  const destination = placeRestored(into, root, layout.rdbPath);
  const staged = await stageRdb(ctx, config, rdb, destination);
  await ctx.platform.rename(staged, destination);
  const restored = [destination];
  const tar = inputs.find((i) => i.record.name === "appendonly.tar");
  if (tar && layout.aof) restored.push(await placeAof(ctx, tar, placeRestored(into, root, layout.aof.path), layout.aof.kind));
  return { restored };
}

/** Extracts the snapshot's AOF files (flat names only) to `target`: a directory (Redis 7) or the one file (Redis 6). */
async function placeAof(ctx: PluginContext, tar: RestoreInput, target: string, kind: "dir" | "file"): Promise<string> {
  const staged = stagedBeside(target, ctx.jobId);
  try {
    if (kind === "dir") await ctx.platform.mkdir(staged, 0o755);
    for await (const { header, body } of readTar(tar.open())) {
      if (header.type !== "file" || header.name.includes("/") || header.name.startsWith(".")) {
        throw new LifeboatError("RESTORE", `Refusing entry "${header.name}" of appendonly.tar: an AOF holds plain files only`);
      }
      // Created exclusively: a name given twice (or a second entry for the one-file AOF) is refused.
      await ctx.platform.writeNewFile(kind === "dir" ? `${staged}/${header.name}` : staged, body, { mode: 0o600 });
    }
    await swapIn(ctx.platform, staged, target, ctx.jobId);
    return target;
  } finally {
    await ctx.platform.remove(staged);
  }
}

async function confirmKeys(ctx: PluginContext, config: RedisConfig, rdb: RestoreInput): Promise<Record<string, number>> {
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
  return actual;
}
