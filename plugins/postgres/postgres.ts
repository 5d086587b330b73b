/**
 * @module The `postgres` plugin: pg_dump (custom format) per database inside one
 * exported snapshot, with per-table row counts taken in that same snapshot, plus
 * globals; restore into a scratch database, check, then rename into place.
 */
import { isLifeboatError, LifeboatError } from "../../core/errors";
import { FieldReader } from "../../core/validate";
import { ArchiveRowCounter, type ArchiveCount } from "./pg-archive";
import { conninfoDbname, countSql, dropDatabase, parseCounts, pgEnv, postgresHint, postgresProbe, psql, quoteIdent, quoteLiteral } from "./connection";
import { PsqlSession } from "./psql-session";
import { restoreTables } from "./table-restore";
import { dropRoles, restoreRoles } from "./roles";
import { placeRestored } from "../common/restore-place";
import { refusePathPatterns } from "../common/path-patterns";
import { readLocation, ServiceTool, type ServiceLocation } from "../common/service-tool";
import type { ArtifactSource, Plugin, PluginContext, RestoreInput } from "../contract";
import { serviceTools } from "../common/restore-tools";
import { waitForService } from "../common/service-ready";
import { readCompression } from "../common/config-fields";
import type { CompressionHint } from "../../core/records";

/** Configuration of a `postgres` plugin instance. */
export interface PostgresConfig {
  host: string;
  port: number;
  user: string;
  /** Sent as PGPASSWORD in the tools' environment, never in argv. */
  password?: string;
  databases: "all" | string[];
  globals: boolean;
  /** Tables whose data is left out (schema kept), pg_dump patterns. */
  excludeTableData: string[];
  schemaOnly: boolean;
  restore: {
    replace: boolean;
    /** Create the snapshot's roles (globals.sql) that do not exist here before the databases go in; existing roles are left alone. */
    roles: boolean;
    noOwner: boolean;
    noPrivileges: boolean;
    jobs: number;
    tables: string[];
    /** Which of the snapshot's databases to restore (empty: all). */
    databases: string[];
    /** Restore a database under another name: snapshot name → target name. */
    rename: Record<string, string>;
  };
  tools: { psql: string; pgDump: string; pgDumpall: string; pgRestore: string };
  location: ServiceLocation;
  compression: CompressionHint;
}

const IDENT = /^[A-Za-z0-9_][A-Za-z0-9_$-]*$/;

/** A table as [schema, name, quoted `schema.name`]: the quoted form keys the manifest's row counts. */
type TableName = [string, string, string];

const TABLES_SQL = `SELECT json_build_array(n.nspname, c.relname, format('%I.%I', n.nspname, c.relname)) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%' ORDER BY n.nspname, c.relname;`;

/** A pg_dump table pattern (`*` wildcard, schema `public` optional) as a test of quoted `schema.table` names. */
function tablePattern(pattern: string): RegExp {
  const body = pattern.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*");
  return new RegExp(`^(public\\.)?${body}$`);
}

