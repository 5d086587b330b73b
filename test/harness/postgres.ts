/** @module A real PostgreSQL cluster on loopback for tests: initdb + pg_ctl into a temp dir, password auth over TCP. */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { freePort } from "./free-port";

/** A running cluster. */
export interface PostgresServer {
  port: number;
  user: string;
  password: string;
  /** Runs SQL with psql against `database` and returns its unaligned output. */
  sql(database: string, query: string): string;
  /** Stops the server (it can be started again with {@link startCommand}). */
  halt(): void;
  /** A shell command, for root, that starts the stopped server without waiting for it (as a `prepare` step would). */
  startCommand: string;
  stop(): Promise<void>;
}

/** The newest installed PostgreSQL server version's bin directory (Debian: /usr/lib/postgresql/N/bin). */
export function postgresBinDir(): string {
  const base = "/usr/lib/postgresql";
  const versions = fs.existsSync(base) ? fs.readdirSync(base).sort((a, b) => Number(b) - Number(a)) : [];
  if (!versions[0]) throw new Error("PostgreSQL is missing: apt-get install postgresql (scripts/setup.sh does)");
  return path.join(base, versions[0], "bin");
}

/** initdb (as the `postgres` system user: initdb refuses root) and start on a free port. */
export async function startPostgres(): Promise<PostgresServer> {
  const bin = postgresBinDir();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lifeboat-pg-"));
  fs.chmodSync(dir, 0o755);
  const data = path.join(dir, "data");
  const password = `pw-${Math.random().toString(36).slice(2)}`;
  fs.writeFileSync(path.join(dir, "pwfile"), `${password}\n`);
  execFileSync("chown", ["-R", "postgres:postgres", dir]);
  const asPostgres = (cmd: string, args: string[]) => execFileSync("runuser", ["-u", "postgres", "--", cmd, ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  asPostgres(path.join(bin, "initdb"), ["-D", data, "-U", "postgres", "--auth-local=trust", "--auth-host=scram-sha-256", `--pwfile=${path.join(dir, "pwfile")}`, "-E", "UTF8", "--locale=C.UTF-8"]);
  const port = await freePort();
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1`;
  asPostgres(path.join(bin, "pg_ctl"), ["-D", data, "-l", path.join(dir, "log"), "-w", "-o", options, "start"]);
  const env = { ...process.env, PGPASSWORD: password };
  const sql = (database: string, query: string) =>
    execFileSync("psql", ["-h", "127.0.0.1", "-p", String(port), "-U", "postgres", "-d", database, "-At", "-v", "ON_ERROR_STOP=1"], { input: query, env, encoding: "utf8" }).trim();
  return {
    port,
    user: "postgres",
    password,
    sql,
    halt: () => void asPostgres(path.join(bin, "pg_ctl"), ["-D", data, "-m", "fast", "-w", "stop"]),
    startCommand: `runuser -u postgres -- ${path.join(bin, "pg_ctl")} -D ${data} -l ${path.join(dir, "log")} -W -o '${options}' start`,
    async stop() {
      try {
        asPostgres(path.join(bin, "pg_ctl"), ["-D", data, "-m", "immediate", "-w", "stop"]);
      } catch {
        // already stopped
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Creates `database` with pgbench-style tables plus jsonb, bytea and non-ASCII text. */
export function seedShop(pg: PostgresServer, database: string, rows: number): void {
  pg.sql("postgres", `CREATE DATABASE ${database}`);
  pg.sql(
    database,
    `CREATE TABLE accounts (aid int PRIMARY KEY, bid int, abalance int, filler char(84));
CREATE TABLE history (tid int, bid int, aid int, delta int, mtime timestamp DEFAULT now(), filler char(22));
CREATE TABLE documents (id serial PRIMARY KEY, body jsonb, blob bytea, title text);
CREATE TABLE huge_log (id serial PRIMARY KEY, line text);
INSERT INTO accounts SELECT i, i % 10, 0, '' FROM generate_series(1, ${rows}) i;
INSERT INTO documents (body, blob, title) SELECT jsonb_build_object('n', i, 'tags', jsonb_build_array('a', 'ü')), decode(md5(i::text), 'hex'), 'Grüße 日本 ' || i FROM generate_series(1, 500) i;
INSERT INTO huge_log (line) SELECT repeat('x', 100) FROM generate_series(1, 2000);`,
  );
}
