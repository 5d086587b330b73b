/**
 * @module The `sqlite` plugin: consistent online copies checked before upload, restores
 * checked before they are swapped in. With `container:` the database paths are the
 * container's, mapped to the host through `containerPaths`; the host's sqlite3 works on
 * the host path (the file is on a volume the host can read), never inside the container.
 */
import { LifeboatError } from "../../core/errors";
import { FieldReader } from "../../core/validate";
import { baseName, parentOf } from "../common/safe-path";
import { applyFileFacts, recordedFileFacts, recordFileFacts, type FileFacts } from "../common/file-facts";
import { refusePathPatterns } from "../common/path-patterns";
import { instanceRoot, placeRestored } from "../common/restore-place";
import { checkRestoreLocation, locationFacts, readLocation, ServiceTool, type ServiceLocation } from "../common/service-tool";
import { removeSidecars, SqliteCli } from "./sqlite-cli";
import { stagedBeside, swapAllIn, type PendingSwap } from "../common/staging";
import { configuredTargets } from "../common/restore-targets";
import type { ArtifactSource, Plugin, PluginContext, RestoreInput } from "../contract";
import { readCompression } from "../common/config-fields";
import type { CompressionHint } from "../../core/records";

/** Configuration of a `sqlite` plugin instance. */
export interface SqliteConfig {
  /** Absolute paths of the database files (as the container sees them, with `container:`). */
  databases: string[];
  compression: CompressionHint;
  /** The host's sqlite3 command-line tool; it runs on the host even for a containerized application. */
  sqlite3: string;
  /** How long one database's consistent copy may take before the backup of it fails. */
  copyTimeoutMs: number;
  location: ServiceLocation;
}

/** A consistent copy takes one pass over the database; this bounds a copy that waits on another process's lock. */
const COPY_TIMEOUT_MS = 15 * 60_000;
const COPY_HINT =
  "another process held the database locked or the disk is slow: pause the application around the backup with before/after hooks (e.g. docker compose stop app / start app), or raise copyTimeout";

/** Artifact names: the file's base name, made unique and safe. */
function artifactNames(databases: string[]): string[] {
  const used = new Set<string>();
  return databases.map((db) => {
    const base = baseName(db).replace(/[^A-Za-z0-9._-]/g, "_").replace(/^[._-]+/, "") || "database";
    let name = base;
    for (let i = 2; used.has(name); i++) name = base.replace(/(\.[^.]*)?$/, (ext) => `-${i}${ext}`);
    used.add(name);
    return name;
  });
}

function integrityFailure(database: string, report: string[], when: string): LifeboatError {
  return new LifeboatError("INTEGRITY", `Cannot ${when} SQLite database "${database}": integrity_check failed: ${report.slice(0, 5).join("; ")}`, {
    hint: when === "back up" ? "the live database is damaged; repair it (sqlite3 .recover) and run the backup again" : "the stored copy is damaged; restore from another snapshot",
  });
}

/** One staged database waiting to be swapped in. */
interface Staged {
  target: string;
  staged: string;
  tables: Record<string, number>;
  /** The file's recorded mode, owner and time; absent in snapshots made before they were recorded. */
  facts?: FileFacts;
}