export const postgresPlugin: Plugin<PostgresConfig> = {
  name: "postgres",
  restoreStage: "data",
  // psql applies the roles and runs the checks, pg_restore loads the dumps, both where the server is.
  restoreTools: (config) =>
    serviceTools(config.location, [
      { command: config.tools.psql, install: "apt-get install postgresql-client" },
      { command: config.tools.pgRestore, install: "apt-get install postgresql-client" },
    ]),

  parseConfig(raw, where) {
    const r = FieldReader.of(raw, where);
    const dbs = r.value("databases");
    let databases: "all" | string[];
    if (dbs === undefined || dbs === "all") databases = "all";
    else {
      databases = r.stringList("databases", { nonEmpty: true });
      databases.forEach((d, i) => {
        if (!IDENT.test(d)) throw r.fail(`databases[${i}]`, `not a database name: "${d}"`);
      });
    }
    const restoreRaw = r.value("restore");
    const rr = FieldReader.of(restoreRaw ?? {}, `${where}.restore`);
    const jobs = rr.number("jobs", true) ?? 1;
    if (!Number.isInteger(jobs) || jobs < 1) throw rr.fail("jobs", "expected a whole number >= 1");
    const restore = {
      replace: rr.boolean("replace", false),
      roles: rr.boolean("roles", true),
      noOwner: rr.boolean("noOwner", false),
      noPrivileges: rr.boolean("noPrivileges", false),
      jobs,
      tables: rr.stringList("tables", { optional: true }),
      databases: rr.stringList("databases", { optional: true }),
      rename: rr.stringMap("rename"),
    };
    restore.databases.forEach((d, i) => {
      if (!IDENT.test(d)) throw rr.fail(`databases[${i}]`, `not a database name: "${d}"`);
    });
    for (const [from, to] of Object.entries(restore.rename)) {
      if (!IDENT.test(to)) throw rr.fail(`rename.${from}`, `not a database name: "${to}"`);
    }
    rr.rejectUnknown();
    const config: PostgresConfig = {
      host: r.string("host", true) ?? "127.0.0.1",
      port: r.number("port", true) ?? 5432,
      user: r.string("user", true) ?? "postgres",
      password: r.string("password", true),
      databases,
      globals: r.boolean("globals", true),
      excludeTableData: r.stringList("excludeTableData", { optional: true }),
      schemaOnly: r.boolean("schemaOnly", false),
      restore,
      tools: { psql: r.string("psql", true) ?? "psql", pgDump: r.string("pgDump", true) ?? "pg_dump", pgDumpall: r.string("pgDumpall", true) ?? "pg_dumpall", pgRestore: r.string("pgRestore", true) ?? "pg_restore" },
      location: readLocation(r),
      compression: readCompression(r),
    };
    r.rejectUnknown();
    return config;
  },

  async check(ctx, config) {
    const tool = new ServiceTool(ctx.platform, config.location);
    if (!config.location.container) {
      for (const t of [config.tools.psql, config.tools.pgDump]) {
        if (!(await ctx.platform.which(t))) throw new LifeboatError("TOOL_MISSING", `Cannot back up PostgreSQL: "${t}" is not installed on this host`, { hint: "install postgresql-client (apt-get install postgresql-client)" });
      }
    }
    await psql(tool, config, "postgres", "SELECT 1;");
  },

  async *backup(ctx, config): AsyncIterable<ArtifactSource> {
    const tool = new ServiceTool(ctx.platform, config.location);
    const databases =
      config.databases === "all" ? await psql(tool, config, "postgres", "SELECT datname FROM pg_database WHERE datallowconn AND NOT datistemplate AND datname <> 'postgres' ORDER BY 1;") : config.databases;
    if (config.globals) {
      // The version is asked for while pg_dumpall runs, not before it.
      const asked = psql(tool, config, "postgres", "SHOW server_version;");
      asked.catch(() => undefined);
      let version: string | undefined;
      yield {
        name: "globals.sql",
        compression: config.compression,
        data: (async function* () {
          yield* tool.stream(config.tools.pgDumpall, ["--globals-only", "--no-password"], { env: pgEnv(config, "postgres") });
          [version] = await asked;
        })(),
        metadata: () => ({ kind: "globals", serverVersion: version }),
      };
    }
    for (const database of databases) {
      const session = new PsqlSession(tool, config.tools.psql, database, pgEnv(config, database));
      try {
        const [snapshot, version, owner] = await session.query(
          "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY;\nSELECT pg_export_snapshot();\nSHOW server_version;\nSELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = current_database();",
        );
        const tables = (await session.query(TABLES_SQL)).map((line) => JSON.parse(line) as TableName);
        const excluded = new Set<string>();
        const args = ["--format=custom", "--compress=0", "--no-password", `--snapshot=${snapshot}`, ...(config.schemaOnly ? ["--schema-only"] : [])];
        for (const pattern of config.excludeTableData) {
          args.push(`--exclude-table-data=${pattern}`);
          const matches = tablePattern(pattern);
          for (const [, , t] of tables) if (matches.test(t)) excluded.add(t);
        }
        // A failing query would end the transaction and with it the snapshot pg_dump imports: check rights first.
        const unreadable = tables.length ? await session.query(`SELECT t FROM unnest(ARRAY[${tables.map(([, , t]) => quoteLiteral(t)).join(",")}]) AS t WHERE NOT has_table_privilege(t, 'SELECT');`) : [];
        if (unreadable.length > 0) {
          throw new LifeboatError("SOURCE", `Cannot dump PostgreSQL database "${database}": permission denied for ${unreadable.length} table(s), e.g. ${unreadable[0]}`, {
            hint: postgresHint("permission denied"),
          });
        }
        const counter = new ArchiveRowCounter();
        let rows: Record<string, number> = {};
        const dump = tool.stream(config.tools.pgDump, [...args, `--dbname=${conninfoDbname(database)}`], { env: pgEnv(config, database), blockBuffered: true });
        yield {
          name: dumpName(ctx, database),
          compression: config.compression,
          data: (async function* () {
            try {
              for await (const chunk of dump) {
                counter.push(chunk);
                yield chunk;
              }
            } catch (err) {
              const hint = isLifeboatError(err) ? postgresHint(err.message) : undefined;
              if (hint) throw new LifeboatError("SOURCE", `Cannot dump PostgreSQL database "${database}": ${(err as Error).message}`, { hint });
              throw err;
            }
            rows = await rowCounts(ctx, session, counter.result(), config.schemaOnly ? [] : tables.filter(([, , t]) => !excluded.has(t)));
          })(),
          metadata: () => ({ kind: "database", database, owner, serverVersion: version, tables: rows, dataExcluded: [...excluded], schemaOnly: config.schemaOnly }),
        };
      } finally {
        await session.close();
      }
    }
  },

  async ready(ctx, config, timeoutMs) {
    await waitForService(ctx, postgresProbe(new ServiceTool(ctx.platform, config.location), config), timeoutMs);
  },

  async restore(ctx, configured, inputs, target) {
    refusePathPatterns(target, "PostgreSQL databases");
    // The operator's --replace counts as restore: { replace: true }.
    const config = target.replace ? { ...configured, restore: { ...configured.restore, replace: true } } : configured;
    const tool = new ServiceTool(ctx.platform, config.location);
    const missing = config.restore.databases.filter((d) => !inputs.some((i) => i.record.metadata.database === d));
    if (missing.length > 0) {
      throw new LifeboatError("RESTORE", `Cannot restore database "${missing[0]}": the snapshot does not hold it`, {
        hint: `it holds: ${inputs.map((i) => i.record.metadata.database).filter(Boolean).join(", ") || "no databases"}`,
      });
    }
    const restored: string[] = [];
    const details: Record<string, unknown> = {};
    const checks: string[] = [];
    if (target.into) {
      for (const input of inputs) restored.push(await placeFile(ctx, input, target.into));
      return { restored };
    }
    const globals = inputs.find((i) => i.record.metadata.kind === "globals");
    // Roles first: the databases' owners and grants name them.
    const roles = globals && config.restore.roles ? await restoreRoles(ctx, tool, config, globals) : undefined;
    if (globals && !config.restore.roles) ctx.log("restore.roles is false: the snapshot's roles (globals.sql) are not applied");
    if (roles) {
      details.roles = { created: roles.created, leftAlone: roles.leftAlone };
      if (roles.created.length > 0) restored.push(`roles ${roles.created.join(", ")}`);
      checks.push(...roles.checks);
    }
    try {
      for (const input of inputs) {
        const meta = input.record.metadata;
        if (meta.kind === "globals") continue;
        const database = String(meta.database);
        if (config.restore.databases.length > 0 && !config.restore.databases.includes(database)) continue;
        if (config.databases !== "all" && !config.databases.includes(database)) {
          throw new LifeboatError("RESTORE", `Refusing to restore database "${database}" in place: this host's configuration of the plugin does not include it`, {
            hint: `it configures ${config.databases.join(", ")}; restore with --into DIR to get the dump file`,
          });
        }
        const name = config.restore.rename[database] ?? database;
        const facts = await restoreDatabase(ctx, tool, config, input, name);
        details[name] = facts;
        restored.push(name === database ? `database ${database}` : `database ${database} as ${name}`);
        checks.push(databaseCheck(name, facts));
      }
    } catch (err) {
      // The roles were made for this restore: take them back when it failed (unless a restored database uses them by now).
      if (roles?.created.length && !(await dropRoles(tool, config, roles.created))) ctx.warn(`the roles this restore created stay: ${roles.created.join(", ")} (something uses them now)`);
      throw err;
    }
    return { restored, details, checks };
  },

  async verify(ctx, config, inputs, scratch) {
    const tool = new ServiceTool(ctx.platform, config.location);
    const checks: string[] = [];
    for (const input of inputs) {
      if (input.record.metadata.kind !== "globals") {
        checks.push(await verifyDatabase(ctx, tool, config, input, scratch));
        continue;
      }
      const script = await ctx.platform.readText(await placeFile(ctx, input, scratch));
      if (!script.includes("PostgreSQL database cluster dump")) throw new LifeboatError("INTEGRITY", `The stored ${input.record.name} is not a pg_dumpall script`, { hint: "restore from another snapshot" });
      checks.push(`${input.record.name}: a pg_dumpall script with ${script.match(/^CREATE ROLE /gm)?.length ?? 0} roles`);
    }
    return { checks };
  },
};

