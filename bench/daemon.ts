// `npm run bench:daemon` (also run at the end of `npm run bench:fleet`): the daemon's scheduler
// over 10,000 ticks with simulated agents, reporting the heap before and after.
//
// 200 hosts (BENCH_DAEMON_HOSTS) scheduled every 10 seconds ("*/10 * * * * *") with up to 500 ms of
// jitter, 8 at a time, 3 attempts. The agents are a BackupRunner of this file's own, injected
// where the daemon injects the real one: each backup ends on the next turn of the event loop,
// one in ten fails (so retries and skipped runs happen too). The planner's clock is a number this
// file advances by one second per tick; everything else (timers, promises) is real. The heap is
// measured after a full GC, once after 1,000 warm-up ticks and every 2,000 ticks after that: a
// scheduler that kept anything per tick or per run would grow with them.
import * as v8 from "node:v8";
import * as vm from "node:vm";
import type { DaemonEvent } from "../controller/daemon/log";
import { Scheduler, type BackupResult, type BackupRunner } from "../controller/daemon/scheduler";

const HOSTS = Number(process.env.BENCH_DAEMON_HOSTS ?? 200);
const TICKS = Number(process.env.BENCH_DAEMON_TICKS ?? 10_000);
const WARMUP = 1_000;

v8.setFlagsFromString("--expose-gc");
const gc = (globalThis as { gc?: () => void }).gc ?? (vm.runInNewContext("gc") as () => void);

const heapMiB = () => {
  gc();
  gc();
  return process.memoryUsage().heapUsed / 1048576;
};

/** Simulated agents: a backup ends on the next turn of the event loop; one in ten fails. */
class SimulatedAgents implements BackupRunner {
  backups = 0;
  failures = 0;

  backup(host: string, _trigger: string, signal: AbortSignal): Promise<BackupResult> {
    this.backups++;
    const n = this.backups;
    return new Promise((resolve) =>
      setImmediate(() => {
        if (signal.aborted || n % 10 === 0) {
          this.failures++;
          resolve({ status: "failed", durationMs: 1, error: { code: "SSH", message: `Cannot connect to "${host}": simulated` } });
        } else {
          resolve({ status: "ok", durationMs: 1, snapshotId: `snap-${n}`, storedBytes: 1024 });
        }
      }),
    );
  }
}

/** Lets the simulated backups that started end, and the scheduler react. */
async function settle(): Promise<void> {
  for (let i = 0; i < 4; i++) await new Promise((r) => setImmediate(r));
}

/** Runs the scheduler for `ticks` ticks and prints the heap figures; returns them (MiB). */
export async function benchDaemonTicks(ticks = TICKS, hosts = HOSTS): Promise<{ before: number; after: number }> {
  let now = Date.parse("2026-01-01T00:00:00Z");
  const agents = new SimulatedAgents();
  const counts = new Map<DaemonEvent["event"], number>();
  let hostSteps = 0;
  const scheduler = new Scheduler({
    hosts: Array.from({ length: hosts }, (_, i) => ({ name: `host-${String(i).padStart(3, "0")}`, schedule: { cron: "*/10 * * * * *", timezone: "UTC", jitterMs: 500 } })),
    runner: agents,
    concurrency: 8,
    retry: { attempts: 3, firstDelayMs: 1500, factor: 2, maxDelayMs: 10_000 },
    // Counted, not kept: the daemon writes each line out as it happens.
    log: (e) => counts.set(e.event, (counts.get(e.event) ?? 0) + 1),
    steps: {
      afterHost: async () => void hostSteps++,
      afterWave: async () => {},
    },
    lastBackupStart: () => new Date(now),
    now: () => now,
  });
  scheduler.start();
  let before = 0;
  const began = Date.now();
  const samples: string[] = [];
  for (let tick = 1; tick <= WARMUP + ticks; tick++) {
    now += 1000;
    scheduler.tick();
    await settle();
    if (tick === WARMUP) before = heapMiB();
    if (tick > WARMUP && (tick - WARMUP) % 2000 === 0) samples.push(`${tick - WARMUP}: ${heapMiB().toFixed(2)}`);
  }
  const after = heapMiB();
  const seconds = (Date.now() - began) / 1000;
  await scheduler.stop("bench end", 0);
  console.log(
    `daemon scheduler: ${ticks} ticks (+${WARMUP} warm-up) over ${hosts} hosts in ${seconds.toFixed(1)} s: ${agents.backups} simulated backups (${agents.failures} failed), ${counts.get("retry") ?? 0} retries, ${counts.get("skipped") ?? 0} runs skipped, ${hostSteps} retention steps`,
  );
  console.log(`daemon scheduler heap (MiB, after GC): ${before.toFixed(2)} after warm-up, ${after.toFixed(2)} after ${ticks} ticks (${after - before >= 0 ? "+" : ""}${(after - before).toFixed(2)}); samples at ticks ${samples.join(", ")}; state entries: ${scheduler.size}`);
  return { before, after };
}

if (import.meta.url === `file://${process.argv[1]}`) await benchDaemonTicks();
