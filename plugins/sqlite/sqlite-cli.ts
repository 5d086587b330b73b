/** @module Talking to SQLite databases through the host's `sqlite3` command-line tool (the agent has no native addons). */
import { LifeboatError, messageOf } from "../../core/errors";
import type { Platform } from "../../core/platform";

/** A `sqlite3` CLI bound to one binary path. */
export class SqliteCli {
  constructor(
    private readonly platform: Platform,
    readonly binary: string,
  ) {}

  /** Runs SQL or dot-commands (given on stdin) against `database`; returns stdout. @throws SOURCE with sqlite3's message. */
  async exec(database: string, input: string, args: string[] = []): Promise<string> {
    let result;
    try {
      result = await this.platform.run(this.binary, [...args, database], { stdin: `.bail on\n.timeout 10000\n${input}\n` });
    } catch (err) {
      throw new LifeboatError("TOOL_MISSING", `Cannot run "${this.binary}": ${messageOf(err)}`, { hint: "install sqlite3 on the host (apt-get install sqlite3)" });
    }
    if (result.code !== 0 || /^(Error|Parse error|Runtime error)/m.test(result.stderr)) {
      throw new LifeboatError("SOURCE", `Cannot query SQLite database "${database}": sqlite3 exited with code ${result.code}: ${result.stderr.trim().slice(0, 400)}`);
    }
    return result.stdout;
  }

  /** Rows of a query as objects (sqlite3 -json). */
  async rows<T>(database: string, sql: string): Promise<T[]> {
    const out = (await this.exec(database, sql, ["-json", "-readonly"])).trim();
    return out === "" ? [] : (JSON.parse(out) as T[]);
  }

  /** A consistent copy of a live database (the online backup API), safe while other processes write. */
  async backupTo(database: string, copy: string): Promise<void> {
    if (copy.includes("'")) throw new LifeboatError("INTERNAL", `unsupported scratch path ${copy}`);
    await this.exec(database, `.backup '${copy}'`, ["-readonly"]);
  }

  /** `PRAGMA integrity_check` result lines ("ok" when healthy). */
  async integrityCheck(database: string): Promise<string[]> {
    const rows = await this.rows<{ integrity_check: string }>(database, "PRAGMA integrity_check;");
    return rows.map((r) => r.integrity_check);
  }

  /** Row count of every user table. */
  async tableCounts(database: string): Promise<Record<string, number>> {
    const tables = await this.rows<{ name: string }>(database, "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' ORDER BY name;");
    if (tables.length === 0) return {};
    const quote = (s: string) => `"${s.replace(/"/g, '""')}"`;
    const literal = (s: string) => `'${s.replace(/'/g, "''")}'`;
    const sql = tables.map((t) => `SELECT ${literal(t.name)} AS name, count(*) AS n FROM ${quote(t.name)}`).join(" UNION ALL ");
    const counts = await this.rows<{ name: string; n: number }>(database, `${sql};`);
    return Object.fromEntries(counts.map((c) => [c.name, c.n]));
  }

  /** page_size, page_count and the library version. */
  async facts(database: string): Promise<{ pageSize: number; pageCount: number; sqliteVersion: string }> {
    const [row] = await this.rows<{ pageSize: number; pageCount: number; sqliteVersion: string }>(
      database,
      "SELECT (SELECT page_size FROM pragma_page_size) AS pageSize, (SELECT page_count FROM pragma_page_count) AS pageCount, sqlite_version() AS sqliteVersion;",
    );
    return row!;
  }
}

/** Removes the -wal, -shm and -journal files that opening a database may leave beside `file`. */
export async function removeSidecars(platform: Platform, file: string): Promise<void> {
  for (const suffix of ["-wal", "-shm", "-journal"]) await platform.remove(`${file}${suffix}`);
}
