/**
 * @module The dashboard's reading of the ledger: the overview, a host, a
 * snapshot, the fleet's storage, each as a view of `views.ts`. What every
 * overview and `/metrics` request needs of all hosts is read once per change
 * of the ledger (by any process) and kept until the next one; ages are
 * computed per request from it.
 */
import type { HostConfig } from "../../inventory/schema";
import { countStatus, gatherFacts, hostStatus, warningPlugins, worstFirst, type HostFacts, type HostStatus } from "../fleet/status";
import { problemLines } from "../fleet/status-text";
import type { DayGrowth, InstanceSize, StoredTotals } from "../ledger/dashboard-ledger";
import type { Ledger } from "../ledger/ledger";
import { DEFAULT_GRACE_MS, planHost } from "../retention/prune";
import { shellQuote } from "../ssh/remote-shell";
import type { AlertView, HostSummary, HostView, InstanceView, OverviewView, RetentionView, RunView, SnapshotPageView, StorageView } from "./views";

/** What the ledger says of one host, read once per ledger change. */
interface HostReading {
  facts: HostFacts;
  storage: HostSummary["storage"];
  lastRunDurationMs: number | null;
  /** How each plugin instance of the last backup job ended, and how long it took. */
  lastRunInstances: Map<string, { status: "ok" | "failed"; durationMs: number }>;
  alerts: AlertView[];
  /** Each plugin instance's newest complete snapshot holding it, and its size there. */
  instances: Map<string, { snapshotId: string; finishedAt: string; size: InstanceSize }>;
}

/** One instance's figures for `/metrics`. */
export interface InstanceFigures {
  host: string;
  instance: string;
  plugin: string;
  lastSuccess: { snapshotId: string; finishedAt: string } | null;
  plainBytes: number | null;
  storedBytes: number | null;
  /** In the host's last backup job: how it ended and how long it took (null: not in it). */
  lastRun: { status: "ok" | "failed"; durationMs: number } | null;
  verificationAgeMs: number | null;
  /** No complete snapshot holds it within the host's maxAge. */
  stale: boolean;
}

/** A name safe on a pasted command line in any shell, and as a file name (what agents name artifacts). */
const PLAIN_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
/** The newest jobs a host page lists. */
const RECENT_JOBS = 20;
const DAY_MS = 86_400_000;

/** Each day's growth with its destination's running total. */
function withTotals(days: DayGrowth[]): StorageView["days"] {
  const totals = new Map<string, number>();
  return days.map((d) => {
    const total = (totals.get(d.destination) ?? 0) + d.storedBytes;
    totals.set(d.destination, total);
    return { ...d, totalStoredBytes: total };
  });
}

/** Reads the dashboard's views from a ledger, for the inventory's hosts. */
export class FleetView {
  private cache: { mark: string; readings: Map<string, HostReading> } | undefined;
  private storageCache: { mark: string; totals: StoredTotals[]; days: DayGrowth[] } | undefined;

  constructor(
    private readonly ledger: Ledger,
    private readonly hosts: HostConfig[],
    /** How command lines on the pages start, e.g. `controller --inventory /etc/lifeboat/fleet.yaml`. */
    private readonly commandPrefix = "controller",
  ) {}

  /** The inventory host `name`, or undefined. */
  hostConfig(name: string): HostConfig | undefined {
    return this.hosts.find((h) => h.name === name);
  }

  /** Every host's status, in inventory order: exactly `controller status --json`. */
  status(now: Date): { hosts: HostStatus[]; counts: ReturnType<typeof countStatus> } {
    const readings = this.readings();
    const statuses = this.hosts.map((h) => hostStatus(h, readings.get(h.name)!.facts, now));
    return { hosts: statuses, counts: countStatus(statuses) };
  }

  /** The overview: every host, worst first. */
  overview(now: Date): OverviewView {
    const hosts = this.summaries(now).sort(worstFirst);
    return {
      type: "hosts",
      time: now.toISOString(),
      hosts,
      counts: countStatus(hosts),
      totals: {
        storedBytes: hosts.reduce((n, h) => n + h.storage.storedBytes, 0),
        plainBytes: hosts.reduce((n, h) => n + h.storage.plainBytes, 0),
        openAlerts: hosts.reduce((n, h) => n + h.alerts.length, 0),
      },
    };
  }

  /** Per host and plugin instance, the figures `/metrics` exposes. */
  instanceFigures(now: Date): InstanceFigures[] {
    const readings = this.readings();
    return this.hosts.flatMap((h) => {
      const r = readings.get(h.name)!;
      return h.plugins.map((p) => {
        const last = r.instances.get(p.instance);
        const verified = r.facts.verified.get(p.instance);
        return {
          host: h.name,
          instance: p.instance,
          plugin: p.plugin,
          lastSuccess: last ? { snapshotId: last.snapshotId, finishedAt: last.finishedAt } : null,
          plainBytes: last ? last.size.plainBytes : null,
          storedBytes: last ? last.size.storedBytes : null,
          lastRun: r.lastRunInstances.get(p.instance) ?? null,
          verificationAgeMs: verified ? now.getTime() - Date.parse(verified.time) : null,
          stale: !last || now.getTime() - Date.parse(last.finishedAt) > h.operations.maxAgeMs,
        };
      });
    });
  }

