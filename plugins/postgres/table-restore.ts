/**
 * @module Restoring some tables of a snapshot's database inside the live database:
 * those tables come back with what depends on them (constraints, indexes,
 * sequences, defaults, triggers, views, grants, foreign keys that point at them),
 * in one transaction that is rolled back unless every step and every row count
 * check passes. Everything else in the database is left alone.
 */
import { isLifeboatError, LifeboatError, messageOf } from "../../core/errors";
import type { Platform } from "../../core/platform";
import type { ServiceTool } from "../common/service-tool";
import type { PluginContext, RestoreInput } from "../contract";
import { pgEnv, psql, quoteLiteral } from "./connection";
import { ArchiveRowCounter, type TocEntry } from "./pg-archive";
import type { PostgresConfig } from "./postgres";

/** Reads the table of contents of a custom-format dump (only the head of the file is read). @throws INTEGRITY when it is not one Lifeboat can read. */
export async function readToc(platform: Platform, file: string, what: string): Promise<TocEntry[]> {
  const reader = new ArchiveRowCounter();
  for await (const chunk of platform.readStream(file)) {
    reader.push(chunk);
    if (reader.toc() || reader.problem()) break;
  }
  const toc = reader.toc();
  if (!toc) {
    throw new LifeboatError("INTEGRITY", `Cannot read the table of contents of ${what}: ${reader.problem() ?? "the archive ends before it"}`, {
      hint: "restore the whole database (leave restore.tables out), or restore with --into DIR and use pg_restore by hand",
    });
  }
  return toc;
}

/** The TABLE entries named by `names` (`table` or `schema.table`). @throws RESTORE for a name the dump lacks or that is ambiguous. */
export function namedTables(toc: TocEntry[], names: string[], database: string): TocEntry[] {
  const tables = toc.filter((e) => e.desc === "TABLE");
  return names.map((name) => {
    const dot = name.indexOf(".");
    const [schema, table] = dot > 0 ? [name.slice(0, dot), name.slice(dot + 1)] : [undefined, name];
    const found = tables.filter((e) => e.tag === table && (schema === undefined || e.schema === schema));
    if (found.length === 0) {
      throw new LifeboatError("RESTORE", `Cannot restore table "${name}" of database "${database}": the snapshot's dump has no such table`, {
        hint: `its tables: ${tables.slice(0, 12).map((e) => `${e.schema}.${e.tag}`).join(", ")}${tables.length > 12 ? ", ..." : ""}`,
      });
    }
    if (found.length > 1) {
      throw new LifeboatError("RESTORE", `Cannot restore table "${name}" of database "${database}": the name is in several schemas`, { hint: `name it with its schema: ${found.map((e) => `${e.schema}.${e.tag}`).join(", ")}` });
    }
    return found[0]!;
  });
}

/**
 * Every entry that restoring `tables` brings back, in archive order: the tables,
 * every entry that depends on them (directly or through another such entry: data,
 * constraints, indexes, defaults, triggers, policies, views, grants, comments,
 * foreign keys of other tables that point at them), and the sequences they own.
 */
export function entriesForTables(toc: TocEntry[], tables: TocEntry[]): TocEntry[] {
  const byId = new Map(toc.map((e) => [e.dumpId, e]));
  const dependents = new Map<number, TocEntry[]>();
  for (const entry of toc) for (const dep of entry.dependencies) dependents.set(dep, [...(dependents.get(dep) ?? []), entry]);
  const included = new Set<number>();
  const queue = tables.map((t) => t.dumpId);
  while (queue.length > 0) {
    const id = queue.pop()!;
    if (included.has(id)) continue;
    included.add(id);
    for (const entry of dependents.get(id) ?? []) queue.push(entry.dumpId);
    // A sequence a table owns (serial columns) does not depend on the table; its OWNED BY entry does.
    const entry = byId.get(id)!;
    if (entry.desc === "SEQUENCE OWNED BY") for (const dep of entry.dependencies) if (byId.get(dep)?.desc === "SEQUENCE") queue.push(dep);
  }
  return toc.filter((e) => included.has(e.dumpId));
}

/** A check run inside the restore's transaction: it aborts the transaction when a table's row count is not the snapshot's. */
function countCheck(table: string, rows: number): string {
  const message = quoteLiteral(`table ${table} does not have the ${rows} rows the snapshot recorded after the restore`);
  return `DO $lifeboat$ BEGIN IF (SELECT count(*) FROM ${table}) <> ${rows} THEN RAISE EXCEPTION '%', ${message}; END IF; END $lifeboat$;\n`;
}

