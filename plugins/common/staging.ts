/** @module Stage next to a target, then swap in with renames: the target is never half-restored. */
import { LifeboatError } from "../../core/errors";
import type { Platform } from "../../core/platform";
import { baseName, parentOf } from "./safe-path";

/** A hidden name beside `target` for a staged copy of it: `<parent>/.<name>.lifeboat-staging-<jobId>` (same file system, so the swap is a rename). */
export function stagedBeside(target: string, jobId: string): string {
  return `${parentOf(target)}/.${baseName(target)}.lifeboat-staging-${jobId}`;
}

/** A staging directory, and the topmost directory created for it (to remove on failure). */
export interface Staging {
  dir: string;
  createdRoot?: string;
}

/**
 * A staging directory beside `target` (same file system, so the swap is a rename):
 * `<parent>/.lifeboat-staging-<jobId>`. Missing parents are created and reported.
 * With `confinedTo` (a restore `--into DIR`), no existing directory between DIR
 * and the target may be a symlink: a link planted there would carry the restore
 * out of DIR. @throws RESTORE naming the link.
 */
export async function stagingDirFor(platform: Platform, target: string, jobId: string, confinedTo?: string): Promise<Staging> {
  const parent = parentOf(target);
  if (confinedTo) await refuseLinksBelow(platform, confinedTo.replace(/\/+$/, ""), target);
  let createdRoot: string | undefined;
  for (let p = parent; p !== "/" && !(await platform.exists(p)); p = parentOf(p)) createdRoot = p;
  await platform.mkdir(parent, 0o755);
  const dir = `${parent}/.lifeboat-staging-${jobId}`;
  await platform.mkdir(dir, 0o700);
  return createdRoot ? { dir, createdRoot } : { dir };
}

/** Refuses a symlink at any existing path between `dir` (exclusive) and `target` (inclusive). */
async function refuseLinksBelow(platform: Platform, dir: string, target: string): Promise<void> {
  const rest = target.slice(dir.length).split("/").filter(Boolean);
  let path = dir;
  for (const segment of rest) {
    path = `${path}/${segment}`;
    const info = await platform.lstat(path).catch(() => null);
    if (!info) return;
    if (info.kind === "symlink") {
      throw new LifeboatError("RESTORE", `Refusing to restore under "${dir}": "${path}" is a symlink, which would carry the restore out of that directory`, { hint: `remove the link, or restore into an empty directory` });
    }
  }
}

/** Removes a staging directory and, after a failure, the parents created for it. */
export async function removeStaging(platform: Platform, staging: Staging, failed: boolean): Promise<void> {
  await platform.remove(staging.dir);
  if (failed && staging.createdRoot) await platform.remove(staging.createdRoot);
}

/** A swap that is made but not final: `commit()` removes what was moved aside, `undo()` puts it back. */
export interface PendingSwap {
  commit(): Promise<void>;
  undo(): Promise<void>;
}

/**
 * Moves `staged` into place at `target`, keeping the old target (if any)
 * renamed aside until `commit()` or `undo()`; when the second rename fails the
 * old target is put back at once.
 */
export async function beginSwap(platform: Platform, staged: string, target: string, jobId: string): Promise<PendingSwap> {
  const aside = `${parentOf(target)}/.lifeboat-old-${jobId}-${baseName(target)}`;
  const hadTarget = await platform.exists(target);
  if (hadTarget) await platform.rename(target, aside);
  try {
    await platform.rename(staged, target);
  } catch (err) {
    if (hadTarget) await platform.rename(aside, target);
    throw err;
  }
  return {
    commit: async () => {
      if (hadTarget) await platform.remove(aside);
    },
    undo: async () => {
      await platform.remove(target);
      if (hadTarget) await platform.rename(aside, target);
    },
  };
}

/** Moves `staged` into place at `target` for good (see {@link beginSwap}). */
export async function swapIn(platform: Platform, staged: string, target: string, jobId: string): Promise<void> {
  await (await beginSwap(platform, staged, target, jobId)).commit();
}
