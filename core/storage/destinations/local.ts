/** @module The `local` destination: objects are files under a directory on the host (a mounted disk, an NFS share). */
import { LifeboatError, messageOf } from "../../errors";
import type { ByteStream, Platform } from "../../platform";
import type { Destination, DestinationSpec, DestinationType, StoredObject } from "../destination";
import { checkKey, checkPrefix } from "../object-keys";

/** Settings of a `local` destination. */
export interface LocalSpec extends DestinationSpec {
  type: "local";
  /** Absolute directory on the host that holds the objects. */
  path: string;
}

/** The `local` destination type. */
export const localDestination: DestinationType<LocalSpec> = {
  type: "local",
  read(r) {
    const spec: LocalSpec = { type: "local", path: r.absolutePath("path") };
    r.rejectUnknown();
    return spec;
  },
  describe: (spec) => `local ${spec.path}`,
  secrets: () => [],
  open: async (platform, spec) => new LocalDestination(platform, spec),
};

const PARTIAL = ".partial-";

/** Files under the spec's path; each put writes a partial file and renames it into place. */
class LocalDestination implements Destination {
  readonly description: string;
  private readonly root: string;

  constructor(
    private readonly platform: Platform,
    spec: LocalSpec,
  ) {
    this.root = spec.path;
    this.description = localDestination.describe(spec);
  }

  private fail(action: string, key: string, err: unknown): LifeboatError {
    const code = (err as { code?: string }).code;
    if (code === "ENOENT" && action === "read") return new LifeboatError("NOT_FOUND", `Cannot read "${key}" from ${this.description}: no such object`);
    const hint = code === "ENOSPC" ? "the disk is full: free space or choose another destination" : code === "EACCES" ? `check the permissions of ${this.root}` : undefined;
    return new LifeboatError("DESTINATION", `Cannot ${action} "${key}" at ${this.description}: ${messageOf(err)}`, { cause: err, ...(hint ? { hint } : {}) });
  }

  put(key: string, data: ByteStream, signal?: AbortSignal): Promise<number> {
    return this.write(key, data, signal, false) as Promise<number>;
  }

  putNew(key: string, data: ByteStream, signal?: AbortSignal): Promise<number | null> {
    return this.write(key, data, signal, true);
  }

  /** Writes a partial file, then renames it into place (or, for a new object, links it: that fails when the name is taken). */
  private async write(key: string, data: ByteStream, signal: AbortSignal | undefined, onlyNew: boolean): Promise<number | null> {
    const file = `${this.root}/${checkKey(key)}`;
    const dir = file.slice(0, file.lastIndexOf("/"));
    const partial = `${file}${PARTIAL}${Array.from(this.platform.randomBytes(4), (b) => b.toString(16).padStart(2, "0")).join("")}`;
    try {
      await this.platform.mkdir(dir, 0o700);
      const guarded = async function* () {
        for await (const chunk of data) {
          if (signal?.aborted) throw new LifeboatError("DESTINATION", `Cannot store "${key}": the upload was aborted`);
          yield chunk;
        }
      };
      const size = await this.platform.writeStream(partial, guarded(), 0o600);
      if (!onlyNew) {
        await this.platform.rename(partial, file);
        return size;
      }
      const stored = await this.platform.linkNew(partial, file);
      await this.platform.remove(partial);
      return stored ? size : null;
    } catch (err) {
      await this.platform.remove(partial);
      if (err instanceof LifeboatError) throw err;
      throw this.fail("store", key, err);
    }
  }

  async *get(key: string): ByteStream {
    const file = `${this.root}/${checkKey(key)}`;
    try {
      await this.platform.stat(file);
    } catch (err) {
      throw this.fail("read", key, err);
    }
    yield* this.platform.readStream(file);
  }

  async head(key: string): Promise<number | null> {
    try {
      const info = await this.platform.stat(`${this.root}/${checkKey(key)}`);
      return info.kind === "file" ? info.size : null;
    } catch {
      return null;
    }
  }

  async *list(prefix: string): AsyncIterable<StoredObject> {
    checkPrefix(prefix);
    const walk = async function* (this: LocalDestination, dir: string, rel: string): AsyncIterable<StoredObject> {
      let names: string[];
      try {
        names = await this.platform.readdir(dir);
      } catch {
        return;
      }
      for (const name of names.sort()) {
        const key = rel ? `${rel}/${name}` : name;
        const info = await this.platform.lstat(`${dir}/${name}`);
        if (info.kind === "directory") yield* walk.call(this, `${dir}/${name}`, key);
        else if (info.kind === "file" && !name.includes(PARTIAL) && key.startsWith(prefix)) yield { key, size: info.size };
      }
    };
    yield* walk.call(this, this.root, "");
  }

  async delete(key: string): Promise<void> {
    try {
      await this.platform.remove(`${this.root}/${checkKey(key)}`);
    } catch (err) {
      throw this.fail("delete", key, err);
    }
  }

  async close(): Promise<void> {}
}