/**
 * The manifest's row counts: read from the archive as it streamed past; when
 * the archive could not be read (a pg_dump newer than Lifeboat knows), counted
 * with count(*) in the dump's own snapshot, which `session` still holds.
 * `tables` are the tables whose data was dumped.
 */
async function rowCounts(ctx: PluginContext, session: PsqlSession, counted: ArchiveCount, tables: TableName[]): Promise<Record<string, number>> {
  if (counted.ok) {
    const quoted = new Map(tables.map(([schema, table, name]) => [`${schema}\0${table}`, name]));
    return Object.fromEntries(counted.tables.map((t) => [quoted.get(`${t.schema}\0${t.table}`) ?? `${quoteIdent(t.schema)}.${quoteIdent(t.table)}`, t.rows]));
  }
  ctx.log(`postgres: row counts by count(*) instead of from the archive: ${counted.unreadable}`);
  const names = tables.map(([, , name]) => name);
  return names.length ? parseCounts(await session.query(countSql(names))) : {};
}

async function placeFile(ctx: PluginContext, input: RestoreInput, into: string): Promise<string> {
  const file = placeRestored(into, "/", `/${input.record.name}`);
  await ctx.platform.mkdir(into, 0o700);
  await ctx.platform.writeNewFile(`${file}.lifeboat-staging`, input.open(), { mode: 0o600 });
  await ctx.platform.rename(`${file}.lifeboat-staging`, file);
  return file;
}

