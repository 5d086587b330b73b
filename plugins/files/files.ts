/** @module The `files` plugin: paths as one tar archive (modes, mtimes, symlinks, owners), excludes, staged restore. */
import { LifeboatError } from "../../core/errors";
import type { CompressionHint } from "../../core/records";
import { FieldReader } from "../../core/validate";
import { carryOverExcluded } from "../common/carry-over";
import { compileExcludes } from "../common/exclude";
import { safeSegments } from "../common/safe-path";
import { instanceRoot, placeRestored } from "../common/restore-place";
import type { MappedPath } from "../common/service-tool";
import { countTrees, treeArchive, type TreeCounts } from "../common/tree-archive";
import { restoreTrees } from "../common/tree-restore";
import { configuredTargets } from "../common/restore-targets";
import type { ArtifactSource, Plugin } from "../contract";
import { readCompression } from "../common/config-fields";

/** Configuration of a `files` plugin instance. */
export interface FilesConfig {
  /** Absolute paths (directories or files) to back up. */
  paths: string[];
  /** gitignore-like patterns, relative to each path. */
  exclude: string[];
  /** Do not descend into other file systems (mount points). */
  oneFileSystem: boolean;
  compression: CompressionHint;
  /** Restore setuid/setgid bits (only a restore as root can); dropped with a warning otherwise. */
  keepSetuid: boolean;
}

/** Paths of the files plugin: always where they are on the host. */
const onHost = (paths: string[]): MappedPath[] => paths.map((path) => ({ path, host: path }));

/** Backs up configured paths as `files.tar`; restores them in place or under `--into`. */
export const filesPlugin: Plugin<FilesConfig> = {
  name: "files",
  restoreStage: "files",
  // Restores are written by the agent itself.
  restoreTools: () => [],

  parseConfig(raw, where) {
    const r = FieldReader.of(raw, where);
    const paths = r.absolutePathList("paths", { nonEmpty: true });
    paths.forEach((p, i) => {
      // A restore swaps each path in with a rename: "/" itself cannot be one; its directories can.
      if (p === "/") throw r.fail(`paths[${i}]`, 'cannot be "/" itself: list the directories under it to back up, e.g. [/etc, /srv, /home]');
      if (p.endsWith("/")) throw r.fail(`paths[${i}]`, `must not end with "/", got "${p}"`);
      safeSegments(p.slice(1) || "x", where);
    });
    const config: FilesConfig = {
      paths,
      exclude: r.stringList("exclude", { optional: true }),
      oneFileSystem: r.boolean("oneFileSystem", false),
      keepSetuid: r.boolean("keepSetuid", false),
      compression: readCompression(r),
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
    const paths = configuredTargets(inputs[0]?.record.metadata.paths, config.paths, target.into, `"${inputs[0]?.record.instance ?? "files"}"`);
    const excludes = compileExcludes(config.exclude);
    // Excluded files were never backed up: restoring must not delete them from the target
    // (a --path restore replaces only what it selects, and runs no check).
    const checks: string[] = [];
    const report = await restoreTrees(
      ctx,
      onHost(paths),
      inputs,
      target,
      async (staged) => {
        // A whole restore is counted against the manifest before it goes in (a --path restore is a part).
        if (!target.paths) checks.push(checkCounts(inputs[0]?.record.metadata ?? {}, paths, await countTrees(ctx.platform, paths.map((p) => staged.get(p)!))));
        for (const path of paths) {
          const carried = await carryOverExcluded(ctx.platform, placeRestored(target.into, instanceRoot(paths), path), staged.get(path)!, excludes);
          if (carried.length) ctx.log(`kept ${carried.length} excluded entries of ${path}: ${carried.slice(0, 5).join(", ")}${carried.length > 5 ? ", ..." : ""}`);
        }
      },
      { keepSetuid: config.keepSetuid },
    );
    return { ...report, ...(checks.length ? { checks } : {}) };
  },

  async verify(ctx, config, inputs, scratch) {
    const meta = inputs[0]?.record.metadata ?? {};
    const paths = (meta.paths as string[] | undefined) ?? config.paths;
    let found: TreeCounts = { files: 0, directories: 0, symlinks: 0, bytes: 0 };
    await restoreTrees(ctx, onHost(paths), inputs, { into: scratch }, async (staged) => {
      found = await countTrees(ctx.platform, [...staged.values()]);
    });
    return { checks: [checkCounts(meta, paths, found)] };
  },
};

/**
 * Compares what a restored copy holds with the counts its manifest recorded.
 * @returns the check in words. @throws INTEGRITY naming the count that differs.
 */
function checkCounts(meta: Record<string, unknown>, paths: string[], found: TreeCounts): string {
  for (const key of ["files", "directories", "symlinks", "bytes"] as const) {
    if (typeof meta[key] === "number" && meta[key] !== found[key]) {
      throw new LifeboatError("INTEGRITY", `The restored copy of ${paths.join(", ")} has ${found[key]} ${key}, the snapshot recorded ${meta[key]}`, {
        hint: "the stored archive does not match its manifest; restore from another snapshot",
      });
    }
  }
  return `${paths.join(", ")}: restored ${found.files} files (${found.bytes} bytes), ${found.directories} directories, ${found.symlinks} symlinks, as recorded`;
}

