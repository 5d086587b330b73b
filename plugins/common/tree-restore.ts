/** @module Restoring tar artifacts of directory trees: extract into staging beside each target, check, then swap (or, for `--path`, merge) in. */
import { LifeboatError, messageOf } from "../../core/errors";
import type { FileInfo } from "../../core/platform";
import type { PluginContext, RestoreInput, RestoreReport, RestoreTarget } from "../contract";
import { PathPatterns } from "./path-patterns";
import { instanceRoot, placeRestored } from "./restore-place";
import { baseName, parentOf } from "./safe-path";
import type { MappedPath } from "./service-tool";
import { beginSwap, removeStaging, stagingDirFor, swapAllIn, type Staging } from "./staging";
import { emptyExtraction, extractTree, settleDirectories } from "./tree-extract";
import { planMerge, type MergePlan } from "./tree-merge";

/** How archive entries are restored. */
export interface TreeRestoreOptions {
  /** Keep setuid/setgid bits (only when restoring as root); dropped with a warning otherwise. */
  keepSetuid: boolean;
  /** The instance's root, which `--into` lays paths out relative to (default: the common parent of the trees' paths, see {@link instanceRoot}). */
  root?: string;
}

/**
 * Restores trees from tar inputs: extract into staging beside each target,
 * run `check` on the staged copies (archive path → staged host path), and only
 * then swap each into place. Each tree is named in the archive by `path` and
 * restored at `host`, or with `target.into` at `<into>/<path relative to the
 * instance's root>`. Owners (by name, as root), modes and times are as
 * recorded, directories and each tree's top included.
 *
 * With `target.paths`, only the entries the patterns match are extracted (with
 * the folders above them, as recorded), and `check` is not run (part of a tree
 * cannot be checked as a whole); under `into` they are swapped in as above, in
 * place each is renamed into the live tree, every other live file left as it
 * is (see {@link planMerge}). A tree with no match is not touched.
 *
 * On any failure the targets are untouched.
 * @throws USAGE naming a pattern that matches nothing in the archive; RESTORE for archives and swaps that fail.
 */
