/**
 * @module The `chroma` plugin: a Chroma persist directory (`chroma.sqlite3` plus one
 * folder of index files per vector segment). With stop/start commands: a copy
 * while Chroma is stopped. Without: an online SQLite backup plus segment copies
 * that are retried when files change underneath. With `container:` the directory is
 * read and written on the host through `containerPaths`; sqlite3 runs on the host.
 */
import { LifeboatError } from "../../core/errors";
import type { Platform } from "../../core/platform";
import { writeTar, type TarEntry } from "../common/tar/writer";
import { FieldReader } from "../../core/validate";
import { restoreTrees } from "../common/tree-restore";
import { accountsOf } from "../common/accounts";
import { refusePathPatterns } from "../common/path-patterns";
import { checkRestoreLocation, locationFacts, readLocation, ServiceTool, type ServiceLocation } from "../common/service-tool";
import { runStep } from "../common/shell";
import { removeSidecars, SqliteCli } from "../sqlite/sqlite-cli";
import { listTree, type TreeEntry } from "../common/tree";
import { configuredTargets } from "../common/restore-targets";
import type { ArtifactSource, Plugin, PluginContext } from "../contract";
import { readCompression } from "../common/config-fields";
import type { CompressionHint } from "../../core/records";

/** Configuration of a `chroma` plugin instance. */
export interface ChromaConfig {
  /** The persist directory (as the container sees it, with `container:`). */
  path: string;
  /** Commands that stop and start Chroma around the copy (e.g. docker compose stop chromadb). */
  stop?: string;
  start?: string;
  /** Online copies: how often to retry when segment files change during the copy. */
  retries: number;
  /** The host's sqlite3 (it reads the database through the host path, never in the container). */
  sqlite3: string;
  /** How long the consistent copy of chroma.sqlite3 may take before the backup fails. */
  copyTimeoutMs: number;
  compression: CompressionHint;
  location: ServiceLocation;
}

const DB = "chroma.sqlite3";

/** Vector segments the database references, and the segment folders present. */
async function segmentCheck(platform: Platform, cli: SqliteCli, dir: string, db: string): Promise<{ segments: string[]; collections: Record<string, number> }> {
  const report = await cli.integrityCheck(db);
  if (report.length !== 1 || report[0] !== "ok") throw new LifeboatError("INTEGRITY", `Chroma database "${db}" fails integrity_check: ${report.slice(0, 3).join("; ")}`);
  const segments = (await cli.rows<{ id: string }>(db, "SELECT id FROM segments WHERE scope = 'VECTOR' ORDER BY id;")).map((r) => r.id);
  for (const id of segments) {
    if (!(await platform.exists(`${dir}/${id}`))) {
      throw new LifeboatError("INTEGRITY", `Chroma segment ${id} is referenced by ${DB} but its folder is missing in "${dir}"`, { hint: "the persist directory is incomplete; restore another snapshot" });
    }
  }
  const rows = await cli.rows<{ name: string; n: number }>(db, "SELECT c.name AS name, count(e.id) AS n FROM collections c LEFT JOIN segments s ON s.collection = c.id AND s.scope = 'METADATA' LEFT JOIN embeddings e ON e.segment_id = s.id GROUP BY c.name ORDER BY c.name;");
  return { segments, collections: Object.fromEntries(rows.map((r) => [r.name, r.n])) };
}

const fingerprint = (files: TreeEntry[]) => files.map((f) => `${f.rel}:${f.info.size}:${f.info.mtimeMs}:${f.info.ino}`).join("\n");

/**
 * Copies the persist directory (at `dir` on the host) into `copy`: SQLite in one
 * read transaction, the rest file by file; retried while segment files change underneath.
 */
async function consistentCopy(ctx: PluginContext, config: ChromaConfig, dir: string, cli: SqliteCli, copy: string): Promise<TreeEntry[]> {
  const p = ctx.platform;
  for (let attempt = 1; ; attempt++) {
    await p.remove(copy);
    await p.mkdir(copy, 0o700);
    const before = (await listTree(p, dir)).filter((f) => !f.rel.startsWith(`${DB}`));
    // Also when Chroma is stopped: a stop that was not clean leaves committed data in chroma.sqlite3-wal.
    await cli.copyTo(`${dir}/${DB}`, `${copy}/${DB}`, config.copyTimeoutMs, config.stop ? "check that the stop: command really stops Chroma, or raise copyTimeout" : "configure stop: and start: commands so Chroma is stopped during the copy, or raise copyTimeout");
    for (const f of before) {
      if (f.info.kind === "directory") await p.mkdir(`${copy}/${f.rel}`, 0o700);
      else if (f.info.kind === "file") await p.writeStream(`${copy}/${f.rel}`, p.readStream(`${dir}/${f.rel}`), f.info.mode);
    }
    const after = (await listTree(p, dir)).filter((f) => !f.rel.startsWith(`${DB}`));
    if (fingerprint(before) === fingerprint(after)) return before;
    if (attempt > config.retries) {
      throw new LifeboatError("SOURCE", `Cannot copy Chroma's segment files in "${dir}": they kept changing during ${attempt} attempts`, { hint: "configure stop: and start: commands so Chroma is stopped during the copy" });
    }
    ctx.warn(`Chroma segment files changed during the copy; retrying (${attempt}/${config.retries})`);
  }
}

