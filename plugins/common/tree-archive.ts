/** @module One tar artifact of directory trees (modes, mtimes, symlinks, owners, excludes), shared by every plugin that backs up files. */
import { LifeboatError, messageOf } from "../../core/errors";
import type { FileInfo, Platform } from "../../core/platform";
import type { CompressionHint } from "../../core/records";
import type { ArtifactSource, PluginContext } from "../contract";
import { compileExcludes, type ExcludeSet } from "./exclude";
import { accountsOf } from "./accounts";
import type { MappedPath } from "./service-tool";
import { writeTar, type TarEntry } from "./tar/writer";
import { tarUnits, type UnitEntry } from "./tar/units";
import { listTree } from "./tree";

/** How a tree archive is made. */
export interface TreeArchiveOptions {
  /** gitignore-like patterns, relative to each tree. */
  exclude: string[];
  /** Do not descend into other file systems (mount points). */
  oneFileSystem: boolean;
  compression: CompressionHint;
}

/** What a tree holds, as a backup counts it (and the manifest records it). */
export interface TreeCounts {
  files: number;
  directories: number;
  symlinks: number;
  bytes: number;
}

/** Walks `tree.host`, naming the entries in the archive under `tree.path`, their owners by id and by this host's names. */
async function* walk(ctx: PluginContext, tree: MappedPath, excludes: ExcludeSet, oneFileSystem: boolean, counts: TreeCounts): AsyncIterable<UnitEntry> {
  const platform = ctx.platform;
  const root = tree.host;
  const accounts = await accountsOf(ctx);
  let rootInfo: FileInfo;
  try {
    rootInfo = await platform.lstat(root);
  } catch (err) {
    throw new LifeboatError("SOURCE", `Cannot back up "${root}": ${messageOf(err)}`, { hint: "fix the path in the inventory, or check what removed it" });
  }
  async function* visit(path: string, rel: string, info: FileInfo): AsyncIterable<UnitEntry> {
    const name = `${tree.path}${path.slice(root.length)}`.slice(1);
    const owner = { uid: info.uid, gid: info.gid, uname: accounts.userName(info.uid), gname: accounts.groupName(info.gid) };
    const base = { name, mode: info.mode, ...owner, mtime: Math.floor(info.mtimeMs / 1000), linkname: "", size: 0 };
    if (info.kind === "file") {
      counts.files++;
      counts.bytes += info.size;
      yield { header: { ...base, type: "file", size: info.size }, source: path, info };
    } else if (info.kind === "symlink") {
      counts.symlinks++;
      yield { header: { ...base, type: "symlink", linkname: await platform.readlink(path) }, info };
    } else if (info.kind === "directory") {
      counts.directories++;
      yield { header: { ...base, type: "directory" }, info };
      if (oneFileSystem && info.dev !== rootInfo.dev) return;
      let children: string[];
      try {
        children = (await platform.readdir(path)).sort();
      } catch (err) {
        throw new LifeboatError("SOURCE", `Cannot read directory "${path}": ${messageOf(err)}`, { hint: "run the agent as a user who can read it, or exclude it" });
      }
      for (const child of children) {
        const childPath = `${path}/${child}`;
        const childRel = rel ? `${rel}/${child}` : child;
        let childInfo: FileInfo;
        try {
          childInfo = await platform.lstat(childPath);
        } catch (err) {
          if ((err as { code?: string }).code === "ENOENT") {
            ctx.warn(`"${childPath}" vanished during the backup; skipped`);
            continue;
          }
          throw new LifeboatError("SOURCE", `Cannot read "${childPath}": ${messageOf(err)}`);
        }
        if (excludes.matches(childRel, childInfo.kind === "directory")) continue;
        yield* visit(childPath, childRel, childInfo);
      }
    } else {
      ctx.warn(`"${path}" is a socket, fifo or device; skipped`);
    }
  }
  yield* visit(root, "", rootInfo);
}

/**
 * The trees as one tar artifact (`files.tar`; callers rename it): each tree is read
 * at its host path and named in the archive, and in the metadata's `paths`, by its
 * path as the service sees it, so that a restore can map it again.
 */
export function treeArchive(ctx: PluginContext, trees: MappedPath[], options: TreeArchiveOptions): ArtifactSource {
  const excludes = compileExcludes(options.exclude);
  const counts: TreeCounts = { files: 0, directories: 0, symlinks: 0, bytes: 0 };
  const entries = async function* () {
    for (const tree of trees) yield* walk(ctx, tree, excludes, options.oneFileSystem, counts);
  };
  // A file that vanished since it was listed is skipped; one that cannot be read fails the backup, named.
  const onUnreadable = (entry: TarEntry, err: unknown) => {
    if ((err as { code?: string }).code !== "ENOENT") {
      throw new LifeboatError("SOURCE", `Cannot read "${entry.source}": ${messageOf(err)}`, { hint: "run the agent as a user who can read it, or exclude it" });
    }
    counts.files--;
    counts.bytes -= entry.header.size;
    ctx.warn(`"${entry.source}" vanished during the backup; skipped`);
    return true;
  };
  return {
    name: "files.tar",
    compression: options.compression,
    data: writeTar(ctx.platform, entries(), {
      onChanged: (name, expected, actual) => ctx.warn(`"/${name}" changed size while being read (${expected} → ${actual} bytes); stored as ${expected} bytes`),
      onUnreadable,
    }),
    units: tarUnits(ctx.platform, entries(), { onUnreadable }),
    metadata: () => ({ paths: trees.map((t) => t.path), ...counts }),
  };
}

/** Counts what the trees (or single files) at `roots` hold, the roots included, as a backup counts them. */
export async function countTrees(platform: Platform, roots: string[]): Promise<TreeCounts> {
  const counts: TreeCounts = { files: 0, directories: 0, symlinks: 0, bytes: 0 };
  const add = (info: FileInfo) => {
    if (info.kind === "file") {
      counts.files++;
      counts.bytes += info.size;
    } else if (info.kind === "directory") counts.directories++;
    else if (info.kind === "symlink") counts.symlinks++;
  };
  for (const root of roots) {
    const info = await platform.lstat(root);
    add(info);
    if (info.kind === "directory") for (const entry of await listTree(platform, root)) add(entry.info);
  }
  return counts;
}

