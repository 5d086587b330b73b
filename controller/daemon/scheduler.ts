/**
 * @module The daemon's scheduler: starts each host's backup at its scheduled
 * times (plus jitter), at most `concurrency` at once fleet-wide and never two
 * of one host, retries a failed one with bounded backoff, catches up a run
 * missed while no daemon ran (once), runs retention after a host's backup and
 * due verifications after a wave (beside the other hosts' backups, never on a
 * host whose backup runs), and stops within a grace period. It keeps
 * one entry per host and nothing per tick, so its memory stays flat however
 * long it runs. The work itself goes through small interfaces (a
 * {@link BackupRunner} and {@link SchedulerSteps}) so that tests and the bench
 * drive the same scheduler with simulated agents.
 */
import { LifeboatError, messageOf } from "../../core/errors";
import type { Schedule } from "../../inventory/operations";
import { formatDuration } from "../output/format";
import type { DaemonLog } from "./log";
import { retryDelayMs, type RetryPolicy } from "./retry";
import { HostSchedule, missedRun } from "./schedule";

/** How one backup attempt of a host ended. */
export interface BackupResult {
  status: "ok" | "partial" | "failed";
  durationMs: number;
  snapshotId?: string;
  storedBytes?: number;
  /** The first error, free of secrets. */
  error?: { code: string; message: string };
}

/** Runs one host's backup; the daemon's real one goes through `controller run`'s code path. */
export interface BackupRunner {
  /**
   * Backs up `host` once and resolves with how it ended; never rejects.
   * Aborting `signal` stops the job: it then ends failed (INTERRUPTED), its snapshot too.
   */
  backup(host: string, trigger: string, signal: AbortSignal): Promise<BackupResult>;
}

/** What the daemon does around backups; every step is optional and must not throw. */
export interface SchedulerSteps {
  /** An attempt of a host's backup started. */
  started?(host: string, attempt: number): void;
  /** An attempt ended; `final` when no retry follows before the host's next scheduled run. */
  finished?(host: string, result: BackupResult, final: boolean): void;
  /** After a backup that ended ok (retention); the host counts as busy until it resolves. Never rejects. */
  afterHost?(host: string, signal: AbortSignal): Promise<void>;
  /**
   * After a wave: no backup runs, none is due and no retry is pending (due
   * verifications). It calls `claim` with the hosts it works on before it
   * starts on them; their backups wait until it resolves, the others' do not.
   * One runs at a time. Never rejects.
   */
  afterWave?(signal: AbortSignal, claim: (hosts: string[]) => void): Promise<void>;
}

/** What a {@link Scheduler} works with. */
export interface SchedulerOptions {
  hosts: { name: string; schedule: Schedule }[];
  runner: BackupRunner;
  /** Backups running at once, fleet-wide (>= 1). */
  concurrency: number;
  retry: RetryPolicy;
  log: DaemonLog;
  steps?: SchedulerSteps;
  /** When the host's newest backup job started (the ledger's), to catch up a missed run. */
  lastBackupStart?(host: string): Date | undefined;
  /** The planner's clock, in ms (default Date.now). */
  now?: () => number;
  /** In [0, 1), for jitter (default Math.random). */
  random?: () => number;
  /**
   * One pass (`--once-at`): every host given runs now (with its retries), then
   * the wave's steps, then {@link Scheduler.idle} resolves; no further runs are planned.
   */
  once?: boolean;
}

interface HostState {
  name: string;
  schedule: HostSchedule;
  /** When its next scheduled run starts (scheduled time plus jitter), in ms; Infinity when none. */
  nextAt: number;
  /** That next run catches up one missed while no daemon ran. */
  catchUp: boolean;
  /** The next attempt of a failed backup, planned before `nextAt`. */
  retry?: { attempt: number; at: number };
  /** Its backup (and retention after it), while it runs. */
  running?: { attempt: number; stop: AbortController; done: Promise<void> };
}

/** The longest the scheduler sleeps between ticks (it re-plans from the clock each time). */
const MAX_SLEEP_MS = 60_000;

const iso = (ms: number) => new Date(ms).toISOString();

/** Starts hosts' backups on their schedules; see the module comment. */
export class Scheduler {
  private readonly hosts = new Map<string, HostState>();
  private readonly now: () => number;
  private readonly random: () => number;
  private timer: NodeJS.Timeout | undefined;
  private active = 0;
  /** `running` once a backup started since the last wave ended. */
  private wave: "idle" | "running" = "idle";
  /** The wave's step while it runs, and the hosts it claimed. */
  private maintenance: { stop: AbortController; done: Promise<void> } | undefined;
  private readonly claimed = new Set<string>();
  private stopping: { hurry(): void; done: Promise<void> } | undefined;
  private passDone: () => void = () => {};
  private readonly pass = new Promise<void>((resolve) => (this.passDone = resolve));