export const chromaPlugin: Plugin<ChromaConfig> = {
  name: "chroma",
  restoreStage: "data",
  // integrity_check of the staged database, with the host's sqlite3 (also for a containerized Chroma).
  restoreTools: (config) => [{ command: config.sqlite3, install: "apt-get install sqlite3" }],

  parseConfig(raw, where) {
    const r = FieldReader.of(raw, where);
    const path = r.absolutePath("path");
    const config: ChromaConfig = {
      path: path.replace(/(.)\/$/, "$1"),
      stop: r.string("stop", true),
      start: r.string("start", true),
      retries: r.number("retries", true) ?? 3,
      sqlite3: r.string("sqlite3", true) ?? "sqlite3",
      copyTimeoutMs: r.duration("copyTimeout", 15 * 60_000),
      compression: readCompression(r),
      location: readLocation(r),
    };
    if ((config.stop === undefined) !== (config.start === undefined)) throw r.fail(config.stop ? "start" : "stop", "stop and start go together");
    r.rejectUnknown();
    return config;
  },

  async check(ctx, config) {
    const tool = new ServiceTool(ctx.platform, config.location);
    const db = tool.map(`${config.path}/${DB}`);
    if (!(await ctx.platform.exists(db.host))) {
      throw new LifeboatError("SOURCE", `Cannot back up Chroma: ${tool.describe(db)} does not exist on this host`, { hint: tool.pathHint("set path: to Chroma's persist directory") });
    }
    if (!(await ctx.platform.which(config.sqlite3))) throw new LifeboatError("TOOL_MISSING", `Cannot back up Chroma: "${config.sqlite3}" is not installed on this host`, { hint: "install sqlite3 on the host" });
  },

  async *backup(ctx, config): AsyncIterable<ArtifactSource> {
    const cli = new SqliteCli(ctx.platform, config.sqlite3);
    const dir = new ServiceTool(ctx.platform, config.location).map(config.path);
    const copy = `${ctx.scratchDir}/chroma`;
    try {
      if (config.stop) await runStep(ctx.platform, ctx.log, "stop Chroma", config.stop, "SOURCE");
      let copied: TreeEntry[];
      try {
        copied = await consistentCopy(ctx, config, dir.host, cli, copy);
      } finally {
        if (config.start) await runStep(ctx.platform, ctx.log, "start Chroma", config.start, "SOURCE");
      }
      const facts = await segmentCheck(ctx.platform, cli, copy, `${copy}/${DB}`);
      const entries: TarEntry[] = [];
      // Named in the archive by the path as Chroma sees it (the container's, with `container:`).
      const root = await ctx.platform.stat(dir.host);
      const accounts = await accountsOf(ctx);
      const owner = (info: { uid: number; gid: number }) => ({ uid: info.uid, gid: info.gid, uname: accounts.userName(info.uid), gname: accounts.groupName(info.gid) });
      entries.push({ header: { name: config.path.slice(1), type: "directory", mode: root.mode, ...owner(root), size: 0, mtime: Math.floor(root.mtimeMs / 1000), linkname: "" } });
      // Names, modes, owners and times of the originals; contents from the consistent copy.
      const db = await ctx.platform.stat(`${dir.host}/${DB}`);
      for (const f of [{ rel: DB, info: { ...db, size: (await ctx.platform.stat(`${copy}/${DB}`)).size } }, ...copied!]) {
        const header = { name: `${config.path.slice(1)}/${f.rel}`, mode: f.info.mode, ...owner(f.info), mtime: Math.floor(f.info.mtimeMs / 1000), linkname: "" };
        if (f.info.kind === "directory") entries.push({ header: { ...header, type: "directory", size: 0 } });
        else if (f.info.kind === "file") entries.push({ header: { ...header, type: "file", size: f.info.size }, source: `${copy}/${f.rel}` });
      }
      yield { name: "chroma.tar", compression: config.compression, data: writeTar(ctx.platform, entries), metadata: () => ({ path: config.path, paths: [config.path], ...facts, mode: config.stop ? "stopped" : "online", ...locationFacts(config.location) }) };
    } finally {
      await ctx.platform.remove(copy);
    }
  },

  async restore(ctx, config, inputs, target) {
    refusePathPatterns(target, "Chroma's persist directory");
    const [path] = configuredTargets(inputs[0]?.record.metadata.path, [config.path], target.into, "Chroma's persist directory") as [string];
    checkRestoreLocation(config.location, inputs[0]?.record.metadata ?? {}, path, target.into);
    const cli = new SqliteCli(ctx.platform, config.sqlite3);
    const tree = new ServiceTool(ctx.platform, config.location).map(path);
    return restoreTrees(ctx, [tree], inputs, target, async (staged) => {
      const dir = staged.get(path)!;
      await segmentCheck(ctx.platform, cli, dir, `${dir}/${DB}`);
      // Opening the staged database may leave -wal/-shm beside it.
      await removeSidecars(ctx.platform, `${dir}/${DB}`);
    });
  },

  async verify(ctx, config, inputs, scratch) {
    // Staging the copy runs integrity_check and looks for every segment folder the database references.
    await chromaPlugin.restore(ctx, config, inputs, { into: scratch });
    const meta = inputs[0]?.record.metadata ?? {};
    const segments = Array.isArray(meta.segments) ? meta.segments.length : 0;
    const collections = Object.keys((meta.collections ?? {}) as Record<string, number>).length;
    return { checks: [`${String(meta.path ?? config.path)}: ${DB} integrity_check ok, all ${segments} vector segment folders it references present (${collections} collections)`] };
  },
};
