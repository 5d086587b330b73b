// The scheduler with simulated agents (a BackupRunner of the test's own) on the real clock,
// with second-resolution schedules and sub-second retries.
import { afterEach, describe, expect, it } from "vitest";
import { LifeboatError } from "../../core/errors";
import type { DaemonEvent } from "./log";
import { Scheduler, type BackupResult, type BackupRunner, type SchedulerOptions } from "./scheduler";

const EVERY_SECOND = { cron: "* * * * * *", jitterMs: 0 };
const NIGHTLY = { cron: "30 2 * * *", jitterMs: 0 };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Simulated agents: each backup takes `ms(host)` unless stopped; records what ran when. */
class SimulatedAgents implements BackupRunner {
  readonly starts: { host: string; at: number; trigger: string }[] = [];
  readonly running = new Map<string, number>();
  maxConcurrent = 0;
  maxPerHost = 0;

  constructor(
    private readonly ms: (host: string) => number,
    private readonly status: (host: string, n: number) => BackupResult["status"] = () => "ok",
  ) {}

  async backup(host: string, trigger: string, signal: AbortSignal): Promise<BackupResult> {
    this.starts.push({ host, at: Date.now(), trigger });
    this.running.set(host, (this.running.get(host) ?? 0) + 1);
    this.maxPerHost = Math.max(this.maxPerHost, this.running.get(host)!);
    this.maxConcurrent = Math.max(this.maxConcurrent, [...this.running.values()].reduce((a, b) => a + b, 0));
    const began = Date.now();
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(resolve, this.ms(host));
        signal.addEventListener("abort", () => {
          clearTimeout(timer);
          reject(signal.reason);
        }, { once: true });
      });
      const status = this.status(host, this.starts.filter((s) => s.host === host).length);
      return { status, durationMs: Date.now() - began, snapshotId: `snap-${host}-${this.starts.length}`, ...(status !== "ok" ? { error: { code: "SSH", message: `cannot reach ${host}` } } : {}) };
    } catch (err) {
      return { status: "failed", durationMs: Date.now() - began, error: { code: (err as LifeboatError).code, message: (err as Error).message } };
    } finally {
      this.running.set(host, this.running.get(host)! - 1);
    }
  }
}

let scheduler: Scheduler | undefined;
afterEach(async () => {
  await scheduler?.stop("test end", 0);
  scheduler = undefined;
});

function start(options: Omit<SchedulerOptions, "log" | "retry"> & Partial<Pick<SchedulerOptions, "retry">>): DaemonEvent[] {
  const events: DaemonEvent[] = [];
  scheduler = new Scheduler({ retry: { attempts: 1, firstDelayMs: 1000, factor: 2, maxDelayMs: 10_000 }, ...options, log: (e) => events.push(e) });
  scheduler.start();
  return events;
}