  constructor(private readonly options: SchedulerOptions) {
    if (!Number.isInteger(options.concurrency) || options.concurrency < 1) throw new LifeboatError("USAGE", `Cannot schedule backups with a concurrency of ${options.concurrency}: it must be a whole number >= 1`);
    this.now = options.now ?? Date.now;
    this.random = options.random ?? Math.random;
    for (const h of options.hosts) this.hosts.set(h.name, { name: h.name, schedule: new HostSchedule(h.schedule), nextAt: Infinity, catchUp: false });
  }

  /** Plans every host, catching up a missed run now (once), and starts. */
  start(): void {
    const now = this.now();
    for (const h of this.hosts.values()) {
      if (this.options.once || missedRun(h.schedule, new Date(now), this.options.lastBackupStart?.(h.name))) {
        h.nextAt = now + h.schedule.jitter(this.random);
        h.catchUp = true;
        this.options.log({ event: "scheduled", host: h.name, at: iso(h.nextAt), catchUp: true });
      } else {
        this.plan(h, now);
      }
    }
    this.tick();
  }

  /** With `once`: resolves when the pass is over (every host done, retries included, and the wave's steps). */
  idle(): Promise<void> {
    return this.pass;
  }

  /** Hosts whose backup (or the retention after it) runs now. */
  running(): string[] {
    return [...this.hosts.values()].filter((h) => h.running).map((h) => h.name);
  }

  /** True while `host`'s backup runs or is due and waiting for a free slot. */
  busy(host: string): boolean {
    const h = this.hosts.get(host);
    return h !== undefined && (h.running !== undefined || this.claimed.has(host) || this.dueAt(h) <= this.now());
  }

  /** How many hosts the scheduler keeps state for (one entry each, whatever the uptime). */
  get size(): number {
    return this.hosts.size;
  }

  /**
   * Starts what is due, up to the concurrency limit, and sets the timer for the
   * next due time. The timer and every job's end call it; so may a bench.
   */
  tick(): void {
    if (this.stopping) return;
    const now = this.now();
    for (const h of this.hosts.values()) {
      if (h.running && h.nextAt <= now) {
        this.options.log({ event: "skipped", host: h.name, reason: `its backup scheduled for ${iso(h.nextAt)} does not start: the previous one still runs` });
        this.plan(h, now);
      }
    }
    const due = [...this.hosts.values()].filter((h) => !h.running && !this.claimed.has(h.name) && this.dueAt(h) <= now).sort((a, b) => this.dueAt(a) - this.dueAt(b));
    for (const h of due) {
      if (this.active >= this.options.concurrency) break;
      this.launch(h, now);
    }
    // A wave ends when no backup runs and no retry is pending (retries belong to their wave).
    if (this.active === 0 && this.wave === "running" && ![...this.hosts.values()].some((h) => h.retry)) this.endWave();
    this.arm(now);
  }

