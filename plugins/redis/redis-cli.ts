/** @module Talking to Redis through `redis-cli` (on the host or in its container); the password travels in REDISCLI_AUTH only. */
import { LifeboatError } from "../../core/errors";
import type { ServiceTool } from "../common/service-tool";

/** How to reach the server. */
export interface RedisEndpoint {
  host: string;
  port: number;
  socket?: string;
  user?: string;
  password?: string;
  redisCli: string;
}

/** One Redis server, spoken to with redis-cli. */
export class RedisCli {
  constructor(
    private readonly tool: ServiceTool,
    private readonly endpoint: RedisEndpoint,
  ) {}

  private args(): string[] {
    const e = this.endpoint;
    const where = e.socket ? ["-s", e.socket] : ["-h", e.host, "-p", String(e.port)];
    return [...where, ...(e.user ? ["--user", e.user] : []), "--no-auth-warning"];
  }

  private get label(): string {
    return this.endpoint.socket ?? `${this.endpoint.host}:${this.endpoint.port}`;
  }

  /** Runs one command; returns its raw reply. @throws SOURCE with Redis's own error text. */
  command(...args: string[]): Promise<string> {
    return this.commandUntil(undefined, ...args);
  }

  /** {@link command}, stopped when `signal` fires (then it throws). */
  async commandUntil(signal: AbortSignal | undefined, ...args: string[]): Promise<string> {
    const env: Record<string, string> = this.endpoint.password ? { REDISCLI_AUTH: this.endpoint.password } : {};
    const result = await this.tool.run(this.endpoint.redisCli, [...this.args(), ...args], { env, ...(signal ? { signal } : {}) });
    const out = result.stdout.trim();
    const failed = result.code !== 0 || /^(ERR|NOAUTH|WRONGPASS|NOPERM|LOADING|MISCONF|\(error\))/m.test(out) || /Could not connect/.test(result.stderr + out);
    if (failed) {
      const detail = `${out} ${result.stderr.trim()}`.trim().split("\n")[0] ?? "";
      const hint = /Could not connect|Connection refused/.test(detail)
        ? "is redis-server running, and are host/port/socket right in the inventory?"
        : /NOAUTH|WRONGPASS/.test(detail)
          ? "set password: (e.g. ${REDIS_PASSWORD}) for this plugin in the inventory"
          : /NOPERM/.test(detail)
            ? "the Redis user needs BGSAVE, LASTSAVE, CONFIG GET and INFO"
            : undefined;
      throw new LifeboatError("SOURCE", `Cannot run Redis ${args[0]} on ${this.label}: ${detail || `redis-cli exited with code ${result.code}`}`, hint ? { hint } : {});
    }
    return out;
  }

  /** `CONFIG GET name` → value. */
  async config(name: string): Promise<string> {
    const lines = (await this.command("CONFIG", "GET", name)).split("\n").map((l) => l.trim());
    return lines[1] ?? "";
  }

  /** `INFO section` as a map. */
  async info(section: string): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    for (const line of (await this.command("INFO", section)).split("\n")) {
      const i = line.indexOf(":");
      if (i > 0) out[line.slice(0, i).trim()] = line.slice(i + 1).trim();
    }
    return out;
  }

  /** Keys per database, from INFO keyspace (`db0` → 1234). */
  async keyspace(): Promise<Record<string, number>> {
    const info = await this.info("keyspace");
    return Object.fromEntries(Object.entries(info).map(([db, v]) => [db, Number(/keys=(\d+)/.exec(v)?.[1] ?? 0)]));
  }
}
