/**
 * @module A single file's mode, owner and time, recorded in an artifact's
 * metadata at backup and given back to the restored file (a database file a
 * plugin copies rather than archives: SQLite's, Redis' dump.rdb).
 */
import type { Platform } from "../../core/platform";
import type { PluginContext } from "../contract";
import { accountsOf } from "./accounts";

/** What a manifest records about a file (`metadata.file`). */
export interface FileFacts {
  /** Permission bits (mode & 0o7777). */
  mode: number;
  uid: number;
  gid: number;
  /** Owner and group names on the source host; "" when it had none. */
  user: string;
  group: string;
  /** Modification time, milliseconds since the epoch. */
  mtimeMs: number;
}

/** The facts of the file at `path` (followed if it is a link), with this host's names for its owner. */
export async function recordFileFacts(ctx: PluginContext, path: string): Promise<FileFacts> {
  const info = await ctx.platform.stat(path);
  const accounts = await accountsOf(ctx);
  return { mode: info.mode & 0o7777, uid: info.uid, gid: info.gid, user: accounts.userName(info.uid), group: accounts.groupName(info.gid), mtimeMs: info.mtimeMs };
}

/**
 * The facts a manifest recorded, or undefined for a snapshot made before they
 * were recorded (or a record that is not well-formed: the restore then keeps
 * its previous behaviour rather than apply half of them).
 */
export function recordedFileFacts(value: unknown): FileFacts | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const v = value as Record<string, unknown>;
  const count = (x: unknown) => typeof x === "number" && Number.isInteger(x) && x >= 0;
  if (!count(v.mode) || !count(v.uid) || !count(v.gid) || typeof v.mtimeMs !== "number" || !Number.isFinite(v.mtimeMs)) return undefined;
  return { mode: (v.mode as number) & 0o7777, uid: v.uid as number, gid: v.gid as number, user: typeof v.user === "string" ? v.user : "", group: typeof v.group === "string" ? v.group : "", mtimeMs: v.mtimeMs };
}

/**
 * Gives the file at `path` its recorded owner (only as root: the id its user
 * and group names have on this host, the recorded id where a name is unknown
 * here), then its mode (setuid/setgid bits never), then its time. Call it on
 * the staged file after every check that opens it, before it is swapped in.
 */
export async function applyFileFacts(ctx: PluginContext, path: string, facts: FileFacts): Promise<void> {
  const platform: Platform = ctx.platform;
  if (platform.uid() === 0) {
    const owner = (await accountsOf(ctx)).ownerOf({ uid: facts.uid, gid: facts.gid, uname: facts.user, gname: facts.group });
    await platform.lchown(path, owner.uid, owner.gid);
  }
  await platform.chmod(path, facts.mode & 0o1777);
  await platform.utimes(path, facts.mtimeMs, facts.mtimeMs);
}
