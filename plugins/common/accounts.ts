/**
 * @module This host's user and group names (`/etc/passwd`, `/etc/group`): a
 * backup records each file's owner by name as well as by id, and a restore as
 * root gives the file the id that name has on the target, which on another
 * host is often a different number.
 */
import type { Platform } from "../../core/platform";
import type { PluginContext } from "../contract";

/** An owner as recorded: the numeric ids, and the names when the source host had them. */
export interface RecordedOwner {
  uid: number;
  gid: number;
  /** User name (tar's `uname`); empty or absent when unknown. */
  uname?: string;
  /** Group name (tar's `gname`); empty or absent when unknown. */
  gname?: string;
}

/** Names ↔ ids of one host's users and groups, as its account files list them. */
export class Accounts {
  private constructor(
    private readonly users: NameTable,
    private readonly groups: NameTable,
  ) {}

  /**
   * Reads `/etc/passwd` and `/etc/group` through the platform. A file that cannot
   * be read counts as empty: owners are then kept by numeric id, as before names were recorded.
   */
  static async load(platform: Platform): Promise<Accounts> {
    const read = (path: string) => platform.readText(path).catch(() => "");
    const [passwd, group] = await Promise.all([read("/etc/passwd"), read("/etc/group")]);
    return new Accounts(parseTable(passwd), parseTable(group));
  }

  /** The user name of `uid` on this host, or "" when it has none. */
  userName(uid: number): string {
    return this.users.names.get(uid) ?? "";
  }

  /** The group name of `gid` on this host, or "" when it has none. */
  groupName(gid: number): string {
    return this.groups.names.get(gid) ?? "";
  }

  /**
   * The ids to give a restored file on this host: the ids its recorded user and
   * group names have here, each falling back to the recorded numeric id when the
   * name is unknown here or was not recorded.
   */
  ownerOf(recorded: RecordedOwner): { uid: number; gid: number } {
    return {
      uid: (recorded.uname ? this.users.ids.get(recorded.uname) : undefined) ?? recorded.uid,
      gid: (recorded.gname ? this.groups.ids.get(recorded.gname) : undefined) ?? recorded.gid,
    };
  }
}

interface NameTable {
  names: Map<number, string>;
  ids: Map<string, number>;
}

/** `name:x:id:...` lines; the first line for a name or an id wins, as getpwnam/getpwuid answer. */
function parseTable(text: string): NameTable {
  const names = new Map<number, string>();
  const ids = new Map<string, number>();
  for (const line of text.split("\n")) {
    const [name, , idText] = line.split(":");
    if (!name || name.startsWith("#") || idText === undefined || !/^\d+$/.test(idText)) continue;
    const id = Number(idText);
    if (!names.has(id)) names.set(id, name);
    if (!ids.has(name)) ids.set(name, id);
  }
  return { names, ids };
}

let cached: { key: string; platform: Platform; accounts: Promise<Accounts> } | undefined;

/**
 * This host's accounts, read once per job (a job's backup walks and restores
 * all share one reading; the next job reads them again).
 */
export function accountsOf(ctx: Pick<PluginContext, "platform" | "jobId" | "scratchDir">): Promise<Accounts> {
  const key = `${ctx.jobId}\n${ctx.scratchDir}`;
  if (!cached || cached.key !== key || cached.platform !== ctx.platform) {
    cached = { key, platform: ctx.platform, accounts: Accounts.load(ctx.platform) };
  }
  return cached.accounts;
}
