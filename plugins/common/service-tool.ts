/** @module Running a service's own tools on the host or inside its container (`docker exec`), and mapping container paths. */
import { LifeboatError, messageOf } from "../../core/errors";
import type { ChildProcess, Platform, RunResult, SpawnOptions } from "../../core/platform";
import { FieldReader } from "../../core/validate";

/** Where a service runs: on the host, or in a container whose paths map to host paths. */
export interface ServiceLocation {
  /** Container name for `docker exec`; absent for a service on the host. */
  container?: string;
  /** Container path prefix → host path prefix, e.g. `/data` → `/srv/redis/data`. */
  paths: Record<string, string>;
  /** The docker CLI (default `docker`). */
  docker: string;
}

/**
 * A path of a service's data as the service sees it, and where the agent finds it
 * on the host (the same path for a service on the host).
 */
export interface MappedPath {
  /** As the service sees it: what the inventory names, the manifest records and archives hold. */
  path: string;
  /** Where the agent reads and writes it. */
  host: string;
}

/** What a manifest records about where the service ran: `{ container }` for a containerized service, nothing for one on the host. */
export function locationFacts(location: ServiceLocation): { container?: string } {
  return location.container ? { container: location.container } : {};
}

/**
 * Guards an in-place restore: the paths of a snapshot taken in a container are the
 * container's and mean something else on the host (its own /etc/nginx, say).
 * @throws CONFIG when the snapshot recorded a container (see {@link locationFacts}) and this plugin instance has none.
 */
export function checkRestoreLocation(location: ServiceLocation, metadata: Record<string, unknown>, path: string, into: string | undefined): void {
  const recorded = metadata.container;
  if (typeof recorded !== "string" || location.container || into) return;
  throw new LifeboatError("CONFIG", `Cannot restore "${path}" in place: the snapshot recorded it as a path of container "${recorded}", and this plugin has no container:`, {
    hint: "set container: and containerPaths: as when it was backed up, or restore with --into DIR",
  });
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

  /**
   * Runs to completion (small outputs).
   * @throws TOOL_MISSING when the tool (or docker) cannot be started, and when the
   * container has no such tool (`docker exec` answers 127), never as a failure of the data.
   */
  async run(tool: string, args: string[], options: SpawnOptions = {}): Promise<RunResult> {
    const [command, argv] = this.argv(tool, args, options.env ?? {});
    let result: RunResult;
    try {
      result = await this.platform.run(command, argv, options);
    } catch (err) {
      throw this.missing(command, err);
    }
    if (this.location.container && result.code === 127) throw this.missing(tool, new Error(result.stderr.trim().split("\n").slice(-1)[0] || "not found"));
    return result;
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

  /** The TOOL_MISSING error for `command` (the docker CLI itself, or a tool in the container or on the host). */
  missing(command: string, err: unknown): LifeboatError {
    const container = this.location.container;
    const hint = !container ? `install ${command} on the host` : command === this.location.docker ? "check that docker is installed and the container runs" : `"${command}" is not in container "${container}": use an image that has it, or name its path in the plugin's settings`;
    return new LifeboatError("TOOL_MISSING", `Cannot run "${command}"${container ? ` for container "${container}"` : ""}: ${messageOf(err)}`, { hint });
  }

  /**
   * Copies a host file or directory to `servicePath` where the service is: `docker cp`
   * into the container, `cp -a` on the host. `servicePath` should not exist yet (a
   * directory is then copied as it, not into it).
   * @throws TOOL_MISSING when docker (or cp) cannot be started; a failed copy shows in the result's code and stderr.
   */
  async copyIn(hostPath: string, servicePath: string): Promise<RunResult> {
    const [command, argv] = this.location.container ? [this.location.docker, ["cp", hostPath, `${this.location.container}:${servicePath}`]] : ["cp", ["-a", hostPath, servicePath]];
    try {
      return await this.platform.run(command, argv);
    } catch (err) {
      throw this.missing(command, err);
    }
  }

  /** Where {@link withCopyIn} puts `hostPath` for the service's tools: the host path itself on the host, `/tmp/lifeboat-<name>` in a container. */
  placeFor(hostPath: string, name: string): string {
    return this.location.container ? `/tmp/lifeboat-${name}` : hostPath;
  }

  /**
   * Runs `work` with `hostPath` (a file or directory) where the service's tools
   * can read it, at {@link placeFor}: on the host as it is; for a container, a
   * `docker cp` of it, removed afterwards together with `alsoRemove` (paths in
   * the container). A copy that cannot be removed is reported to `warn`.
   * @throws RESTORE when the copy into the container fails.
   */
  async withCopyIn<T>(hostPath: string, name: string, work: (servicePath: string) => Promise<T>, warn: (message: string) => void, alsoRemove: string[] = []): Promise<T> {
    const place = this.placeFor(hostPath, name);
    if (!this.location.container) return work(place);
    try {
      const pushed = await this.copyIn(hostPath, place);
      if (pushed.code !== 0) {
        throw new LifeboatError("RESTORE", `Cannot copy "${hostPath}" into container "${this.location.container}": ${pushed.stderr.trim()}`, { hint: "check that the container runs and has a writable /tmp" });
      }
      return await work(place);
    } finally {
      // A failed docker cp may leave part of the copy behind.
      const rm = await this.run("rm", ["-rf", place, ...alsoRemove]).catch((err: unknown) => ({ code: -1, stderr: messageOf(err) }));
      if (rm.code !== 0) warn(`could not remove "${place}" in container "${this.location.container}": ${rm.stderr.trim()}`);
    }
  }

  /** `servicePath` with its host path. @throws CONFIG (see {@link hostPath}) when containerPaths does not map it. */
  map(servicePath: string): MappedPath {
    return { path: servicePath, host: this.hostPath(servicePath) };
  }

  /** A mapped path for messages: `"/etc/nginx"`, or `"/etc/nginx" of container "web" (on the host "/srv/web/nginx")`. */
  describe(mapped: MappedPath): string {
    return this.location.container ? `"${mapped.path}" of container "${this.location.container}" (on the host "${mapped.host}")` : `"${mapped.path}"`;
  }

  /** The hint for a configured path that is not there: `fix`, and for a containerized service the containerPaths mapping too. */
  pathHint(fix: string): string {
    return this.location.container ? `${fix} as container "${this.location.container}" sees it, and check that containerPaths maps it to where it is on the host` : fix;
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
