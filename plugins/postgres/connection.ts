/** @module How the postgres plugin reaches the server: the tools' environment (the password never in argv), one-shot psql queries, quoting, row counts. */
import { isLifeboatError, LifeboatError } from "../../core/errors";
import type { ServiceProbe } from "../common/service-ready";
import type { ServiceTool } from "../common/service-tool";
import type { PostgresConfig } from "./postgres";

/** What to do about a PostgreSQL client error, when Lifeboat knows. */
export function postgresHint(detail: string): string | undefined {
  if (/could not connect|Connection refused|No such file or directory.*socket/i.test(detail)) return "is PostgreSQL running, and are host/port right in the inventory?";
  if (/password authentication failed|no password supplied/i.test(detail)) return "set password: (e.g. ${PGPASSWORD}) for this plugin in the inventory";
  if (/permission denied/i.test(detail)) return "the role needs read access to every table: GRANT pg_read_all_data TO <role> (or use a superuser)";
  return undefined;
}

/** An identifier in double quotes, as SQL wants it. */
export const quoteIdent = (s: string) => `"${s.replace(/"/g, '""')}"`;
/** A string literal in single quotes. */
export const quoteLiteral = (s: string) => `'${s.replace(/'/g, "''")}'`;

/**
 * A database name as a libpq connection string (`dbname='...'`), for `--dbname`/`-d`:
 * passed bare, a name holding `=` or a URI prefix is read as connection settings
 * (a database named `host=evil port=1` would send the password elsewhere).
 */
export function conninfoDbname(name: string): string {
  return `dbname='${name.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
}

/** The libpq environment of the tools (PGPASSWORD travels here, never in argv). */
export function pgEnv(config: PostgresConfig, database?: string): Record<string, string> {
  return {
    PGHOST: config.host,
    PGPORT: String(config.port),
    PGUSER: config.user,
    ...(config.password ? { PGPASSWORD: config.password } : {}),
    ...(database ? { PGDATABASE: database } : {}),
    PGCONNECT_TIMEOUT: "10",
  };
}

/** Runs SQL with psql against `database` (where the server is); returns its unaligned output lines. @throws SOURCE with psql's message and a hint. */
export async function psql(tool: ServiceTool, config: PostgresConfig, database: string, sql: string): Promise<string[]> {
  const result = await tool.run(config.tools.psql, ["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"], { env: pgEnv(config, database), stdin: sql });
  if (result.code !== 0) {
    const detail = result.stderr.trim().split("\n").slice(-2).join(" | ");
    const hint = postgresHint(detail);
    throw new LifeboatError("SOURCE", `Cannot query PostgreSQL database "${database}" on ${config.host}:${config.port}: ${detail}`, hint ? { hint } : {});
  }
  return result.stdout.split("\n").filter((l) => l !== "");
}

/**
 * How `ready` asks the server whether it answers: `SELECT 1` with psql as the
 * plugin's user. A refused login or a missing psql is final: waiting does not mend them.
 */
export function postgresProbe(tool: ServiceTool, config: PostgresConfig): ServiceProbe {
  return {
    service: `PostgreSQL on ${config.host}:${config.port}${config.location.container ? ` (container "${config.location.container}")` : ""}`,
    async ask(signal) {
      const result = await tool.run(config.tools.psql, ["-X", "-q", "-A", "-t"], { env: { ...pgEnv(config, "postgres"), PGCONNECT_TIMEOUT: "5" }, stdin: "SELECT 1;", signal });
      if (result.code !== 0 || result.stdout.trim() !== "1") {
        const detail = result.stderr.trim().split("\n").slice(-2).join(" | ") || `psql exited with code ${result.code}`;
        const hint = postgresHint(detail);
        throw new LifeboatError("SOURCE", `Cannot query PostgreSQL on ${config.host}:${config.port}: ${detail}`, hint ? { hint } : {});
      }
    },
    final: (err) => isLifeboatError(err) && (err.code === "TOOL_MISSING" || /password authentication failed|no password supplied|role ".*" does not exist|no pg_hba\.conf entry/.test(err.message)),
  };
}

/** One query counting the rows of each of `tables` (quoted `schema.table` names): lines `name|count`. */
export function countSql(tables: string[]): string {
  return `${tables.map((t) => `SELECT ${quoteLiteral(t)}, count(*) FROM ${t}`).join(" UNION ALL ")};`;
}

/** The lines of {@link countSql} as a map. */
export function parseCounts(lines: string[]): Record<string, number> {
  return Object.fromEntries(lines.map((l) => [l.slice(0, l.lastIndexOf("|")), Number(l.slice(l.lastIndexOf("|") + 1))]));
}

/** Drops a database if it exists (its sessions ended first); never throws. */
export const dropDatabase = (tool: ServiceTool, config: PostgresConfig, name: string) => psql(tool, config, "postgres", `DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE);`).catch(() => undefined);
