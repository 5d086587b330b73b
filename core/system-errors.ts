/** @module Operating-system errors (ENOSPC, EBUSY, EACCES, ...) as an operator needs them: the path, what it means, what to do. */
import { LifeboatError, type ErrorCode } from "./errors";

/** What each errno means for a backup or restore, and the fix. */
const EXPLAINED: Record<string, { means: string; hint: (path: string) => string }> = {
  ENOSPC: { means: "no space left on the device", hint: (p) => `free space on the file system that holds "${p}" (a restore needs room for a staged copy beside the target), or restore --into a directory on a larger disk` },
  EDQUOT: { means: "the disk quota is exceeded", hint: (p) => `raise the quota of the agent's user on the file system of "${p}", or free space` },
  EBUSY: { means: "it is busy (in use, or a mount point)", hint: (p) => `stop what uses "${p}" (hooks can do it around the job), then run it again` },
  EACCES: { means: "permission denied", hint: (p) => `run the agent as a user who may write "${p}" (the inventory's ssh user), or restore --into a directory that user owns` },
  EPERM: { means: "the operation is not permitted", hint: (p) => `run the agent as a user who may change "${p}" (owners and some modes need root), or restore --into a directory that user owns` },
  EROFS: { means: "the file system is read-only", hint: (p) => `"${p}" is on a read-only file system: remount it read-write, or restore --into a writable directory` },
  EXDEV: { means: "it would cross file systems", hint: (p) => `"${p}" and its staging copy are on different file systems; restore --into a directory on one file system` },
  EMFILE: { means: "too many open files", hint: () => "raise the agent user's open-file limit (ulimit -n)" },
};

/**
 * A LifeboatError for an operating-system error of a known kind — `Cannot write
 * "/srv/app/x": no space left on the device` with its hint — or undefined for any
 * other error (left as it is).
 */
export function explainSystemError(err: unknown, code: ErrorCode = "RESTORE"): LifeboatError | undefined {
  const e = err as { code?: unknown; syscall?: unknown; path?: unknown; dest?: unknown };
  const known = typeof e?.code === "string" ? EXPLAINED[e.code] : undefined;
  if (!known) return undefined;
  const path = typeof e.path === "string" ? e.path : "(a path)";
  const action = typeof e.syscall === "string" ? e.syscall : "use";
  const target = typeof e.dest === "string" ? ` to "${e.dest}"` : "";
  return new LifeboatError(code, `Cannot ${action} "${path}"${target}: ${known.means}`, { hint: known.hint(path), cause: err });
}