/** Writes the stored dump to `<parent>/pg-<database>/dump` on the host, where pg_restore (or a copy into its container) reads it. @returns the directory. */
async function stageDump(ctx: PluginContext, input: RestoreInput, parent: string, database: string): Promise<string> {
  const dir = `${parent}/pg-${database}`;
  await ctx.platform.mkdir(dir, 0o700);
  await ctx.platform.writeStream(`${dir}/dump`, input.open(), 0o600);
  return dir;
}

/** How a dump is loaded by pg_restore. */
type LoadOptions = Pick<PostgresConfig["restore"], "noOwner" | "noPrivileges" | "jobs"> & {
  /** The new database's owner (default: the plugin's user). */
  owner?: string;
};

/**
 * Loads the custom-format dump in `dir` (see {@link stageDump}) into a new
 * database named `scratch`, with pg_restore where the server is (in its
 * container, with `container:`), and checks that every table has the row count
 * the snapshot recorded. On failure the scratch database is dropped again.
 * @returns the row counts found and the dump's TOC size.
 * @throws TOOL_MISSING when pg_restore cannot be run, INTEGRITY when it rejects the dump.
 */
async function loadIntoScratch(ctx: PluginContext, tool: ServiceTool, config: PostgresConfig, dir: string, input: RestoreInput, scratch: string, options: LoadOptions): Promise<{ tables: Record<string, number>; entries: number }> {
  const database = String(input.record.metadata.database);
  return tool.withCopyIn(dir, `pg-${ctx.jobId}-${database}`, async (place) => {
    const list = await tool.run(config.tools.pgRestore, ["--list", `${place}/dump`]);
    if (list.code !== 0) throw new LifeboatError("INTEGRITY", `Cannot restore database "${database}": pg_restore --list rejects the dump: ${list.stderr.trim().slice(0, 300)}`, { hint: "the stored dump is damaged; restore from another snapshot" });
    const entries = list.stdout.split("\n").filter((l) => /^\d+;/.test(l)).length;
    await psql(tool, config, "postgres", `CREATE DATABASE ${quoteIdent(scratch)}${options.owner ? ` OWNER ${quoteIdent(options.owner)}` : ""};`);
    try {
      const args = ["--no-password", "--exit-on-error", `--dbname=${conninfoDbname(scratch)}`, `--jobs=${options.jobs}`];
      if (options.noOwner) args.push("--no-owner");
      if (options.noPrivileges) args.push("--no-privileges");
      const result = await tool.run(config.tools.pgRestore, [...args, `${place}/dump`], { env: pgEnv(config, scratch) });
      if (result.code !== 0) throw new LifeboatError("RESTORE", `Cannot restore database "${database}": pg_restore failed: ${result.stderr.trim().split("\n").slice(-3).join(" | ")}`, { hint: "try restore: { noOwner: true, noPrivileges: true } when the roles do not exist here" });
      const expected = (input.record.metadata.tables ?? {}) as Record<string, number>;
      const names = Object.keys(expected);
      const tables = names.length ? parseCounts(await psql(tool, config, scratch, countSql(names))) : {};
      for (const t of names) {
        if (tables[t] !== expected[t]) throw new LifeboatError("INTEGRITY", `Cannot restore database "${database}": table ${t} has ${tables[t]} rows after restore, the snapshot recorded ${expected[t]}`);
      }
      return { tables, entries };
    } catch (err) {
      await dropDatabase(tool, config, scratch);
      throw err;
    }
  }, ctx.warn);
}