  /** The overview's summaries, in inventory order (what `/metrics` labels by host). */
  summaries(now: Date): HostSummary[] {
    const readings = this.readings();
    const running = this.ledger.dashboard.runningByHost();
    return this.hosts.map((h) => this.summary(h, readings.get(h.name)!, now, running.get(h.name) ?? null));
  }

  /** The host page of `name`; undefined when the inventory has no such host. */
  host(name: string, now: Date): HostView | undefined {
    const config = this.hostConfig(name);
    if (!config) return undefined;
    const reading = this.readings().get(name)!;
    const snapshots = this.ledger.dashboard.snapshotRows(name);
    const instances: InstanceView[] = config.plugins.map((p) => {
      const last = reading.instances.get(p.instance);
      const verified = reading.facts.verified.get(p.instance);
      const artifacts = last ? (this.ledger.snapshot(name, last.snapshotId)?.artifacts ?? []).filter((a) => a.instance === p.instance) : [];
      return {
        instance: p.instance,
        plugin: p.plugin,
        lastSuccess: last ? { snapshotId: last.snapshotId, finishedAt: last.finishedAt } : null,
        plainBytes: last?.size.plainBytes ?? 0,
        storedBytes: last?.size.storedBytes ?? 0,
        lastRun: reading.lastRunInstances.get(p.instance) ?? null,
        verification: verified ? { ...verified, ageMs: now.getTime() - Date.parse(verified.time) } : null,
        artifacts,
      };
    });
    let total = 0;
    const history = snapshots
      .filter((s) => s.status === "complete")
      .reverse()
      .map((s) => ({ time: s.startedAt, snapshotId: s.id, storedBytes: s.storedBytes, totalStoredBytes: (total += s.storedBytes) }));
    return {
      type: "host",
      time: now.toISOString(),
      host: this.summary(config, reading, now, this.ledger.dashboard.running(name)),
      instances,
      snapshots,
      runs: this.ledger.dashboard.recentJobs(name, RECENT_JOBS).map((j) => this.runView(j)),
      retention: this.retention(config, now),
      history,
    };
  }

  /** The snapshot page; undefined when the ledger has no such snapshot of an inventory host. */
  snapshot(hostName: string, id: string, now: Date): SnapshotPageView | undefined {
    if (!this.hostConfig(hostName)) return undefined;
    const snapshot = this.ledger.snapshot(hostName, id);
    if (!snapshot) return undefined;
    const job = snapshot.artifacts.length > 0 || snapshot.status !== "incomplete" ? this.ledger.dashboard.backupJobOf(hostName, id) : null;
    const c = (...words: string[]) => `${this.commandPrefix} ${words.map(shellQuote).join(" ")}`;
    return {
      type: "snapshot",
      time: now.toISOString(),
      snapshot,
      job: job ? this.runView(job) : null,
      verifications: this.ledger.verifications(hostName, id),
      commands: {
        restorePlan: c("restore", "--from", hostName, "--snapshot", id, "--plan"),
        restore: c("restore", "--from", hostName, "--snapshot", id, "--yes"),
        verify: c("verify", "--host", hostName, "--snapshot", id),
        // Names come from the host: only plain ones go on a command line an operator pastes into a shell.
        fetch: snapshot.artifacts.flatMap((a) => {
          if (!PLAIN_NAME.test(a.instance) || !PLAIN_NAME.test(a.name)) return [];
          const artifact = `${a.instance}/${a.name}`;
          return [{ artifact, command: c("fetch", "--from", hostName, "--snapshot", id, "--artifact", artifact, "--out", `${a.instance}-${a.name}`) }];
        }),
      },
    };
  }

  /** The fleet's storage: per host and destination, growth per day, what dedup saved. */
  storage(now: Date): StorageView {
    const mark = this.ledger.dashboard.changeMark();
    if (this.storageCache?.mark !== mark) this.storageCache = { mark, totals: this.ledger.dashboard.storedTotals(), days: this.ledger.dashboard.growthByDay() };
    const inventory = new Set(this.hosts.map((h) => h.name));
    const hosts = this.storageCache.totals.filter((t) => inventory.has(t.host));
    const days = this.storageCache.days;
    const since = new Date(now.getTime() - 90 * DAY_MS).toISOString().slice(0, 10);
    const week = new Date(now.getTime() - 7 * DAY_MS).toISOString().slice(0, 10);
    const byDestination = new Map<string, StorageView["destinations"][number]>();
    for (const t of hosts) {
      const d = byDestination.get(t.destination) ?? { destination: t.destination, snapshots: 0, plainBytes: 0, storedBytes: 0, reusedBytes: 0, growthPerDayBytes: 0 };
      d.snapshots += t.snapshots;
      d.plainBytes += t.plainBytes;
      d.storedBytes += t.storedBytes;
      d.reusedBytes += t.reusedBytes;
      byDestination.set(t.destination, d);
    }
    for (const g of days) {
      const d = byDestination.get(g.destination);
      if (d && g.day > week) d.growthPerDayBytes += g.storedBytes / 7;
    }
    const sum = (k: keyof StoredTotals) => hosts.reduce((n, t) => n + (t[k] as number), 0);
    return {
      type: "storage",
      time: now.toISOString(),
      totals: { snapshots: sum("snapshots"), plainBytes: sum("plainBytes"), storedBytes: sum("storedBytes"), reusedBytes: sum("reusedBytes") },
      hosts: [...hosts].sort((a, b) => b.storedBytes - a.storedBytes || a.host.localeCompare(b.host)),
      destinations: [...byDestination.values()].map((d) => ({ ...d, growthPerDayBytes: Math.round(d.growthPerDayBytes) })),
      days: withTotals(days).filter((d) => d.day >= since),
    };
  }