/**
 * Restores `config.restore.tables` of the dump at `dir`/dump (a host path) into
 * the existing `database`: what {@link entriesForTables} selects is dropped (when
 * present) and recreated from the dump, owners and grants as they were, in one
 * transaction with the row counts checked before COMMIT. Tables that exist need
 * `restore.replace`. On any failure nothing has changed.
 */
export async function restoreTables(ctx: PluginContext, tool: ServiceTool, config: PostgresConfig, input: RestoreInput, database: string, dir: string): Promise<Record<string, unknown>> {
  const exists = (await psql(tool, config, "postgres", `SELECT 1 FROM pg_database WHERE datname = ${quoteLiteral(database)};`)).length > 0;
  if (!exists) {
    throw new LifeboatError("RESTORE", `Cannot restore tables ${config.restore.tables.join(", ")} of database "${database}": the database does not exist here`, {
      hint: "restore the whole database first (leave restore.tables out), or create it and the objects the tables need",
    });
  }
  const toc = await readToc(ctx.platform, `${dir}/dump`, `the dump of "${database}"`);
  const tables = namedTables(toc, config.restore.tables, database);
  const entries = entriesForTables(toc, tables);
  // Quoted as the manifest's row counts are keyed (format's %I quotes keywords too).
  const names = await psql(tool, config, database, `SELECT format('%I.%I', s, t) FROM (VALUES ${tables.map((e, i) => `(${i}, ${quoteLiteral(e.schema)}, ${quoteLiteral(e.tag)})`).join(", ")}) AS v(n, s, t) ORDER BY n;`);
  const present = await psql(tool, config, database, `SELECT t FROM unnest(ARRAY[${names.map(quoteLiteral).join(",")}]) AS t WHERE to_regclass(t) IS NOT NULL;`);
  if (present.length > 0 && !config.restore.replace) {
    throw new LifeboatError("RESTORE", `Cannot restore table ${present.join(", ")} of database "${database}": it exists`, { hint: "set restore: { replace: true } to replace the tables (the rest of the database stays as it is)" });
  }
  const recorded = (input.record.metadata.tables ?? {}) as Record<string, number>;
  const checks = names.filter((t) => recorded[t] !== undefined).map((t) => countCheck(t, recorded[t]!));
  await ctx.platform.writeFile(`${dir}/list`, `${entries.map((e) => `${e.dumpId};`).join("\n")}\n`, 0o600);

  await tool.withCopyIn(dir, `pg-${ctx.jobId}-${database}`, async (place) => {
    const args = ["--clean", "--if-exists", "--file=-", `--use-list=${place}/list`, ...(config.restore.noOwner ? ["--no-owner"] : []), ...(config.restore.noPrivileges ? ["--no-privileges"] : []), `${place}/dump`];
    const script = tool.stream(config.tools.pgRestore, args, { env: pgEnv(config, database) });
    let scriptFailure: unknown;
    const encoder = new TextEncoder();
    const transaction = (async function* () {
      yield encoder.encode("BEGIN;\n");
      try {
        yield* script;
      } catch (err) {
        scriptFailure = err;
        throw err; // psql is stopped before COMMIT: the transaction is rolled back
      }
      for (const check of checks) yield encoder.encode(check);
      yield encoder.encode("COMMIT;\n");
    })();
    const result = await tool.run(config.tools.psql, ["-X", "-q", "-v", "ON_ERROR_STOP=1"], { env: pgEnv(config, database), stdin: transaction });
    const failed = `Cannot restore table ${names.join(", ")} of database "${database}" (nothing was changed)`;
    // When psql stops at an error, pg_restore fails writing to it: psql's error is the cause.
    if (result.code !== 0 && (scriptFailure === undefined || /ERROR/.test(result.stderr))) {
      throw new LifeboatError("RESTORE", `${failed}: ${result.stderr.trim().split("\n").slice(-3).join(" | ")}`, {
        hint: /role .* does not exist/.test(result.stderr) ? "create the roles first (globals.sql), or set restore: { noOwner: true, noPrivileges: true }" : "objects in the live database may depend on these tables in ways the snapshot does not know; see the message",
      });
    }
    if (scriptFailure !== undefined) throw new LifeboatError(isLifeboatError(scriptFailure) && scriptFailure.code === "TOOL_MISSING" ? "TOOL_MISSING" : "RESTORE", `${failed}: ${messageOf(scriptFailure)}`, isLifeboatError(scriptFailure) && scriptFailure.hint ? { hint: scriptFailure.hint } : {});
  }, ctx.warn);

  const counts = Object.fromEntries(names.map((t) => [t, recorded[t]]).filter(([, n]) => n !== undefined));
  return { tables: counts, objects: entries.filter((e) => e.desc !== "TABLE DATA").map((e) => `${e.desc} ${e.schema ? `${e.schema}.` : ""}${e.tag}`) };
}