export async function restoreTrees(
  ctx: PluginContext,
  trees: MappedPath[],
  inputs: RestoreInput[],
  target: RestoreTarget,
  check: (staged: Map<string, string>) => Promise<void> = async () => {},
  options: TreeRestoreOptions = { keepSetuid: false },
): Promise<RestoreReport> {
  const platform = ctx.platform;
  const paths = trees.map((t) => t.path);
  const select = target.paths?.length ? new PathPatterns(target.paths) : undefined;
  const root = options.root ?? instanceRoot(paths);
  const places = new Map(trees.map((tree) => [tree.path, placeRestored(target.into, root, tree.path, () => tree.host)]));
  const staged = new Map<string, string>(); // archive path → its staged copy
  const stagings: Staging[] = [];
  // Times to set last, once staging is gone: the folders above an in-place --path restore, and each swapped-in tree's top.
  const untouched: { path: string; before: FileInfo; onlyAfterSuccess?: boolean }[] = [];
  const merges: MergePlan[] = [];
  let failed = true;
  try {
    for (const tree of trees) {
      const at = places.get(tree.path)!;
      if (select && !target.into) {
        const parent = await platform.lstat(parentOf(at)).catch(() => null);
        if (parent) untouched.push({ path: parentOf(at), before: parent });
      }
      const staging = await stagingDirFor(platform, at, ctx.jobId, target.into);
      stagings.push(staging);
      staged.set(tree.path, `${staging.dir}/${baseName(at)}`);
    }
    if (stagings.length === 1) await requireSpace(ctx, stagings[0]!.dir, inputs, places.get(paths[0]!)!);
    const extraction = emptyExtraction();
    for (const input of inputs) await extractTree(ctx, input, paths, staged, { keepSetuid: options.keepSetuid, ...(select ? { select } : {}) }, extraction);
    if (select) {
      const unmatched = select.unmatched();
      if (unmatched.length > 0) {
        throw new LifeboatError("USAGE", `Cannot restore --path ${unmatched.map((p) => `"${p}"`).join(", ")}: nothing in the snapshot's ${paths.join(", ")} matches`, {
          hint: `a pattern is an absolute path as the service sees it, below ${paths.join(" or ")} (e.g. ${paths[0]}/*.json, ${paths[0]}/uploads/**); nothing was changed`,
        });
      }
    } else {
      for (const path of paths) {
        if (!(await platform.exists(staged.get(path)!))) throw new LifeboatError("RESTORE", `Cannot restore "${path}": the archive does not contain it`);
      }
      await check(staged);
      // A check may have written into staging (files kept from the live tree, test copies): the recorded times again.
      await settleDirectories(ctx, extraction.directories, true);
    }
    const chosen: MappedPath[] = [];
    for (const tree of trees) if (await platform.exists(staged.get(tree.path)!)) chosen.push(tree);
    if (select && !target.into) {
      for (const tree of chosen) {
        merges.push(await planMerge(platform, { staged: staged.get(tree.path)!, live: places.get(tree.path)!, path: tree.path, selected: extraction.selected, jobId: ctx.jobId }));
      }
      await swapAllIn(merges.map((merge, i) => ({ target: places.get(chosen[i]!.path)!, begin: () => merge.begin() })), ctx.jobId);
    } else {
      // A mount point is restored by moving its contents (see beginSwap): its recorded time is set once staging inside it is gone.
      for (const tree of chosen) {
        const info = await platform.lstat(staged.get(tree.path)!);
        if (info.kind === "directory") untouched.push({ path: places.get(tree.path)!, before: info, onlyAfterSuccess: true });
      }
      await swapAllIn(
        chosen.map((tree) => {
          const at = places.get(tree.path)!;
          return { target: at, begin: () => beginSwap(platform, staged.get(tree.path)!, at, ctx.jobId) };
        }),
        ctx.jobId,
      );
    }
    // From here on parents hold restored data: never remove them.
    failed = false;
    if (!select) return { restored: trees.map((t) => places.get(t.path)!) };
    const restored = target.into ? topMost([...extraction.selected]).map((p) => placeRestored(target.into, root, p)) : merges.flatMap((m) => m.placed);
    return { restored, details: { paths: target.paths, selected: extraction.selected.size } };
  } finally {
    for (const staging of stagings) {
      await removeStaging(platform, staging, failed).catch((err: unknown) => ctx.warn(`could not remove the staging directory "${staging.dir}": ${messageOf(err)}`));
    }
    for (const merge of merges) await merge.settle(!failed).catch((err: unknown) => ctx.warn(`could not set the times of the folders restored into: ${messageOf(err)}`));
    for (const { path, before, onlyAfterSuccess } of untouched) {
      if (!failed || !onlyAfterSuccess) await platform.utimes(path, before.atimeMs, before.mtimeMs).catch(() => {});
    }
  }
}

/** The paths that are not below another one of them. */
function topMost(paths: string[]): string[] {
  return paths.filter((p) => !paths.some((other) => other !== p && p.startsWith(`${other}/`))).sort();
}

/** Refuses, before anything is written, a restore whose archives (by their recorded sizes) do not fit beside `target`. */
async function requireSpace(ctx: PluginContext, stagingDir: string, inputs: RestoreInput[], target: string): Promise<void> {
  const needed = inputs.reduce((n, i) => n + (i.record.plainSize || 0), 0);
  const free = await ctx.platform.freeBytes(stagingDir);
  if (free === null || needed <= free) return;
  const mib = (n: number) => `${(n / 1048576).toFixed(1)} MiB`;
  throw new LifeboatError("RESTORE", `Cannot restore "${target}": its staged copy needs about ${mib(needed)} beside it, and that file system has ${mib(free)} free`, {
    hint: `free space on the file system of "${target}", or restore --into a directory on a larger disk`,
  });
}
