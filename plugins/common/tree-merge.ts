/**
 * @module `restore --path` in place: the selected entries of a staged tree are
 * renamed one by one into the live tree; every other file of the live tree is
 * left as it is, and the folders the restore writes into keep their times.
 */
import { LifeboatError } from "../../core/errors";
import type { FileInfo, Platform } from "../../core/platform";
import { baseName, parentOf } from "./safe-path";
import { stagedBeside, type PendingSwap } from "./staging";

/** Where a staged tree goes, and which of its entries were selected. */
export interface MergeTarget {
  /** The staged copy (extracted with `select`: only selected entries and the folders above them). */
  staged: string;
  /** The live path it restores. */
  live: string;
  /** The tree's path as the service sees it (what `selected` and messages name). */
  path: string;
  /** Absolute paths (as the service sees them) of the entries the patterns selected. */
  selected: Set<string>;
  /** Names the replaced files kept beside themselves until the merge is final. */
  jobId: string;
}

/** One change to the live tree, in the order they are made (parents first). */
type Step =
  | { kind: "place"; rel: string; replaces: boolean }
  | { kind: "refresh"; rel: string; staged: FileInfo; before: FileInfo }
  | { kind: "keepTimes"; rel: string; before: FileInfo };

/** A planned merge: nothing is changed until `begin()`. */
export interface MergePlan {
  /** Renames each selected entry into place; `undo()` puts every replaced file back and removes what was added. */
  begin(): Promise<PendingSwap>;
  /**
   * Once staging is gone: the recorded owner, mode and time of selected
   * folders that already existed (after a commit), and the previous times
   * of the folders the restore wrote into (always).
   */
  settle(committed: boolean): Promise<void>;
  /** Live paths of the entries placed or refreshed, top-most only. */
  placed: string[];
}

/**
 * Renames `staged` to `live`, atomically replacing a file or link there. A
 * folder of the live tree may be another file system (a volume mounted inside
 * it): then the staged entry is first copied (`cp -a`: owners, modes, times,
 * links as links) to a hidden name beside `live`, and renamed from there.
 */
async function moveInto(platform: Platform, staged: string, live: string, jobId: string): Promise<void> {
  try {
    await platform.rename(staged, live);
    return;
  } catch (err) {
    if ((err as { code?: string }).code !== "EXDEV") throw err;
  }
  const beside = stagedBeside(live, jobId);
  try {
    const copy = await platform.run("cp", ["-a", "--no-dereference", staged, beside]);
    if (copy.code !== 0) throw new LifeboatError("RESTORE", `Cannot copy "${staged}" to "${beside}": ${copy.stderr.trim()}`);
    await platform.rename(beside, live);
  } catch (err) {
    await platform.remove(beside);
    throw err;
  }
}

/**
 * Plans the merge of `target.staged` into `target.live`, walking both: a
 * staged folder missing from the live tree is renamed in whole; one present
 * is walked into (its own facts restored only when it was selected); a staged
 * file or symlink replaces the live one. Nothing is written through a live
 * symlink: a live symlink or file where the snapshot has a folder, and a
 * live folder where it has a file, are refused before anything changes.
 * @throws RESTORE naming the conflicting path and what to do.
 */
export async function planMerge(platform: Platform, target: MergeTarget): Promise<MergePlan> {
  const steps: Step[] = [];
  const conflict = (rel: string, live: string, snapshot: string) =>
    new LifeboatError("RESTORE", `Cannot restore "${target.path}${rel}" in place: "${target.live}${rel}" is ${live} on this host, and the snapshot holds ${snapshot} there`, {
      hint: "move it aside and run the restore again, or restore --into DIR and copy what you need",
    });
  const visit = async (rel: string): Promise<void> => {
    const staged = await platform.lstat(`${target.staged}${rel}`);
    const live = await platform.lstat(`${target.live}${rel}`).catch(() => null);
    const describe = (info: FileInfo) => (info.kind === "directory" ? "a folder" : info.kind === "symlink" ? "a symlink" : "a file");
    if (staged.kind !== "directory") {
      if (live?.kind === "directory") throw conflict(rel, "a folder", describe(staged));
      steps.push({ kind: "place", rel, replaces: live !== null });
      return;
    }
    if (!live) {
      steps.push({ kind: "place", rel, replaces: false });
      return;
    }
    if (live.kind !== "directory") throw conflict(rel, describe(live), "a folder");
    steps.push(target.selected.has(`${target.path}${rel}`) ? { kind: "refresh", rel, staged, before: live } : { kind: "keepTimes", rel, before: live });
    for (const name of (await platform.readdir(`${target.staged}${rel}`)).sort()) await visit(`${rel}/${name}`);
  };
  await visit("");
  const placed = steps.filter((s) => s.kind !== "keepTimes").map((s) => s.rel);
  const topMost = placed.filter((rel) => !placed.some((other) => other !== rel && rel.startsWith(`${other}/`)));

  return {
    placed: topMost.map((rel) => `${target.live}${rel}`),
    async begin() {
      const done: { live: string; aside?: string }[] = [];
      const undo = async () => {
        for (const step of done.reverse()) {
          if (step.aside) await platform.rename(step.aside, step.live);
          else await platform.remove(step.live);
        }
      };
      try {
        for (const step of steps) {
          if (step.kind !== "place") continue;
          const live = `${target.live}${step.rel}`;
          let aside: string | undefined;
          if (step.replaces) {
            // A second name for the live file, beside it (same file system), so that replacing it can be undone.
            aside = `${parentOf(live)}/.lifeboat-old-${target.jobId}-${baseName(live)}`;
            if (!(await platform.linkNew(live, aside))) throw new LifeboatError("RESTORE", `Cannot keep "${live}" aside: "${aside}" exists`, { hint: "remove it (a previous restore left it) and run the restore again" });
          } else if (await platform.lstat(live).then(() => true, () => false)) {
            throw new LifeboatError("RESTORE", `Cannot restore "${live}": it appeared during the restore`, { hint: "run the restore again" });
          }
          try {
            await moveInto(platform, `${target.staged}${step.rel}`, live, target.jobId);
          } catch (err) {
            if (aside) await platform.remove(aside);
            throw err;
          }
          done.push(aside ? { live, aside } : { live });
        }
      } catch (err) {
        await undo();
        throw err;
      }
      return {
        commit: async () => {
          for (const step of done) if (step.aside) await platform.remove(step.aside);
        },
        undo,
      };
    },
    async settle(committed) {
      for (const step of [...steps].reverse()) {
        const live = `${target.live}${step.rel}`;
        if (step.kind === "refresh" && committed) {
          if (platform.uid() === 0) await platform.lchown(live, step.staged.uid, step.staged.gid);
          await platform.chmod(live, step.staged.mode);
          await platform.utimes(live, step.staged.atimeMs, step.staged.mtimeMs);
        } else if (step.kind !== "place") {
          await platform.utimes(live, step.before.atimeMs, step.before.mtimeMs);
        }
      }
    },
  };
}
