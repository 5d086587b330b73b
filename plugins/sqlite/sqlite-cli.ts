/** @module Talking to SQLite databases through the host's `sqlite3` command-line tool (the agent has no native addons). */
import { LifeboatError, messageOf } from "../../core/errors";
import type { Platform } from "../../core/platform";

/** A `sqlite3` CLI bound to one binary path. */
export class SqliteCli {
  constructor(
    private readonly platform: Platform,
    readonly binary: string,
  ) {}

  /**
   * Runs SQL or dot-commands (given on stdin) against `database`; returns stdout.
   * Waits up to `busyTimeoutMs` (default 10 s) for another process's lock.
   * @throws SOURCE with sqlite3's message; the abort reason when `signal` fires.
   */
  async exec(database: string, input: string, args: string[] = [], options: { signal?: AbortSignal; busyTimeoutMs?: number } = {}): Promise<string> {
    let result;
    try {
      result = await this.platform.run(this.binary, [...args, database], { stdin: `.bail on\n.timeout ${options.busyTimeoutMs ?? 10_000}\n${input}\n`, signal: options.signal });
    } catch (err) {
      if (options.signal?.aborted) throw options.signal.reason;
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

  /**
   * A consistent copy of a live database, read in one read transaction
   * (`VACUUM INTO`): writers keep committing (WAL mode) and the copy still
   * finishes, where the online backup API starts over at every commit and may
   * never finish. The copy is compact (no free pages) and keeps the source's
   * WAL mode. A rollback-journal database in the middle of a write is waited for.
   * @returns the source's journal mode.
   * @throws SOURCE naming the database, with `hint`, when the copy does not finish within `timeoutMs`.
   */
  async copyTo(database: string, copy: string, timeoutMs: number, hint: string): Promise<{ journalMode: string }> {
    if (copy.includes("'")) throw new LifeboatError("INTERNAL", `unsupported scratch path ${copy}`);
    const deadline = new AbortController();
    const timedOut = new LifeboatError("SOURCE", `Cannot back up SQLite database "${database}": a consistent copy did not finish within ${timeoutMs / 1000}s`, { hint });
    const timer = setTimeout(() => deadline.abort(timedOut), timeoutMs);
    try {
      // sqlite3's own wait for a lock outlasts the deadline, so that the deadline is what ends a blocked copy.
      await this.exec(database, `VACUUM INTO '${copy}';`, ["-readonly"], { signal: deadline.signal, busyTimeoutMs: timeoutMs + 60_000 });
    } finally {
      clearTimeout(timer);
    }
    const [source] = await this.rows<{ journal_mode: string }>(database, "PRAGMA journal_mode;");
    if (source?.journal_mode === "wal") await this.exec(copy, "PRAGMA journal_mode=WAL;");
    return { journalMode: source?.journal_mode ?? "unknown" };
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
