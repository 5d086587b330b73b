/** @module The `rclone` destination: any rclone remote through the host's `rclone`, configured by environment only. */
import { LifeboatError, messageOf, redact } from "../../errors";
import type { ByteStream, Platform } from "../../platform";
import type { Destination, DestinationSpec, DestinationType, StoredObject } from "../destination";
import { checkKey, checkPrefix } from "../object-keys";

/** Settings of an `rclone` destination. */
export interface RcloneSpec extends DestinationSpec {
  type: "rclone";
  /** `remote:path`, e.g. `b2:my-bucket/lifeboat`. */
  remote: string;
  /** Environment for rclone, e.g. `RCLONE_CONFIG_B2_TYPE`; holds credentials. */
  env?: Record<string, string>;
  /** Path to the rclone binary (default: `rclone` on PATH). */
  binary?: string;
}

/** rclone settings that name a remote's shape, not its credentials. */
const NOT_SECRET = /_TYPE$|_PROVIDER$|_REGION$|_ENDPOINT$|_HOST$|_PORT$|_USER$/;

/** The `rclone` destination type. */
export const rcloneDestination: DestinationType<RcloneSpec> = {
  type: "rclone",
  read(r) {
    const remote = r.string("remote");
    if (!/^[A-Za-z0-9_-]+:/.test(remote)) throw r.fail("remote", `expected "name:path" (an rclone remote), got "${remote}"`);
    const spec: RcloneSpec = { type: "rclone", remote, env: r.stringMap("env"), binary: r.string("binary", true) };
    r.rejectUnknown();
    return spec;
  },
  describe: (spec) => `rclone ${spec.remote.replace(/\/+$/, "")}`,
  secrets: (spec) =>
    Object.entries(spec.env ?? {})
      .filter(([name]) => !NOT_SECRET.test(name))
      .map(([, value]) => value),
  open: async (platform, spec) => new RcloneDestination(platform, spec),
};

/** rclone's exit code for "directory not found" / "file not found". */
const NOT_FOUND_CODES = new Set([3, 4]);
const FLAGS = ["--retries", "3", "--low-level-retries", "10", "--stats", "0"];

/**
 * Objects under `remote`. Credentials travel only in the rclone process's
 * environment; a user's own rclone.conf is not read (`RCLONE_CONFIG=/dev/null`).
 * Uploads go to a partial name and are moved into place when complete.
 */
class RcloneDestination implements Destination {
  readonly description: string;
  private readonly binary: string;
  private readonly env: Record<string, string>;
  private readonly secrets: string[];
  private readonly base: string;

  constructor(
    private readonly platform: Platform,
    spec: RcloneSpec,
  ) {
    this.binary = spec.binary ?? "rclone";
    this.base = spec.remote.replace(/\/+$/, "");
    this.description = rcloneDestination.describe(spec);
    // rclone's S3 backend fails on any AWS_CA_BUNDLE it inherits ("unsupported transport");
    // a remote that needs one sets it in its own env.
    this.env = { RCLONE_CONFIG: "/dev/null", AWS_CA_BUNDLE: "", ...(spec.env ?? {}) };
    this.secrets = rcloneDestination.secrets(spec);
  }

  private path(key: string): string {
    return `${this.base}/${key}`;
  }

