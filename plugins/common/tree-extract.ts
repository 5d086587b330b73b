/**
 * @module Extracting tree archives into staging, confined to it as bsdtar and
 * GNU tar do it, with owners (by name), modes and times as recorded; all of
 * an archive, or only the entries `--path` patterns select.
 */
import { LifeboatError } from "../../core/errors";
import type { PluginContext, RestoreInput } from "../contract";
import { accountsOf } from "./accounts";
import type { PathPatterns } from "./path-patterns";
import { parentOf, safeSegments } from "./safe-path";
import { readTar } from "./tar/reader";

/** How archive entries are extracted. */
export interface ExtractOptions {
  /** Keep setuid/setgid bits (only when restoring as root); dropped with a warning otherwise. */
  keepSetuid: boolean;
  /** Only the entries these patterns match (and the folders above them); everything when absent. */
  select?: PathPatterns;
}

/** A staged directory and the facts the archive recorded for it. */
export interface StagedDirectory {
  path: string;
  mode: number;
  mtime: number;
}

/** What extraction staged, accumulated over a restore's inputs. */
export interface Extraction {
  /** Every staged directory, parents first. */
  directories: StagedDirectory[];
  /** With `select`: the absolute paths (as the service sees them) of the entries the patterns matched. */
  selected: Set<string>;
}

/** A symlink of the archive, made an inert placeholder file until every entry is written. */
interface PendingLink {
  path: string;
  target: string;
  owner: { uid: number; gid: number } | undefined;
  mtime: number;
}

/** A new, empty {@link Extraction}. */
export function emptyExtraction(): Extraction {
  return { directories: [], selected: new Set() };
}

/**
 * Extracts one tar input into staging: each entry below one of `paths` (as the
 * service sees them) goes to the staged copy of that path (`staged`). No entry
 * is ever written through a symlink, because the archive's symlinks are created
 * as placeholder files and become links only once every entry is written (an
 * entry under one fails: its parent is a file); files are created exclusively
 * without following links, with owner, mode and time applied to the open file;
 * a name the archive already used is refused; setuid/setgid bits are kept only
 * for a root restore that asks for them. As root, owners are the ids that the
 * recorded user and group names have on this host (the recorded ids where a
 * name is unknown here); otherwise files belong to the agent's user. With
 * `options.select`, only matching entries are written, with the folders above
 * them (as recorded). Nothing outside staging is touched; staging starts empty.
 * @throws RESTORE naming an entry outside `paths`, an unsafe or unsupported one.
 */
