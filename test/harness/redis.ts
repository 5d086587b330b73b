/** @module A real redis-server on loopback for tests, with a config file, a password, and stop/start commands. */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { freePort, waitForPort } from "./free-port";

/** A running Redis server. */
export interface RedisServer {
  port: number;
  dir: string;
  password: string;
  /** Shell commands that stop and start this server (as a plugin's stop/start). */
  stopCommand: string;
  startCommand: string;
  /** Runs redis-cli against it. */
  cli(...args: string[]): string;
  stop(): Promise<void>;
}

/** Starts redis-server (daemonized, pidfile in its dir) with RDB saving only on demand; `appendonly` turns AOF persistence on. */
export async function startRedis(options: { appendonly?: boolean } = {}): Promise<RedisServer> {
  if (!fs.existsSync("/usr/bin/redis-server")) throw new Error("redis-server is missing: apt-get install redis-server (scripts/setup.sh does)");
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lifeboat-redis-"));
  const port = await freePort();
  const password = `pw-${Math.random().toString(36).slice(2)}`;
  const conf = path.join(dir, "redis.conf");
  fs.writeFileSync(
    conf,
    [`port ${port}`, "bind 127.0.0.1", `dir ${dir}`, "dbfilename dump.rdb", 'save ""', `appendonly ${options.appendonly ? "yes" : "no"}`, "daemonize yes", `pidfile ${dir}/redis.pid`, `logfile ${dir}/redis.log`, `requirepass ${password}`, ""].join("\n"),
  );
  const env = { ...process.env, REDISCLI_AUTH: password };
  const cli = (...args: string[]) => execFileSync("redis-cli", ["-p", String(port), "--no-auth-warning", ...args], { env, encoding: "utf8" }).trim();
  const startCommand = `redis-server ${conf}`;
  const stopCommand = `REDISCLI_AUTH=${password} redis-cli -p ${port} --no-auth-warning shutdown nosave; while [ -e ${dir}/redis.pid ]; do sleep 0.05; done`;
  execFileSync("sh", ["-c", startCommand]);
  await waitForPort(port);
  return {
    port,
    dir,
    password,
    stopCommand,
    startCommand,
    cli,
    async stop() {
      try {
        execFileSync("sh", ["-c", stopCommand], { timeout: 10_000 });
      } catch {
        // already stopped
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Fills the server with `n` keys of several types (strings, hashes, lists, sets, sorted sets) in db0 and a few in db1. */
export function fillRedis(server: RedisServer, n: number): void {
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    switch (i % 5) {
      case 0:
        lines.push(`SET str:${i} "value ${i} ünïcödé"`);
        break;
      case 1:
        lines.push(`HSET hash:${i} a ${i} b "x y"`);
        break;
      case 2:
        lines.push(`RPUSH list:${i} 1 2 3`);
        break;
      case 3:
        lines.push(`SADD set:${i} a b c`);
        break;
      default:
        lines.push(`ZADD zset:${i} 1 a 2 b`);
    }
  }
  lines.push("SELECT 1", "SET other:1 one", "SET other:2 two");
  execFileSync("redis-cli", ["-p", String(server.port), "--no-auth-warning"], { input: `${lines.join("\n")}\n`, env: { ...process.env, REDISCLI_AUTH: server.password } });
}
