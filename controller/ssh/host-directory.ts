/**
 * @module A `local` destination read from the controller: the directory lives
 * on the host that backs up into it, so the controller reads it over that
 * host's SSH login (SFTP), as the same user the agent runs as. Read-only:
 * `controller fetch`, `ledger rebuild` and `verify --level stored` read
 * through it; deleting is the agent's, through a signed prune job.
 */
import { LifeboatError } from "../../core/errors";
import type { ByteStream } from "../../core/platform";
import type { Destination, StoredObject } from "../../core/storage/destination";
import { describeDestination } from "../../core/storage/destinations/registry";
import { checkKey, checkPrefix } from "../../core/storage/object-keys";
import type { HostConfig } from "../../inventory/schema";
import { connectSsh } from "./connect";
import type { RemoteFiles } from "./remote-files";
import type { SshConnection } from "./session";
import { sshTargetFor } from "./target";

/** Opens `host`'s local destination `spec` (a `{type: "local", path}` spec) for reading over SSH. */
export async function openHostDirectory(host: HostConfig, spec: { type: string; path?: unknown }): Promise<Destination> {
  if (spec.type !== "local" || typeof spec.path !== "string") throw new LifeboatError("INTERNAL", "openHostDirectory needs a local destination");
  const conn = await connectSsh(sshTargetFor(host, false));
  return new HostDirectory(conn, await conn.hostFiles(), spec.path, `${describeDestination(spec as never)} on ${host.name}`);
}

class HostDirectory implements Destination {
  constructor(
    private readonly conn: SshConnection,
    private readonly files: RemoteFiles,
    private readonly root: string,
    readonly description: string,
  ) {}

  private refused(action: string, key: string): LifeboatError {
    return new LifeboatError("DESTINATION", `Cannot ${action} "${key}" at ${this.description}: the controller only reads a host's own directory (its agent writes and deletes there)`);
  }

  async *get(key: string): ByteStream {
    const file = `${this.root}/${checkKey(key)}`;
    if ((await this.files.fileSize(file)) === null) throw new LifeboatError("NOT_FOUND", `Cannot read "${key}" from ${this.description}: no such object`);
    yield* this.files.readStream(file);
  }

  head(key: string): Promise<number | null> {
    return this.files.fileSize(`${this.root}/${checkKey(key)}`);
  }

  async *list(prefix: string): AsyncIterable<StoredObject> {
    checkPrefix(prefix);
    const walk = async function* (this: HostDirectory, dir: string, rel: string): AsyncIterable<StoredObject> {
      for (const entry of (await this.files.list(dir)).sort((a, b) => a.name.localeCompare(b.name))) {
        const key = rel ? `${rel}/${entry.name}` : entry.name;
        if (entry.kind === "directory" && (prefix.startsWith(`${key}/`) || key.startsWith(prefix) || prefix === "")) yield* walk.call(this, `${dir}/${entry.name}`, key);
        else if (entry.kind === "file" && !entry.name.includes(".partial-") && key.startsWith(prefix)) yield { key, size: entry.size };
      }
    };
    yield* walk.call(this, this.root, "");
  }

  async put(key: string): Promise<number> {
    throw this.refused("store", key);
  }

  async putNew(key: string): Promise<number | null> {
    throw this.refused("store", key);
  }

  async delete(key: string): Promise<void> {
    throw this.refused("delete", key);
  }

  async close(): Promise<void> {
    this.conn.close();
  }
}