  private async run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    try {
      return await this.platform.run(this.binary, [...args, ...FLAGS], { env: this.env });
    } catch (err) {
      throw this.missing(err);
    }
  }

  private missing(err: unknown): LifeboatError {
    return new LifeboatError("TOOL_MISSING", `Cannot run "${this.binary}" for ${this.description}: ${messageOf(err)}`, { hint: "install rclone on the host (apt-get install rclone), or set binary: in the destination" });
  }

  private fail(action: string, key: string, code: number, stderr: string): LifeboatError {
    const detail = redact(stderr.trim().split("\n").slice(-3).join(" | "), this.secrets).slice(0, 600);
    if (NOT_FOUND_CODES.has(code) || /not found|doesn't exist|no such file/i.test(stderr)) {
      return new LifeboatError("NOT_FOUND", `Cannot ${action} "${key}" at ${this.description}: no such object`);
    }
    return new LifeboatError("DESTINATION", `Cannot ${action} "${key}" at ${this.description}: rclone exited with code ${code}: ${detail}`, {
      hint: "check the remote's RCLONE_CONFIG_* settings in the inventory and that the remote is reachable from the host",
    });
  }

  /** rclone has no conditional write: this checks first, so two writers racing for one key can both store. */
  async putNew(key: string, data: ByteStream, signal?: AbortSignal): Promise<number | null> {
    if ((await this.head(key)) !== null) return null;
    return this.put(key, data, signal);
  }

  /**
   * Stores `key`. Puts into folders this destination has written to run
   * concurrently; a put that may have to create folders runs alone (rclone's
   * SFTP backend fails a put whose folder another put creates at the same moment).
   */
  async put(key: string, data: ByteStream, signal?: AbortSignal): Promise<number> {
    checkKey(key);
    const folder = key.slice(0, key.lastIndexOf("/") + 1);
    if (this.folders.has(folder)) return this.write(key, data, signal);
    const turn = this.folderTurn.then(() => this.write(key, data, signal));
    this.folderTurn = turn.then(
      () => void this.folders.add(folder),
      () => {},
    );
    return turn;
  }

  /** Folders known to exist (a put into them succeeded), and the queue of puts that may create folders. */
  private readonly folders = new Set<string>();
  private folderTurn: Promise<void> = Promise.resolve();

  private async write(key: string, data: ByteStream, signal?: AbortSignal): Promise<number> {
    const partial = `${key}.partial-${Array.from(this.platform.randomBytes(4), (b) => b.toString(16).padStart(2, "0")).join("")}`;
    let size = 0;
    let sourceError: unknown;
    const counted = async function* () {
      try {
        for await (const chunk of data) {
          if (signal?.aborted) throw new LifeboatError("DESTINATION", `Cannot store "${key}": the upload was aborted`);
          size += chunk.length;
          yield chunk;
        }
      } catch (err) {
        sourceError = err;
        throw err;
      }
    };
    let child;
    try {
      child = this.platform.spawn(this.binary, ["rcat", this.path(partial), ...FLAGS], { env: this.env, stdin: counted() });
    } catch (err) {
      throw this.missing(err);
    }
    for await (const _ of child.stdout) {
      // rcat prints nothing; drain anyway.
    }
    let result;
    try {
      result = await child.exited;
    } catch (err) {
      throw this.missing(err);
    }
    if (sourceError !== undefined || result.code !== 0) {
      await this.run(["deletefile", this.path(partial)]).catch(() => {});
      if (sourceError !== undefined) throw sourceError;
      throw this.fail("store", key, result.code, result.stderr);
    }
    const moved = await this.run(["moveto", this.path(partial), this.path(key)]);
    if (moved.code !== 0) {
      await this.run(["deletefile", this.path(partial)]).catch(() => {});
      throw this.fail("store", key, moved.code, moved.stderr);
    }
    return size;
  }

  async *get(key: string): ByteStream {
    checkKey(key);
    if ((await this.head(key)) === null) throw new LifeboatError("NOT_FOUND", `Cannot read "${key}" at ${this.description}: no such object`);
    let child;
    try {
      child = this.platform.spawn(this.binary, ["cat", this.path(key), ...FLAGS], { env: this.env });
    } catch (err) {
      throw this.missing(err);
    }
    let finished = false;
    try {
      yield* child.stdout;
      const result = await child.exited;
      finished = true;
      if (result.code !== 0) throw this.fail("read", key, result.code, result.stderr);
    } finally {
      if (!finished) child.kill();
    }
  }

  async head(key: string): Promise<number | null> {
    checkKey(key);
    const result = await this.run(["lsjson", "--files-only", "--no-modtime", "--no-mimetype", this.path(key)]);
    if (result.code !== 0) {
      const failure = this.fail("inspect", key, result.code, result.stderr);
      if (failure.code === "NOT_FOUND") return null;
      throw failure;
    }
    const entries = JSON.parse(result.stdout || "[]") as { Name: string; Size: number }[];
    const name = key.slice(key.lastIndexOf("/") + 1);
    const found = entries.find((e) => e.Name === name);
    return found ? found.Size : null;
  }

  async *list(prefix: string): AsyncIterable<StoredObject> {
    checkPrefix(prefix);
    const dir = prefix.includes("/") ? prefix.slice(0, prefix.lastIndexOf("/")) : "";
    const result = await this.run(["lsjson", "-R", "--files-only", "--no-modtime", "--no-mimetype", dir ? this.path(dir) : this.base]);
    if (result.code !== 0) {
      const failure = this.fail("list", prefix || "/", result.code, result.stderr);
      if (failure.code === "NOT_FOUND") return;
      throw failure;
    }
    for (const entry of JSON.parse(result.stdout || "[]") as { Path: string; Size: number }[]) {
      const key = dir ? `${dir}/${entry.Path}` : entry.Path;
      if (key.startsWith(prefix) && !/\.partial-[0-9a-f]{8}$/.test(key)) yield { key, size: entry.Size };
    }
  }

  async delete(key: string): Promise<void> {
    checkKey(key);
    const result = await this.run(["deletefile", this.path(key)]);
    if (result.code !== 0) {
      const failure = this.fail("delete", key, result.code, result.stderr);
      if (failure.code !== "NOT_FOUND") throw failure;
    }
  }

  async close(): Promise<void> {}
}