export const sqlitePlugin: Plugin<SqliteConfig> = {
  name: "sqlite",
  restoreStage: "data",
  // integrity_check and row counts of the staged copy, with the host's sqlite3 (also for a containerized application).
  restoreTools: (config) => [{ command: config.sqlite3, install: "apt-get install sqlite3" }],

  parseConfig(raw, where) {
    const r = FieldReader.of(raw, where);
    const databases = r.absolutePathList("databases", { nonEmpty: true });
    databases.forEach((d, i) => {
      if (d.endsWith("/")) throw r.fail(`databases[${i}]`, `must be the absolute path of a database file, got "${d}"`);
    });
    const config: SqliteConfig = {
      databases,
      compression: readCompression(r),
      sqlite3: r.string("sqlite3", true) ?? "sqlite3",
      copyTimeoutMs: r.duration("copyTimeout", COPY_TIMEOUT_MS),
      location: readLocation(r),
    };
    r.rejectUnknown();
    return config;
  },

  async check(ctx, config) {
    if (!(await ctx.platform.which(config.sqlite3))) {
      throw new LifeboatError("TOOL_MISSING", `Cannot back up SQLite databases: "${config.sqlite3}" is not installed on this host`, { hint: "install sqlite3 on the host (apt-get install sqlite3)" });
    }
    const tool = new ServiceTool(ctx.platform, config.location);
    for (const db of config.databases.map((d) => tool.map(d))) {
      const info = await ctx.platform.stat(db.host).catch(() => null);
      if (!info || info.kind !== "file") {
        throw new LifeboatError("SOURCE", `Cannot back up SQLite database ${tool.describe(db)}: no such file on this host`, { hint: tool.pathHint("fix the path in the inventory") });
      }
    }
  },

  async *backup(ctx, config): AsyncIterable<ArtifactSource> {
    const cli = new SqliteCli(ctx.platform, config.sqlite3);
    const tool = new ServiceTool(ctx.platform, config.location);
    const names = artifactNames(config.databases);
    for (const [i, database] of config.databases.entries()) {
      const host = tool.hostPath(database);
      const copy = `${ctx.scratchDir}/sqlite-${i}.db`;
      try {
        const { journalMode } = await cli.copyTo(host, copy, config.copyTimeoutMs, COPY_HINT);
        const report = await cli.integrityCheck(copy);
        if (report.length !== 1 || report[0] !== "ok") throw integrityFailure(database, report, "back up");
        const tables = await cli.tableCounts(copy);
        const facts = await cli.facts(copy);
        const file = await recordFileFacts(ctx, host);
        ctx.log(`${database}: consistent copy, ${Object.keys(tables).length} tables, integrity ok`);
        yield {
          name: names[i]!,
          compression: config.compression,
          data: ctx.platform.readStream(copy),
          metadata: () => ({ path: database, tables, ...facts, journalMode, file, ...locationFacts(config.location) }),
        };
      } finally {
        await ctx.platform.remove(copy);
        await removeSidecars(ctx.platform, copy);
      }
    }
  },

  async restore(ctx, config, inputs, target) {
    const cli = new SqliteCli(ctx.platform, config.sqlite3);
    const tool = new ServiceTool(ctx.platform, config.location);
    const staged: Staged[] = [];
    refusePathPatterns(target, "SQLite databases");
    try {
      for (const input of inputs) checkRestoreLocation(config.location, input.record.metadata, String(input.record.metadata.path), target.into);
      const paths = inputs.map((input) => (configuredTargets(input.record.metadata.path, config.databases, target.into, `SQLite database "${input.record.name}"`) as [string])[0]);
      const root = instanceRoot(paths);
      for (const [i, input] of inputs.entries()) {
        const path = paths[i]!;
        staged.push(await stage(ctx, cli, input, path, placeRestored(target.into, root, path, () => tool.hostPath(path))));
      }
      await swapAllIn(staged.map((s) => ({ target: s.target, begin: () => beginDatabaseSwap(ctx, s) })), ctx.jobId);
      return {
        restored: staged.map((s) => s.target),
        details: Object.fromEntries(staged.map((s) => [s.target, { tables: s.tables }])),
        checks: staged.map((s) => `integrity_check ok: ${s.target} (${Object.keys(s.tables).length} tables, row counts as recorded${s.facts ? ", mode, owner and time as recorded" : ""})`),
      };
    } finally {
      for (const s of staged) await ctx.platform.remove(s.staged);
    }
  },

  async verify(ctx, config, inputs, scratch) {
    // Staging a copy runs integrity_check and compares every table's row count with the snapshot's.
    await sqlitePlugin.restore(ctx, config, inputs, { into: scratch });
    return {
      checks: inputs.map((input) => {
        const tables = Object.keys((input.record.metadata.tables ?? {}) as Record<string, number>).length;
        return `${String(input.record.metadata.path)}: integrity_check ok, row counts of ${tables} tables as recorded`;
      }),
    };
  },
};

/**
 * Stages one database beside `target` (the recorded path, the container's with
 * `container:`, mapped to the host or placed under --into), checks it, and gives
 * it the recorded mode, owner and time.
 */
async function stage(ctx: PluginContext, cli: SqliteCli, input: RestoreInput, original: string, target: string): Promise<Staged> {
  await ctx.platform.mkdir(parentOf(target), 0o755);
  const staged = stagedBeside(target, ctx.jobId);
  try {
    await ctx.platform.writeNewFile(staged, input.open(), { mode: 0o600 });
    const report = await cli.integrityCheck(staged);
    if (report.length !== 1 || report[0] !== "ok") throw integrityFailure(original, report, "restore");
    const expected = (input.record.metadata.tables ?? {}) as Record<string, number>;
    const tables = await cli.tableCounts(staged);
    for (const [table, rows] of Object.entries(expected)) {
      if (tables[table] !== rows) {
        throw new LifeboatError("INTEGRITY", `Cannot restore SQLite database "${original}": table "${table}" has ${tables[table] ?? "no"} rows, the snapshot recorded ${rows}`);
      }
    }
    const facts = recordedFileFacts(input.record.metadata.file);
    if (facts) await applyFileFacts(ctx, staged, facts);
    return facts ? { target, staged, tables, facts } : { target, staged, tables };
  } catch (err) {
    await ctx.platform.remove(staged);
    throw err;
  } finally {
    // Opening the staged copy (WAL mode) leaves -wal/-shm beside it; the copy itself is complete.
    await removeSidecars(ctx.platform, staged);
  }
}

/**
 * Moves the old database and its -wal/-shm/-journal aside and the staged copy in
 * (with the recorded mode and owner, or for an older snapshot that recorded
 * none, the old file's); `commit()` removes the old files,
 * `undo()` puts them back.
 */
async function beginDatabaseSwap(ctx: PluginContext, s: Staged): Promise<PendingSwap> {
  const p = ctx.platform;
  const moved: [string, string][] = [];
  const putBack = async () => {
    for (const [file, aside] of moved) await p.rename(aside, file);
  };
  try {
    for (const suffix of ["", "-wal", "-shm", "-journal"]) {
      const file = `${s.target}${suffix}`;
      if (await p.exists(file)) {
        const aside = `${file}.lifeboat-old-${ctx.jobId}`;
        await p.rename(file, aside);
        moved.push([file, aside]);
      }
    }
    await p.rename(s.staged, s.target);
    if (moved[0] && !s.facts) {
      const old = await p.stat(moved[0][1]);
      if (p.uid() === 0) await p.lchown(s.target, old.uid, old.gid);
      await p.chmod(s.target, old.mode);
    }
  } catch (err) {
    await putBack();
    throw err;
  }
  return {
    commit: async () => {
      for (const [, aside] of moved) await p.remove(aside);
    },
    undo: async () => {
      await p.rename(s.target, s.staged);
      await putBack();
    },
  };
}