describe("the daemon's scheduler", () => {
  it("starts each host at its scheduled seconds, at most `concurrency` at once, never two backups of one host", async () => {
    const agents = new SimulatedAgents((host) => (host === "slow" ? 2500 : 1500));
    const hosts = ["a", "b", "c", "d", "slow"].map((name) => ({ name, schedule: EVERY_SECOND }));
    const events = start({ hosts, runner: agents, concurrency: 2, lastBackupStart: () => new Date() });
    await sleep(6000);
    expect(agents.maxConcurrent).toBe(2);
    expect(agents.maxPerHost).toBe(1);
    expect(agents.starts.length).toBeGreaterThanOrEqual(6);
    // A time that passes while the host still runs is skipped, not queued up.
    expect(events.some((e) => e.event === "skipped" && /still runs/.test(e.reason))).toBe(true);
  }, 15_000);

  it("keeps a hung host to one slot: the others run on time", async () => {
    const agents = new SimulatedAgents((host) => (host === "hung" ? 3_600_000 : 100));
    const events = start({ hosts: [{ name: "hung", schedule: EVERY_SECOND }, { name: "good", schedule: EVERY_SECOND }], runner: agents, concurrency: 2, lastBackupStart: () => new Date() });
    await sleep(5200);
    const good = agents.starts.filter((s) => s.host === "good");
    expect(good.length).toBeGreaterThanOrEqual(4);
    // Each start within 300 ms of its whole second.
    for (const s of good) expect(s.at % 1000).toBeLessThan(300);
    expect(agents.starts.filter((s) => s.host === "hung")).toHaveLength(1);
    const stopped = await scheduler!.stop("SIGTERM", 100);
    expect(stopped).toEqual(["hung"]);
    expect(events.filter((e) => e.event === "finished" && e.host === "hung")).toEqual([expect.objectContaining({ status: "failed", error: expect.objectContaining({ code: "INTERRUPTED" }) })]);
    // "good" runs 100 ms of every second: the stop may catch it running too (it then ends within the grace time).
    const stopping = events.filter((e) => e.event === "stopping");
    expect(stopping).toEqual([{ event: "stopping", signal: "SIGTERM", running: expect.arrayContaining(["hung"]), graceMs: 100 }]);
    expect((stopping[0] as { running: string[] }).running.filter((h) => h !== "hung" && h !== "good")).toEqual([]);
  }, 15_000);

  it("retries a failed backup with growing waits, a bounded number of times, and says when it failed for good", async () => {
    const agents = new SimulatedAgents(() => 10, () => "failed");
    const finals: boolean[] = [];
    const events = start({
      hosts: [{ name: "down", schedule: NIGHTLY }],
      runner: agents,
      concurrency: 1,
      retry: { attempts: 3, firstDelayMs: 300, factor: 2, maxDelayMs: 10_000 },
      steps: { finished: (_host, _result, final) => finals.push(final) },
      lastBackupStart: () => undefined, // never backed up: caught up at once
    });
    await sleep(2000);
    expect(agents.starts.map((s) => s.trigger)).toEqual(["daemon catch-up", "daemon retry", "daemon retry"]);
    const [first, second, third] = agents.starts.map((s) => s.at) as [number, number, number];
    expect(second - first).toBeGreaterThanOrEqual(300);
    expect(second - first).toBeLessThan(600);
    expect(third - second).toBeGreaterThanOrEqual(600);
    expect(third - second).toBeLessThan(900);
    expect(finals).toEqual([false, false, true]);
    expect(events.filter((e) => e.event === "retry").map((e) => (e as { attempt: number }).attempt)).toEqual([2, 3]);
  }, 10_000);

  it("catches up a run missed while no daemon ran exactly once, and none when a backup started since", async () => {
    const agents = new SimulatedAgents(() => 50);
    const events = start({
      hosts: [{ name: "missed", schedule: NIGHTLY }, { name: "fresh", schedule: NIGHTLY }],
      runner: agents,
      concurrency: 4,
      // Nightly: its previous time is within the last day, after a start two days ago, before one now.
      lastBackupStart: (host) => (host === "missed" ? new Date(Date.now() - 2 * 86_400_000) : new Date()),
    });
    await sleep(1500);
    expect(agents.starts.map((s) => [s.host, s.trigger])).toEqual([["missed", "daemon catch-up"]]);
    expect(events.filter((e) => e.event === "scheduled" && e.catchUp).map((e) => (e as { host: string }).host)).toEqual(["missed"]);
    // After the catch-up, its next run is the next scheduled time, a day away at most.
    const next = events.filter((e) => e.event === "scheduled" && e.host === "missed" && !e.catchUp).at(-1) as { at: string };
    expect(Date.parse(next.at) - Date.now()).toBeLessThanOrEqual(86_400_000);
    expect(Date.parse(next.at)).toBeGreaterThan(Date.now());
  }, 10_000);

  it("lets running backups finish within the grace period, then stops the rest; starts nothing new meanwhile", async () => {
    const agents = new SimulatedAgents((host) => (host === "quick" ? 400 : 60_000));
    start({ hosts: [{ name: "quick", schedule: NIGHTLY }, { name: "long", schedule: NIGHTLY }, { name: "waiting", schedule: NIGHTLY }], runner: agents, concurrency: 2, lastBackupStart: () => undefined });
    await sleep(100);
    const began = Date.now();
    const stopped = await scheduler!.stop("SIGTERM", 1000);
    expect(Date.now() - began).toBeGreaterThanOrEqual(950);
    expect(Date.now() - began).toBeLessThan(2000);
    expect(stopped).toEqual(["long"]);
    // "waiting" was due but had no slot; the stop started nothing.
    expect(agents.starts.map((s) => s.host).sort()).toEqual(["long", "quick"]);
  }, 10_000);

  it("runs retention after a host's good backup (the host stays busy) and the wave's step once no backup runs", async () => {
    const agents = new SimulatedAgents(() => 100);
    const order: string[] = [];
    start({
      hosts: [{ name: "a", schedule: NIGHTLY }, { name: "b", schedule: NIGHTLY }],
      runner: agents,
      concurrency: 2,
      lastBackupStart: () => undefined,
      steps: {
        afterHost: async (host) => {
          order.push(`prune ${host} busy=${scheduler!.busy(host)}`);
          await sleep(100);
        },
        afterWave: async () => {
          order.push(`verify running=${scheduler!.running().length}`);
        },
      },
    });
    await sleep(800);
    expect(order.sort()).toEqual(["prune a busy=true", "prune b busy=true", "verify running=0"]);
  }, 10_000);

  it("lets the wave's step claim the hosts it works on: their backups wait for it, the others' go on", async () => {
    const agents = new SimulatedAgents(() => 100);
    let steps = 0;
    let released = 0;
    start({
      hosts: [{ name: "verified", schedule: EVERY_SECOND }, { name: "other", schedule: EVERY_SECOND }],
      runner: agents,
      concurrency: 2,
      lastBackupStart: () => new Date(),
      steps: {
        afterWave: async (_signal, claim) => {
          if (steps++ > 0) return;
          claim(["verified"]);
          await sleep(3000);
          released = Date.now();
        },
      },
    });
    await sleep(5500);
    expect(released).toBeGreaterThan(0);
    const during = (host: string) => agents.starts.filter((s) => s.host === host && s.at > released - 3000 && s.at < released);
    expect(during("verified")).toEqual([]);
    expect(during("other").length).toBeGreaterThanOrEqual(2);
    // Released: it is backed up again.
    expect(agents.starts.some((s) => s.host === "verified" && s.at >= released)).toBe(true);
  }, 10_000);

  it("in one pass (--once-at), runs each host given once with its retries, then the wave's step, then is idle", async () => {
    const agents = new SimulatedAgents(() => 50, (host, n) => (host === "flaky" && n < 3 ? "failed" : "ok"));
    let verified = false;
    const events: DaemonEvent[] = [];
    scheduler = new Scheduler({
      hosts: [{ name: "flaky", schedule: NIGHTLY }, { name: "steady", schedule: NIGHTLY }],
      runner: agents,
      concurrency: 2,
      retry: { attempts: 3, firstDelayMs: 100, factor: 1, maxDelayMs: 100 },
      log: (e) => events.push(e),
      once: true,
      steps: { afterWave: async () => void (verified = true) },
    });
    scheduler.start();
    await scheduler.idle();
    expect(verified).toBe(true);
    expect(agents.starts.filter((s) => s.host === "flaky").map((s) => s.trigger)).toEqual(["daemon once-at", "daemon retry", "daemon retry"]);
    expect(agents.starts.filter((s) => s.host === "steady")).toHaveLength(1);
    const finished = (host: string) => events.filter((e) => e.event === "finished" && e.host === host).map((e) => (e as { status: string }).status);
    expect(finished("flaky")).toEqual(["failed", "failed", "ok"]);
    expect(finished("steady")).toEqual(["ok"]);
    expect(events.filter((e) => e.event === "scheduled" && !e.catchUp)).toEqual([]);
  }, 10_000);
});
