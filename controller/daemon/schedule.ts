/**
 * @module When a host's scheduled backups are: its cron expression read in its
 * time zone (croner), a random delay of up to its jitter, and the one run to
 * catch up after the daemon was down. Pure: every function takes the time it
 * plans from, so the planner is tested with real dates and no clock.
 */
import { Cron } from "croner";
import type { Schedule } from "../../inventory/operations";

/** A host's schedule, ready to plan with. */
export class HostSchedule {
  private readonly cron: Cron;

  constructor(readonly schedule: Schedule) {
    // paused and without a function: croner only computes times, it never starts a timer.
    this.cron = new Cron(schedule.cron, { paused: true, ...(schedule.timezone ? { timezone: schedule.timezone } : {}) });
  }

  /** The first scheduled time strictly after `after`, or undefined when the expression has no more. */
  next(after: Date): Date | undefined {
    return this.cron.nextRun(after) ?? undefined;
  }

  /** The newest scheduled time at or before `at`, or undefined when there was none. */
  previous(at: Date): Date | undefined {
    return this.cron.previousRuns(1, at)[0];
  }

  /** A delay in [0, jitterMs) to add to a scheduled time, from `random` (in [0, 1)). */
  jitter(random: () => number = Math.random): number {
    if (this.schedule.jitterMs <= 0) return 0;
    return Math.min(this.schedule.jitterMs - 1, Math.floor(random() * this.schedule.jitterMs));
  }
}

/**
 * The scheduled time that was missed while no daemon ran, if any: the newest
 * scheduled time at or before `now` when the host's newest backup started
 * before it (or never did). Only that one is caught up, however many were missed.
 */
export function missedRun(schedule: HostSchedule, now: Date, lastBackupStart: Date | undefined): Date | undefined {
  const previous = schedule.previous(now);
  if (!previous) return undefined;
  return lastBackupStart === undefined || previous.getTime() > lastBackupStart.getTime() ? previous : undefined;
}
