/** @module Stage next to a target, then swap in with renames: the target is never half-restored. */
import { LifeboatError, messageOf } from "../../core/errors";
import { explainSystemError } from "../../core/system-errors";
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
  // A mount point cannot be renamed: stage inside it (same file system) and swap its contents.
  if (await isMountPoint(platform, target)) {
    const dir = `${target}/.lifeboat-staging-${jobId}`;
    await platform.mkdir(dir, 0o700);
    return { dir };
  }
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

/** True when `path` is a directory on another file system than its parent's (a mount point). */
export async function isMountPoint(platform: Platform, path: string): Promise<boolean> {
  const info = await platform.lstat(path).catch(() => null);
  if (info?.kind !== "directory" || path === "/") return false;
  return info.dev !== (await platform.lstat(parentOf(path))).dev;
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
  if (await isMountPoint(platform, target)) return beginContentSwap(platform, staged, target, jobId);
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

/**
 * The swap of a mount point (which cannot be renamed): its entries are moved
 * aside into `<target>/.lifeboat-old-<job>`, the staged entries (staged inside
 * the mount, see {@link stagingDirFor}) moved in, and the staged root's mode
 * and (as root) owner taken over (its time is the caller's to set once the
 * staging directory inside is gone); `undo()` moves everything back.
 */
async function beginContentSwap(platform: Platform, staged: string, target: string, jobId: string): Promise<PendingSwap> {
  const aside = `${target}/.lifeboat-old-${jobId}`;
  const ours = new Set([`.lifeboat-old-${jobId}`, `.lifeboat-staging-${jobId}`]);
  const before = await platform.lstat(target);
  const movedAside: string[] = [];
  const placed: string[] = [];
  const undo = async () => {
    for (const name of placed.reverse()) await platform.rename(`${target}/${name}`, `${staged}/${name}`);
    for (const name of movedAside.reverse()) await platform.rename(`${aside}/${name}`, `${target}/${name}`);
    await platform.chmod(target, before.mode);
    if (platform.uid() === 0) await platform.lchown(target, before.uid, before.gid);
    await platform.remove(aside);
    await platform.utimes(target, before.atimeMs, before.mtimeMs);
  };
  await platform.mkdir(aside, 0o700);
  try {
    for (const name of await platform.readdir(target)) {
      if (ours.has(name)) continue;
      await platform.rename(`${target}/${name}`, `${aside}/${name}`);
      movedAside.push(name);
    }
    for (const name of await platform.readdir(staged)) {
      await platform.rename(`${staged}/${name}`, `${target}/${name}`);
      placed.push(name);
    }
    const root = await platform.lstat(staged);
    if (platform.uid() === 0) await platform.lchown(target, root.uid, root.gid);
    await platform.chmod(target, root.mode);
  } catch (err) {
    await undo();
    throw err;
  }
  return { commit: () => platform.remove(aside), undo };
}

/**
 * Swaps several staged copies into place as one: each swap is begun (the target
 * moved aside and its staged copy put in, see {@link beginSwap}), and only when
 * every one is in place are the old copies removed. When a step fails, every
 * target done so far is put back.
 * @throws RESTORE naming the target that failed and saying that nothing was
 * changed — or, if putting back failed too, which targets hold what.
 */
export async function swapAllIn(swaps: { target: string; begin: () => Promise<PendingSwap> }[], jobId: string): Promise<void> {
  const begun: { target: string; pending: PendingSwap }[] = [];
  for (const swap of swaps) {
    try {
      begun.push({ target: swap.target, pending: await swap.begin() });
    } catch (err) {
      const stuck: string[] = [];
      for (const done of [...begun].reverse()) await done.pending.undo().catch(() => stuck.push(done.target));
      const cause = explainSystemError(err)?.message ?? messageOf(err);
      const putBack = begun.length > 0 ? ` (${begun.map((b) => `"${b.target}"`).join(", ")} put back)` : "";
      throw new LifeboatError("RESTORE", stuck.length === 0 ? `${cause}; nothing was changed${putBack}` : `${cause}; putting back ${stuck.map((t) => `"${t}"`).join(", ")} failed too: each holds the restored copy, its previous contents are in ".lifeboat-old-${jobId}-*" beside it`, {
        hint: explainSystemError(err)?.hint ?? "fix the cause and run the restore again",
        cause: err,
      });
    }
  }
  for (const done of begun) await done.pending.commit();
}

/** Moves `staged` into place at `target` for good (see {@link beginSwap}). */
export async function swapIn(platform: Platform, staged: string, target: string, jobId: string): Promise<void> {
  await (await beginSwap(platform, staged, target, jobId)).commit();
}
