/** @module A self-hosted "app" on a simulated host: a data tree and a live SQLite database with a writer. */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import type { SimulatedHost } from "./sshd";

/** The app's paths on the host. */
export interface AppData {
  root: string;
  data: string;
  database: string;
}

/** Runs a command as the host's user (so files and SQLite's -wal/-shm belong to it). */
export function asUser(host: SimulatedHost, command: string, args: string[], input?: string): string {
  return execFileSync("runuser", ["-u", host.user, "--", command, ...args], { input, encoding: "utf8" });
}

/**
 * Creates `~/app` on the host: `data/` with text, a 3 MiB random file, nested
 * dirs, a symlink, a 0640 file with an old mtime, plus `cache/` and `audit.log`
 * (which the inventory excludes), and `webui.db` (WAL mode) with 2000 rows.
 */
export function createApp(host: SimulatedHost): AppData {
  const root = path.join(host.home, "app");
  const data = path.join(root, "data");
  const database = path.join(root, "webui.db");
  fs.mkdirSync(path.join(data, "uploads", "2026", "11"), { recursive: true });
  fs.mkdirSync(path.join(data, "cache"), { recursive: true });
  fs.writeFileSync(path.join(data, "README.txt"), `notes for ${host.name}\n`.repeat(200));
  fs.writeFileSync(path.join(data, "uploads", "2026", "11", "model.bin"), crypto.randomBytes(3 * 1024 * 1024));
  fs.writeFileSync(path.join(data, "uploads", "2026", "11", "chat-ünïcödé.json"), JSON.stringify({ host: host.name, items: [1, 2, 3] }));
  fs.writeFileSync(path.join(data, "secret.env"), "TOKEN=abc\n", { mode: 0o640 });
  fs.chmodSync(path.join(data, "secret.env"), 0o640);
  fs.utimesSync(path.join(data, "secret.env"), new Date("2024-01-02T03:04:05Z"), new Date("2024-01-02T03:04:05Z"));
  fs.symlinkSync("uploads/2026", path.join(data, "latest"));
  fs.writeFileSync(path.join(data, "cache", "blob.tmp"), crypto.randomBytes(1024));
  fs.writeFileSync(path.join(data, "audit.log"), "excluded\n");
  execFileSync("chown", ["-R", `${host.user}:${host.user}`, root]);
  asUser(
    host,
    "sqlite3",
    [database],
    `PRAGMA journal_mode=WAL;
CREATE TABLE chat (id INTEGER PRIMARY KEY, title TEXT, body TEXT);
CREATE TABLE "user settings" (k TEXT PRIMARY KEY, v TEXT);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 2000)
INSERT INTO chat(title, body) SELECT 'chat ' || i, hex(randomblob(64)) FROM n;
INSERT INTO "user settings" VALUES ('theme','dark'),('lang','de');
`,
  );
  return { root, data, database };
}

/** Starts a process (as the host's user) that keeps inserting rows into the app's database until stopped. */
export function startWriter(host: SimulatedHost, app: AppData): { stop(): Promise<void> } {
  const script = `while :; do printf "BEGIN; INSERT INTO chat(title, body) VALUES ('live', hex(randomblob(200))); COMMIT;\\n"; sleep 0.01; done | sqlite3 -cmd '.timeout 5000' ${app.database} >/dev/null`;
  const child: ChildProcess = spawn("runuser", ["-u", host.user, "--", "bash", "-c", script], { stdio: "ignore", detached: true });
  return {
    stop: () =>
      new Promise((resolve) => {
        child.on("exit", () => resolve());
        try {
          process.kill(-child.pid!, "SIGTERM");
        } catch {
          resolve();
        }
      }),
  };
}

/** Row count of a table, read with the sqlite3 CLI. */
export function rowCount(database: string, table: string): number {
  return Number(execFileSync("sqlite3", [database, `SELECT count(*) FROM "${table}"`], { encoding: "utf8" }).trim());
}
