/**
 * @module One job per host at a time: the agent holds `<agentDir>/job.lock` for
 * the whole job, hooks included, so that two jobs never interleave their hooks
 * (stop, stop, start, start) or their copies. A lock whose agent is gone is
 * cleared; while holding it, the agent sweeps scratch space that dead jobs left.
 */
import { LifeboatError } from "../core/errors";
import type { Platform } from "../core/platform";

/** How long a job waits for the one before it by default. */
export const LOCK_WAIT_MS = 5 * 60_000;

/** Who holds the lock. */
interface Holder {
  pid: number;
  jobId: string;
  since: string;
}

/** A held lock. */
export interface JobLock {
  release(): Promise<void>;
}

/**
 * Takes the host's job lock for `jobId`, waiting up to `waitMs` for a running
 * job to finish; a lock whose process is gone is cleared (and said so in `log`).
 * @throws BUSY naming the running job when it does not finish in time.
 */
export async function acquireJobLock(platform: Platform, dir: string, jobId: string, log: (line: string) => void, waitMs = LOCK_WAIT_MS): Promise<JobLock> {
  const file = `${dir}/job.lock`;
  const mine: Holder = { pid: platform.pid(), jobId, since: new Date().toISOString() };
  const deadline = Date.now() + waitMs;
  let announced = false;
  for (;;) {
    if (await platform.createExclusive(file, JSON.stringify(mine), 0o600)) {
      return { release: () => platform.remove(file) };
    }
    let holder: Holder | undefined;
    try {
      holder = JSON.parse(await platform.readText(file)) as Holder;
    } catch {
      holder = undefined; // being written, or removed just now: look again
    }
    if (holder && !platform.processAlive(holder.pid)) {
      log(`lifeboat agent: cleared the lock of job ${holder.jobId} (pid ${holder.pid} is gone)`);
      await platform.remove(file);
      continue;
    }
    if (Date.now() >= deadline) {
      throw new LifeboatError("BUSY", `Cannot start job ${jobId}: job ${holder?.jobId ?? "?"} (pid ${holder?.pid ?? "?"}, since ${holder?.since ?? "?"}) is still running on this host`, {
        hint: "one job runs per host at a time; wait for it (controller snapshots shows its run), or stop it",
      });
    }
    if (!announced && holder) log(`lifeboat agent: waiting for job ${holder.jobId} (pid ${holder.pid}) to finish`);
    announced = true;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/** Removes the scratch directories of jobs other than `current` (call while holding the lock: they are dead). @returns what it removed. */
export async function sweepScratch(platform: Platform, dir: string, current: string): Promise<string[]> {
  const scratch = `${dir}/scratch`;
  const names = await platform.readdir(scratch).catch(() => [] as string[]);
  const dead = names.filter((n) => n !== current);
  for (const name of dead) await platform.remove(`${scratch}/${name}`);
  return dead;
}