export async function extractTree(ctx: PluginContext, input: RestoreInput, paths: string[], staged: Map<string, string>, options: ExtractOptions, into: Extraction): Promise<void> {
  const platform = ctx.platform;
  const root = platform.uid() === 0;
  const accounts = await accountsOf(ctx);
  const links: PendingLink[] = [];
  const directories: StagedDirectory[] = [];
  // With select: folders not (yet) written, and names the archive holds as files or links.
  const unwritten = new Map<string, { dest: string; owner: { uid: number; gid: number } | undefined; mode: number; mtime: number }>();
  const written = new Set<string>();
  const notFolders = new Set<string>();
  let droppedSpecialBits = 0;
  const what = `artifact "${input.record.key}"`;
  const refuse = (name: string, why: string) => new LifeboatError("RESTORE", `Refusing archive entry "${name}" of ${what}: ${why}`, { hint: "the stored archive is not what Lifeboat writes; restore from another snapshot and check who can write to the storage" });
  const makeDirectory = async (dest: string, owner: { uid: number; gid: number } | undefined, mode: number, mtime: number) => {
    await platform.mkdir(dest, 0o700);
    if (owner) await platform.lchown(dest, owner.uid, owner.gid);
    directories.push({ path: dest, mtime, mode });
  };
  for await (const { header, body } of readTar(input.open())) {
    const segments = safeSegments(header.name, what);
    const name = segments.join("/");
    const tree = paths.find((p) => name === p.slice(1) || name.startsWith(`${p.slice(1)}/`));
    if (!tree) throw refuse(header.name, "it is outside the configured paths");
    const rest = name.slice(tree.length - 1); // "" or "/sub/path" (tree has a leading "/", name does not)
    const dest = `${staged.get(tree)!}${rest}`;
    const owner = root ? accounts.ownerOf(header) : undefined;
    let mode = header.mode & 0o7777;
    if (mode & 0o6000 && !(root && options.keepSetuid)) {
      mode &= ~0o6000;
      droppedSpecialBits++;
    }
    if (options.select) {
      if (!options.select.matches(`/${name}`)) {
        if (header.type === "directory") unwritten.set(name, { dest, owner, mode, mtime: header.mtime });
        else notFolders.add(name);
        continue;
      }
      into.selected.add(`/${name}`);
      // The folders above a selected entry, as the archive recorded them.
      const treeName = tree.slice(1);
      const above = name.split("/").slice(0, -1).map((_, i, all) => all.slice(0, i + 1).join("/")).filter((a) => a === treeName || a.startsWith(`${treeName}/`));
      for (const folder of above) {
        if (notFolders.has(folder)) throw refuse(header.name, "it would be written under a symlink or a file of the archive");
        const pending = unwritten.get(folder);
        if (!pending || written.has(folder)) continue;
        await makeDirectory(pending.dest, pending.owner, pending.mode, pending.mtime);
        written.add(folder);
      }
    }
    try {
      if (rest !== "") await platform.mkdir(parentOf(dest), 0o700);
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code === "EEXIST" || code === "ENOTDIR") throw refuse(header.name, "it would be written under a symlink or a file of the archive");
      throw err;
    }
    try {
      if (header.type === "directory") {
        const existing = await platform.lstat(dest).catch(() => null);
        if (existing && existing.kind !== "directory") throw refuse(header.name, "it names a path the archive already holds as a file or symlink");
        await makeDirectory(dest, owner, mode, header.mtime);
        written.add(name);
      } else if (header.type === "file") {
        await platform.writeNewFile(dest, body, { mode, ...(owner ? { owner } : {}), mtimeMs: header.mtime * 1000 });
      } else if (header.type === "symlink") {
        await platform.writeNewFile(dest, (async function* () {})(), { mode: 0o600 });
        links.push({ path: dest, target: header.linkname, owner, mtime: header.mtime });
      } else {
        throw refuse(header.name, `unsupported entry type ${header.type} (hardlinks and device nodes are never restored)`);
      }
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code === "EEXIST") throw refuse(header.name, "it names a path the archive already holds");
      throw err;
    }
  }
  // Every entry is written: only now do the placeholders become links.
  for (const link of links) {
    const placeholder = await platform.lstat(link.path);
    if (placeholder.kind !== "file" || placeholder.size !== 0) throw refuse(link.path, "its symlink placeholder changed during the restore");
    await platform.remove(link.path);
    await platform.symlink(link.target, link.path);
    if (link.owner) await platform.lchown(link.path, link.owner.uid, link.owner.gid);
    await platform.utimes(link.path, link.mtime * 1000, link.mtime * 1000, true).catch(() => {});
  }
  await settleDirectories(ctx, directories);
  into.directories.push(...directories);
  if (droppedSpecialBits > 0) {
    ctx.warn(`${droppedSpecialBits} entr${droppedSpecialBits === 1 ? "y" : "ies"} of ${what} had setuid/setgid bits, restored without them${root ? " (set keepSetuid: true for this plugin to keep them)" : " (only a restore as root can keep them)"}`);
  }
}

/**
 * Gives staged directories their recorded modes and times, children first (a
 * time set on a folder holds only once nothing is written into it any more).
 * Called after extraction, and again (`onlyChanged`: touching only folders
 * whose mode or time differs) after checks that may have written into staging.
 */
export async function settleDirectories(ctx: PluginContext, directories: StagedDirectory[], onlyChanged = false): Promise<void> {
  for (const dir of [...directories].reverse()) {
    if (onlyChanged) {
      const now = await ctx.platform.lstat(dir.path);
      if (now.mode === dir.mode && Math.floor(now.mtimeMs / 1000) === dir.mtime) continue;
    }
    await ctx.platform.chmod(dir.path, dir.mode);
    await ctx.platform.utimes(dir.path, dir.mtime * 1000, dir.mtime * 1000);
  }
}
