/**
 * @module A steady writer on a SQLite database, in its own process as an application
 * would be: one small transaction at a time, at a fixed rate (better-sqlite3, WAL as the database has it).
 */
import { spawn } from "node:child_process";
import { createRequire } from "node:module";

/** A running writer. */
export interface SqliteWriter {
  /** Commits made so far (as last reported). */
  commits(): number;
  /** Stops the writer; resolves with the number of commits it made. */
  stop(): Promise<number>;
}

const betterSqlite = createRequire(import.meta.url).resolve("better-sqlite3");

const program = `
const Database = require(process.argv[1]);
const [db, statement, rate] = process.argv.slice(2);
const conn = new Database(db, { timeout: 30000 });
const insert = conn.prepare(statement);
let n = 0;
const began = Date.now();
process.on("SIGTERM", () => { process.stdout.write("stopped " + n + "\\n"); process.exit(0); });
(function tick() {
  insert.run();
  n++;
  process.stdout.write("commit " + n + "\\n");
  setTimeout(tick, Math.max(0, began + (n * 1000) / Number(rate) - Date.now()));
})();
`;

/** Starts committing `statement` (one INSERT) to `db`, `perSecond` times a second; resolves after the first commit. */
export function startSqliteWriter(db: string, statement: string, perSecond: number): Promise<SqliteWriter> {
  const child = spawn(process.execPath, ["-e", program, betterSqlite, db, statement, String(perSecond)], { stdio: ["ignore", "pipe", "inherit"] });
  let commits = 0;
  let buffer = "";
  const stopped = new Promise<number>((resolve, reject) => {
    child.on("exit", (code) => (code === 0 ? resolve(commits) : reject(new Error(`the SQLite writer exited with code ${code}`))));
  });
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    stopped.catch(reject);
    child.stdout!.setEncoding("utf8").on("data", (s: string) => {
      buffer += s;
      const lines = buffer.split("\n");
      buffer = lines.pop()!;
      for (const line of lines) commits = Number(line.split(" ")[1]);
      if (commits >= 1) resolve({ commits: () => commits, stop: () => (child.kill("SIGTERM"), stopped) });
    });
  });
}