/** A database name for this job's scratch copy of `database`. */
const scratchName = (ctx: PluginContext, database: string) => `${database.slice(0, 40)}_lb_${ctx.jobId.replace(/[^a-z0-9]/gi, "").slice(-12)}`.toLowerCase();

/**
 * Who is to own a restored database: the live database's owner when it exists;
 * else the owner the snapshot recorded, when that role exists here (with a
 * warning when it does not); else the plugin's user.
 */
async function ownerFor(ctx: PluginContext, tool: ServiceTool, config: PostgresConfig, database: string, recorded: unknown): Promise<string | undefined> {
  const [live] = await psql(tool, config, "postgres", `SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = ${quoteLiteral(database)};`);
  if (live) return live;
  if (typeof recorded !== "string") return undefined;
  if ((await psql(tool, config, "postgres", `SELECT 1 FROM pg_roles WHERE rolname = ${quoteLiteral(recorded)};`)).length > 0) return recorded;
  ctx.warn(`role "${recorded}", which owned database "${database}", does not exist here: the database is owned by "${config.user}"; restore globals.sql (the roles) first to keep owners`);
  return undefined;
}

async function restoreDatabase(ctx: PluginContext, tool: ServiceTool, config: PostgresConfig, input: RestoreInput, database: string): Promise<Record<string, unknown>> {
  const dir = await stageDump(ctx, input, ctx.scratchDir, database);
  try {
    if (config.restore.tables.length > 0) return await restoreTables(ctx, tool, config, input, database, dir);
    const exists = (await psql(tool, config, "postgres", `SELECT 1 FROM pg_database WHERE datname = ${quoteLiteral(database)};`)).length > 0;
    if (exists && !config.restore.replace) {
      throw new LifeboatError("RESTORE", `Cannot restore database "${database}": it exists`, { hint: "set restore: { replace: true } for this plugin to replace it, or drop/rename it first" });
    }
    const scratch = scratchName(ctx, database);
    const owner = await ownerFor(ctx, tool, config, database, input.record.metadata.owner);
    const { tables } = await loadIntoScratch(ctx, tool, config, dir, input, scratch, { ...config.restore, owner });
    const old = `${database.slice(0, 40)}_lb_old_${scratch.slice(-12)}`;
    try {
      if (exists) {
        await psql(tool, config, "postgres", `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = ${quoteLiteral(database)} AND pid <> pg_backend_pid();\nALTER DATABASE ${quoteIdent(database)} RENAME TO ${quoteIdent(old)};`);
      }
      try {
        await psql(tool, config, "postgres", `ALTER DATABASE ${quoteIdent(scratch)} RENAME TO ${quoteIdent(database)};`);
      } catch (err) {
        if (exists) await psql(tool, config, "postgres", `ALTER DATABASE ${quoteIdent(old)} RENAME TO ${quoteIdent(database)};`);
        throw err;
      }
    } catch (err) {
      await dropDatabase(tool, config, scratch);
      throw err;
    }
    if (exists) await psql(tool, config, "postgres", `DROP DATABASE ${quoteIdent(old)};`);
    return { tables, ...(owner ? { owner } : {}) };
  } finally {
    await ctx.platform.remove(dir);
  }
}