  /**
   * Stops: no new backups; running ones get `graceMs` to finish, then are
   * stopped (they end failed) and awaited. Calling it again ends the grace at once.
   * Logs `stopping`; the caller logs `stopped` once it has finished its own work (alerts in flight).
   * @returns the hosts whose jobs were stopped
   */
  async stop(signal: string, graceMs: number): Promise<string[]> {
    if (this.stopping) {
      this.stopping.hurry();
      await this.stopping.done;
      return [];
    }
    clearTimeout(this.timer);
    const running = [...this.hosts.values()].filter((h) => h.running);
    this.options.log({ event: "stopping", signal, running: running.map((h) => h.name), graceMs });
    let hurry = () => {};
    const graceOver = new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, graceMs);
      hurry = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    const all = Promise.all([...running.map((h) => h.running!.done), this.maintenance?.done]);
    this.stopping = { hurry: () => hurry(), done: all.then(() => {}) };
    await Promise.race([all, graceOver]);
    hurry();
    const stopped: string[] = [];
    const reason = (what: string) =>
      new LifeboatError("INTERRUPTED", `The ${what} was stopped: the daemon is shutting down and its grace period (${formatDuration(graceMs)}) ended`, { hint: "it runs again at its next scheduled time; nothing it left counts as a backup" });
    for (const h of running) {
      if (!h.running) continue;
      stopped.push(h.name);
      h.running.stop.abort(reason(`backup of "${h.name}"`));
    }
    this.maintenance?.stop.abort(reason("verification of due snapshots"));
    await all;
    return stopped;
  }

  /** Stops planning (after a `once` pass): clears the timer; nothing runs then. */
  dispose(): void {
    clearTimeout(this.timer);
    this.stopping ??= { hurry: () => {}, done: Promise.resolve() };
  }

  private dueAt(h: HostState): number {
    return h.retry ? Math.min(h.retry.at, h.nextAt) : h.nextAt;
  }

  /** Sets `h`'s next scheduled run after `from` (scheduled time plus jitter), and logs it. */
  private plan(h: HostState, from: number): void {
    h.catchUp = false;
    if (this.options.once) {
      h.nextAt = Infinity;
      return;
    }
    const next = h.schedule.next(new Date(from));
    h.nextAt = next ? next.getTime() + h.schedule.jitter(this.random) : Infinity;
    if (next) this.options.log({ event: "scheduled", host: h.name, at: iso(h.nextAt) });
    else this.options.log({ event: "skipped", host: h.name, reason: `its schedule "${h.schedule.schedule.cron}" has no more run times` });
  }

  private launch(h: HostState, now: number): void {
    let attempt = 1;
    let trigger: string;
    if (h.nextAt <= now) {
      // A scheduled run supersedes a pending retry; runs missed while waiting for a slot are one run.
      trigger = this.options.once ? "daemon once-at" : h.catchUp ? "daemon catch-up" : "daemon schedule";
      h.retry = undefined;
      this.plan(h, now);
    } else {
      attempt = h.retry!.attempt;
      trigger = "daemon retry";
      h.retry = undefined;
    }
    const stop = new AbortController();
    this.wave = "running";
    this.active++;
    this.options.log({ event: "started", host: h.name, attempt, attempts: this.options.retry.attempts, trigger });
    this.options.steps?.started?.(h.name, attempt);
    const done = this.attempt(h, attempt, trigger, stop)
      .catch((err: unknown) => this.options.log({ event: "skipped", host: h.name, reason: `a step after its backup failed: ${messageOf(err)}` }))
      .finally(() => {
        h.running = undefined;
        this.active--;
        this.tick();
      });
    h.running = { attempt, stop, done };
  }

  private async attempt(h: HostState, attempt: number, trigger: string, stop: AbortController): Promise<void> {
    let result: BackupResult;
    try {
      result = await this.options.runner.backup(h.name, trigger, stop.signal);
    } catch (err) {
      result = { status: "failed", durationMs: 0, error: { code: "INTERNAL", message: messageOf(err) } };
    }
    this.options.log({
      event: "finished",
      host: h.name,
      status: result.status,
      attempt,
      durationMs: result.durationMs,
      ...(result.snapshotId ? { snapshot: result.snapshotId } : {}),
      ...(result.storedBytes ? { storedBytes: result.storedBytes } : {}),
      ...(result.error ? { error: result.error } : {}),
    });
    let final = true;
    if (result.status !== "ok" && !this.stopping) {
      const delay = retryDelayMs(attempt, this.options.retry);
      if (delay !== undefined) {
        const at = this.now() + delay;
        if (at < h.nextAt) {
          h.retry = { attempt: attempt + 1, at };
          this.options.log({ event: "retry", host: h.name, attempt: attempt + 1, at: iso(at), delayMs: delay });
          final = false;
        } else {
          this.options.log({ event: "skipped", host: h.name, reason: `no retry: its next scheduled backup at ${iso(h.nextAt)} comes first` });
        }
      }
    }
    this.options.steps?.finished?.(h.name, result, final);
    if (result.status === "ok" && !this.stopping && this.options.steps?.afterHost) await this.options.steps.afterHost(h.name, stop.signal);
  }

  private endWave(): void {
    this.wave = "idle";
    const afterWave = this.options.steps?.afterWave;
    if (!afterWave) {
      if (this.options.once) this.passDone();
      return;
    }
    // One at a time: a wave that ends while the last one's step still runs has its due work taken by the next.
    if (this.maintenance) return;
    const stop = new AbortController();
    const claim = (hosts: string[]) => {
      for (const host of hosts) if (this.hosts.has(host)) this.claimed.add(host);
    };
    const done = afterWave(stop.signal, claim)
      .catch((err: unknown) => this.options.log({ event: "verify", status: "failed", message: messageOf(err) }))
      .finally(() => {
        this.maintenance = undefined;
        this.claimed.clear();
        if (this.options.once) this.passDone();
        this.tick();
      });
    this.maintenance = { stop, done };
  }

  /** Sleeps until the next due time (at most {@link MAX_SLEEP_MS}); hosts due but waiting for a slot start when a job ends. */
  private arm(now: number): void {
    clearTimeout(this.timer);
    let next = now + MAX_SLEEP_MS;
    for (const h of this.hosts.values()) {
      const at = h.running ? h.nextAt : this.dueAt(h);
      if (at > now && at < next) next = at;
    }
    this.timer = setTimeout(() => this.tick(), next - now);
  }
}