  private summary(host: HostConfig, r: HostReading, now: Date, running: HostSummary["running"]): HostSummary {
    const status = hostStatus(host, r.facts, now);
    return {
      ...status,
      destination: host.destination,
      storage: r.storage,
      lastRunDurationMs: r.lastRunDurationMs,
      alerts: r.alerts,
      problems: problemLines(status),
      running,
    };
  }

  private runView(job: ReturnType<Ledger["dashboard"]["recentJobs"]>[number]): RunView {
    return { ...job, events: this.ledger.dashboard.jobEvents(job.runId, job.jobId), hooks: this.ledger.jobHooks(job.jobId) };
  }

  private retention(host: HostConfig, now: Date): RetentionView {
    const plan = planHost({ ledger: this.ledger }, host, DEFAULT_GRACE_MS, now);
    return {
      policy: plan.retention ?? null,
      keep: plan.snapshots.filter((s) => s.action === "keep").length,
      delete: plan.snapshots.filter((s) => s.action === "delete").length,
      snapshots: plan.snapshots.map((s) => ({ id: s.id, status: s.status, startedAt: s.startedAt, action: s.action, rules: s.rules })),
      notes: plan.notes,
    };
  }

  /** What every host needs, read again only when the ledger changed since the last reading. */
  private readings(): Map<string, HostReading> {
    const mark = this.ledger.dashboard.changeMark();
    if (this.cache?.mark === mark) return this.cache.readings;
    const warn = warningPlugins();
    const totals = new Map<string, HostSummary["storage"]>();
    for (const t of this.ledger.dashboard.storedTotals()) {
      const s = totals.get(t.host) ?? { snapshots: 0, plainBytes: 0, storedBytes: 0, reusedBytes: 0 };
      totals.set(t.host, { snapshots: s.snapshots + t.snapshots, plainBytes: s.plainBytes + t.plainBytes, storedBytes: s.storedBytes + t.storedBytes, reusedBytes: s.reusedBytes + t.reusedBytes });
    }
    const alerts = new Map<string, AlertView[]>();
    for (const a of this.ledger.dashboard.openAlerts()) {
      const { host, ...alert } = a;
      alerts.set(host, [...(alerts.get(host) ?? []), alert]);
    }
    const readings = new Map<string, HostReading>();
    for (const h of this.hosts) {
      const facts = gatherFacts(this.ledger, h.name, warn);
      readings.set(h.name, {
        facts,
        storage: totals.get(h.name) ?? { snapshots: 0, plainBytes: 0, storedBytes: 0, reusedBytes: 0 },
        lastRunDurationMs: facts.lastBackup ? (this.ledger.dashboard.job(facts.lastBackup.jobId)?.durationMs ?? null) : null,
        lastRunInstances: facts.lastBackup ? this.ledger.dashboard.jobInstances(facts.lastBackup.jobId) : new Map(),
        alerts: alerts.get(h.name) ?? [],
        instances: this.instanceReadings(h, facts),
      });
    }
    // The mark was taken before reading: a change another process made meanwhile is read next time.
    this.cache = { mark, readings };
    return readings;
  }

  /** Each plugin instance's newest complete snapshot holding it (usually the host's newest), with its size there. */
  private instanceReadings(host: HostConfig, facts: HostFacts): HostReading["instances"] {
    const found = new Map<string, { snapshotId: string; finishedAt: string; size: InstanceSize }>();
    const take = (snapshot: { id: string; finishedAt: string }) => {
      for (const size of this.ledger.dashboard.instanceSizes(host.name, snapshot.id)) {
        if (!found.has(size.instance)) found.set(size.instance, { snapshotId: snapshot.id, finishedAt: snapshot.finishedAt, size });
      }
    };
    if (facts.newestSnapshot) take(facts.newestSnapshot);
    for (const p of host.plugins) {
      if (found.has(p.instance)) continue;
      const older = this.ledger.operations.newestSnapshotHolding(host.name, [p.instance]);
      if (older) take(older);
    }
    return found;
  }
}
