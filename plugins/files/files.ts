/** @module The `files` plugin: paths as one tar archive (modes, mtimes, symlinks, owners), excludes, staged restore. */
import { LifeboatError, messageOf } from "../../core/errors";
import type { FileInfo, Platform } from "../../core/platform";
import { readTar } from "../common/tar/reader";
import type { TarEntry } from "../common/tar/writer";
import { writeTar } from "../common/tar/writer";
import { FieldReader } from "../../core/validate";
import { carryOverExcluded } from "../common/carry-over";
import { compileExcludes, type ExcludeSet } from "../common/exclude";
import { baseName, reroot, safeSegments } from "../common/safe-path";
import type { MappedPath } from "../common/service-tool";
import { removeStaging, stagingDirFor, swapIn, type Staging } from "../common/staging";
import { listTree } from "../common/tree";
import type { ArtifactSource, Plugin, PluginContext, RestoreInput, RestoreReport, RestoreTarget } from "../contract";
import type { CompressionHint } from "../../core/records";

/** Configuration of a `files` plugin instance. */
export interface FilesConfig {
  /** Absolute paths (directories or files) to back up. */
  paths: string[];
  /** gitignore-like patterns, relative to each path. */
  exclude: string[];
  /** Do not descend into other file systems (mount points). */
  oneFileSystem: boolean;
  compression: CompressionHint;
}

interface Counts {
  files: number;
  directories: number;
  symlinks: number;
  bytes: number;
}

