/** @module Running a service's own tools on the host or inside its container (`docker exec`), and mapping container paths. */
import { LifeboatError, messageOf } from "../agent/errors";
import type { ChildProcess, Platform, RunResult, SpawnOptions } from "../agent/platform";
import { FieldReader } from "../agent/validate";

/** Where a service runs: on the host, or in a container whose paths map to host paths. */
export interface ServiceLocation {
  /** Container name for `docker exec`; absent for a service on the host. */
  container?: string;
  /** Container path prefix → host path prefix, e.g. `/data` → `/srv/redis/data`. */
  paths: Record<string, string>;
  /** The docker CLI (default `docker`). */
  docker: string;
}

/** Reads `container`, `containerPaths` and `docker` from a plugin config. */
export function readLocation(r: FieldReader): ServiceLocation {
  const container = r.string("container", true);
  const paths = r.stringMap("containerPaths");
  for (const [inside, outside] of Object.entries(paths)) {
    if (!inside.startsWith("/") || !outside.startsWith("/")) throw r.fail(`containerPaths.${inside}`, "both sides must be absolute paths");
  }
  return { ...(container ? { container } : {}), paths, docker: r.string("docker", true) ?? "docker" };
}

/** Runs a service tool where the service is. Environment variables named in `passEnv` reach the tool without entering argv. */
export class ServiceTool {
  constructor(
    private readonly platform: Platform,
    private readonly location: ServiceLocation,
  ) {}

  private argv(tool: string, args: string[], env: Record<string, string>): [string, string[]] {
    if (!this.location.container) return [tool, args];
    // `-e NAME` (no value) copies NAME from docker's own environment: the value stays out of argv.
    return [this.location.docker, ["exec", "-i", ...Object.keys(env).flatMap((k) => ["-e", k]), this.location.container, tool, ...args]];
  }

  /** Runs to completion (small outputs). @throws TOOL_MISSING when the tool (or docker) cannot be started. */
  async run(tool: string, args: string[], options: SpawnOptions = {}): Promise<RunResult> {
    const [command, argv] = this.argv(tool, args, options.env ?? {});
    try {
      return await this.platform.run(command, argv, options);
    } catch (err) {
      throw this.missing(command, err);
    }
  }

  /** Starts a tool whose stdout is streamed. */
  spawn(tool: string, args: string[], options: SpawnOptions = {}): ChildProcess {
    const [command, argv] = this.argv(tool, args, options.env ?? {});
    return this.platform.spawn(command, argv, options);
  }

  /**
   * Streams a tool's stdout; at the end checks its exit code and throws
   * LifeboatError("SOURCE") with its stderr when it failed (never a silent short stream).
   * `blockBuffered`: the tool writes many small pieces through stdio (pg_dump writes
   * a row at a time); on the host it runs under `stdbuf -o1M` when that exists, so
   * that the pipe carries ~1k writes per GB instead of ~100k, which saves CPU on both ends.
   */
  async *stream(tool: string, args: string[], options: SpawnOptions & { blockBuffered?: boolean } = {}): AsyncIterable<Uint8Array> {
    const { blockBuffered, ...spawnOptions } = options;
    const buffered = blockBuffered === true && !this.location.container && (await this.platform.which("stdbuf")) !== null;
    const child = buffered ? this.spawn("stdbuf", ["-o1M", tool, ...args], spawnOptions) : this.spawn(tool, args, spawnOptions);
    let done = false;
    try {
      yield* child.stdout;
      let result;
      try {
        result = await child.exited;
      } catch (err) {
        throw this.missing(this.location.container ? this.location.docker : tool, err);
      }
      done = true;
      // stdbuf's own code for a command it cannot run.
      if (buffered && result.code === 127) throw this.missing(tool, new Error(result.stderr.trim()));
      if (result.code !== 0) throw new LifeboatError("SOURCE", `Cannot complete ${tool}: it exited with code ${result.code}: ${result.stderr.trim().split("\n").slice(-3).join(" | ")}`);
    } finally {
      if (!done) child.kill();
    }
  }

  missing(command: string, err: unknown): LifeboatError {
    return new LifeboatError("TOOL_MISSING", `Cannot run "${command}"${this.location.container ? ` for container "${this.location.container}"` : ""}: ${messageOf(err)}`, {
      hint: this.location.container ? "check that docker is installed and the container runs" : `install ${command} on the host`,
    });
  }

  /** The host path of a path as the service sees it (identity when not in a container). */
  hostPath(servicePath: string): string {
    if (!this.location.container) return servicePath;
    const match = Object.keys(this.location.paths)
      .filter((inside) => servicePath === inside || servicePath.startsWith(`${inside.replace(/\/$/, "")}/`))
      .sort((a, b) => b.length - a.length)[0];
    if (!match) {
      throw new LifeboatError("CONFIG", `Cannot find "${servicePath}" of container "${this.location.container}" on the host`, {
        hint: `map it in the plugin's containerPaths, e.g. containerPaths: { "${servicePath}": /srv/.../data }`,
      });
    }
    return `${this.location.paths[match]!.replace(/\/$/, "")}${servicePath.slice(match.replace(/\/$/, "").length)}`;
  }
}