/** A restored database's check, in words, from what {@link restoreDatabase} (or a table restore) found. */
function databaseCheck(database: string, facts: Record<string, unknown>): string {
  const tables = Object.keys((facts.tables ?? {}) as Record<string, number>).length;
  return `database ${database}: row counts of ${tables} tables as recorded${typeof facts.owner === "string" ? `, owned by "${facts.owner}"` : ""}`;
}

/** Deep check of one stored dump: pg_restore --list, then a load into a scratch database (dropped afterwards) with the recorded row counts. */
async function verifyDatabase(ctx: PluginContext, tool: ServiceTool, config: PostgresConfig, input: RestoreInput, scratchDir: string): Promise<string> {
  const database = String(input.record.metadata.database);
  const dir = await stageDump(ctx, input, scratchDir, database);
  const scratch = scratchName(ctx, database);
  try {
    // Ownership and grants are left out: the check is about the data, and the roles may not exist where it runs.
    const { tables, entries } = await loadIntoScratch(ctx, tool, config, dir, input, scratch, { noOwner: true, noPrivileges: true, jobs: config.restore.jobs });
    return `database ${database}: pg_restore --list ok (${entries} entries), loaded into a scratch database, row counts of ${Object.keys(tables).length} tables as recorded`;
  } finally {
    await dropDatabase(tool, config, scratch);
    await ctx.platform.remove(dir);
  }
}

/**
 * The artifact name of a database's dump: `<database>.dump`, or for a name
 * that is not a safe object name (spaces, `=`, quotes, ...), its safe characters
 * plus a hash of the whole name; the real name is in the metadata, which the restore goes by.
 */
function dumpName(ctx: PluginContext, database: string): string {
  if (/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(database)) return `${database}.dump`;
  const hash = ctx.platform.sha256();
  hash.update(new TextEncoder().encode(database));
  return `db-${database.replace(/[^A-Za-z0-9._-]/g, "_").slice(0, 64)}-${hash.digestHex().slice(0, 12)}.dump`;
}