/** Walks `tree.host`, naming the entries in the archive under `tree.path`. */
async function* walk(ctx: PluginContext, tree: MappedPath, excludes: ExcludeSet, oneFileSystem: boolean, counts: Counts): AsyncIterable<TarEntry> {
  const platform = ctx.platform;
  const root = tree.host;
  let rootInfo: FileInfo;
  try {
    rootInfo = await platform.lstat(root);
  } catch (err) {
    throw new LifeboatError("SOURCE", `Cannot back up "${root}": ${messageOf(err)}`, { hint: "fix the path in the inventory, or check what removed it" });
  }
  async function* visit(path: string, rel: string, info: FileInfo): AsyncIterable<TarEntry> {
    const name = `${tree.path}${path.slice(root.length)}`.slice(1);
    const base = { name, mode: info.mode, uid: info.uid, gid: info.gid, mtime: Math.floor(info.mtimeMs / 1000), linkname: "", size: 0 };
    if (info.kind === "file") {
      counts.files++;
      counts.bytes += info.size;
      yield { header: { ...base, type: "file", size: info.size }, source: path };
    } else if (info.kind === "symlink") {
      counts.symlinks++;
      yield { header: { ...base, type: "symlink", linkname: await platform.readlink(path) } };
    } else if (info.kind === "directory") {
      counts.directories++;
      yield { header: { ...base, type: "directory" } };
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

/** Backs up configured paths as `files.tar`; restores them in place or under `--into`. */
export const filesPlugin: Plugin<FilesConfig> = {
  name: "files",

  parseConfig(raw, where) {
    const r = FieldReader.of(raw, where);
    const paths = r.stringList("paths", { nonEmpty: true });
    paths.forEach((p, i) => {
      if (!p.startsWith("/")) throw r.fail(`paths[${i}]`, `must be an absolute path, got "${p}"`);
      // A restore swaps each path in with a rename: "/" itself cannot be one; its directories can.
      if (p === "/") throw r.fail(`paths[${i}]`, 'cannot be "/" itself: list the directories under it to back up, e.g. [/etc, /srv, /home]');
      if (p.endsWith("/")) throw r.fail(`paths[${i}]`, `must not end with "/", got "${p}"`);
      safeSegments(p.slice(1) || "x", where);
    });
    const config: FilesConfig = {
      paths,
      exclude: r.stringList("exclude", { optional: true }),
      oneFileSystem: r.boolean("oneFileSystem", false),
      compression: r.oneOf("compression", ["auto", "none", "zstd", "gzip"] as const, "auto"),
    };
    r.rejectUnknown();
    return config;
  },

  async check(ctx, config) {
    for (const path of config.paths) {
      if (!(await ctx.platform.exists(path))) {
        throw new LifeboatError("SOURCE", `Cannot back up "${path}": it does not exist on this host`, { hint: "fix the path in the inventory or create it" });
      }
    }
  },

  async *backup(ctx, config): AsyncIterable<ArtifactSource> {
    yield treeArchive(ctx, config.paths.map((path) => ({ path, host: path })), config);
  },

  async restore(ctx, config, inputs, target) {
    const paths = (inputs[0]?.record.metadata.paths as string[] | undefined) ?? config.paths;
    const excludes = compileExcludes(config.exclude);
    // Excluded files were never backed up: restoring must not delete them from the target.
    return restoreTrees(ctx, onHost(paths), inputs, target, async (staged) => {
      for (const path of paths) {
        const carried = await carryOverExcluded(ctx.platform, reroot(path, target.into), staged.get(path)!, excludes);
        if (carried.length) ctx.log(`kept ${carried.length} excluded entries of ${path}: ${carried.slice(0, 5).join(", ")}${carried.length > 5 ? ", ..." : ""}`);
      }
    });
  },

  async verify(ctx, config, inputs, scratch) {
    const meta = inputs[0]?.record.metadata ?? {};
    const paths = (meta.paths as string[] | undefined) ?? config.paths;
    let found: Counts = { files: 0, directories: 0, symlinks: 0, bytes: 0 };
    await restoreTrees(ctx, onHost(paths), inputs, { into: scratch }, async (staged) => {
      found = await countTrees(ctx.platform, [...staged.values()]);
    });
    for (const key of ["files", "directories", "symlinks", "bytes"] as const) {
      if (typeof meta[key] === "number" && meta[key] !== found[key]) {
        throw new LifeboatError("INTEGRITY", `The restored copy of ${paths.join(", ")} has ${found[key]} ${key}, the snapshot recorded ${meta[key]}`, {
          hint: "the stored archive does not match its manifest; restore from another snapshot",
        });
      }
    }
    return { checks: [`${paths.join(", ")}: restored ${found.files} files (${found.bytes} bytes), ${found.directories} directories, ${found.symlinks} symlinks, as recorded`] };
  },
};

/** Paths of the files plugin: always where they are on the host. */
const onHost = (paths: string[]): MappedPath[] => paths.map((path) => ({ path, host: path }));

/**
 * The trees as one tar artifact (`files.tar`; callers rename it): each tree is read
 * at its host path and named in the archive, and in the metadata's `paths`, by its
 * path as the service sees it, so that a restore can map it again.
 */
export function treeArchive(ctx: PluginContext, trees: MappedPath[], options: Pick<FilesConfig, "exclude" | "oneFileSystem" | "compression">): ArtifactSource {
  const excludes = compileExcludes(options.exclude);
  const counts: Counts = { files: 0, directories: 0, symlinks: 0, bytes: 0 };
  const entries = async function* () {
    for (const tree of trees) yield* walk(ctx, tree, excludes, options.oneFileSystem, counts);
  };
  return {
    name: "files.tar",
    compression: options.compression,
    data: writeTar(ctx.platform, entries(), {
      onChanged: (name, expected, actual) => ctx.warn(`"/${name}" changed size while being read (${expected} → ${actual} bytes); stored as ${expected} bytes`),
      // A file that vanished since it was listed is skipped; one that cannot be read fails the backup, named.
      onUnreadable: (entry, err) => {
        if ((err as { code?: string }).code !== "ENOENT") {
          throw new LifeboatError("SOURCE", `Cannot read "${entry.source}": ${messageOf(err)}`, { hint: "run the agent as a user who can read it, or exclude it" });
        }
        counts.files--;
        counts.bytes -= entry.header.size;
        ctx.warn(`"${entry.source}" vanished during the backup; skipped`);
        return true;
      },
    }),
    metadata: () => ({ paths: trees.map((t) => t.path), ...counts }),
  };
}

/** Counts what the trees (or single files) at `roots` hold, the roots included, as a backup counts them. */
async function countTrees(platform: Platform, roots: string[]): Promise<Counts> {
  const counts: Counts = { files: 0, directories: 0, symlinks: 0, bytes: 0 };
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

/**
 * Restores trees from tar inputs: extract everything into staging beside each
 * target, run `check` on the staged copies (archive path → staged host path),
 * and only then swap each into place. Each tree is named in the archive by
 * `path` and restored at `host` (under `target.into` when set: `into` + host path).
 * On any failure the targets are untouched.
 */
export async function restoreTrees(
  ctx: PluginContext,
  trees: MappedPath[],
  inputs: RestoreInput[],
  target: RestoreTarget,
  check: (staged: Map<string, string>) => Promise<void> = async () => {},
): Promise<RestoreReport> {
  const platform = ctx.platform;
  const paths = trees.map((t) => t.path);
  const staged = new Map<string, string>(); // archive path → its staged copy
  const stagings: Staging[] = [];
  let failed = true;
  try {
    for (const tree of trees) {
      const staging = await stagingDirFor(platform, reroot(tree.host, target.into), ctx.jobId);
      stagings.push(staging);
      staged.set(tree.path, `${staging.dir}/${baseName(tree.host)}`);
    }
    for (const input of inputs) await extract(ctx, input, paths, staged);
    for (const path of paths) {
      if (!(await platform.exists(staged.get(path)!))) throw new LifeboatError("RESTORE", `Cannot restore "${path}": the archive does not contain it`);
    }
    await check(staged);
    // From here on parents hold restored data: never remove them.
    failed = false;
    for (const tree of trees) await swapIn(platform, staged.get(tree.path)!, reroot(tree.host, target.into), ctx.jobId);
    return { restored: trees.map((t) => reroot(t.host, target.into)) };
  } finally {
    for (const staging of stagings) await removeStaging(platform, staging, failed);
  }
}

async function extract(ctx: PluginContext, input: RestoreInput, paths: string[], staged: Map<string, string>): Promise<void> {
  const platform = ctx.platform;
  const root = platform.uid() === 0;
  const symlinks = new Set<string>();
  const directories: { path: string; mtime: number; mode: number }[] = [];
  const what = `artifact "${input.record.key}"`;
  for await (const { header, body } of readTar(input.open())) {
    const segments = safeSegments(header.name, what);
    const name = segments.join("/");
    const owner = paths.find((p) => name === p.slice(1) || name.startsWith(`${p.slice(1)}/`));
    if (!owner) throw new LifeboatError("RESTORE", `Refusing archive entry "${header.name}" of ${what}: it is outside the configured paths`);
    const rest = name.slice(owner.length - 1); // "" or "/sub/path" (owner has a leading "/", name does not)
    const dest = `${staged.get(owner)!}${rest}`;
    for (const link of symlinks) {
      if (dest.startsWith(`${link}/`)) throw new LifeboatError("RESTORE", `Refusing archive entry "${header.name}" of ${what}: it would be written through a symlink`);
    }
    if (header.type === "directory") {
      await platform.mkdir(dest, 0o700);
      directories.push({ path: dest, mtime: header.mtime, mode: header.mode });
    } else if (header.type === "file") {
      await platform.writeStream(dest, body, 0o600);
    } else if (header.type === "symlink") {
      await platform.symlink(header.linkname, dest);
      symlinks.add(dest);
    } else {
      throw new LifeboatError("RESTORE", `Refusing archive entry "${header.name}" of ${what}: unsupported entry type ${header.type}`);
    }
    if (root) await platform.lchown(dest, header.uid, header.gid);
    if (header.type === "file") {
      await platform.chmod(dest, header.mode);
      await platform.utimes(dest, header.mtime * 1000, header.mtime * 1000);
    } else if (header.type === "symlink") {
      await platform.utimes(dest, header.mtime * 1000, header.mtime * 1000, true).catch(() => {});
    }
  }
  for (const dir of directories.reverse()) {
    await platform.chmod(dir.path, dir.mode);
    await platform.utimes(dir.path, dir.mtime * 1000, dir.mtime * 1000);
  }
}
