/**
 * @module The dashboard's reading of the ledger: the overview, a host, a
 * snapshot, the fleet's storage, each as a view of `views.ts`. What every
 * overview and `/metrics` request needs of all hosts is read once per change
 * of the ledger (by any process) and kept until the next one; ages are
 * computed per request from it.
 */
import type { ArtifactRecord } from "../../core/records";
import type { HostConfig } from "../../inventory/schema";
import { countStatus, gatherFacts, hostStatus, warningPlugins, worstFirst, type HostFacts, type HostStatus } from "../fleet/status";
import { problemLines } from "../fleet/status-text";
import type { DayGrowth, InstanceSize, StoredTotals } from "../ledger/dashboard-ledger";
import type { Ledger } from "../ledger/ledger";
import { DEFAULT_GRACE_MS, planHost } from "../retention/prune";
import { shellQuote } from "../ssh/remote-shell";
import type { AlertView, HostSummary, HostView, InstanceState, InstanceView, OverviewView, RetentionView, RunView, SnapshotPageView, StorageView } from "./views";

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

/** One plugin instance's state for `/metrics`: the host page's, with its host. */
export type InstanceFigures = InstanceState & { host: string };

/** A name safe on a pasted command line in any shell, and as a file name (what agents name artifacts). */
const PLAIN_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
/** The newest jobs a host page lists. */
const RECENT_JOBS = 20;
const DAY_MS = 86_400_000;

/** Snapshots and bytes, summed. */
type Totals = Omit<StoredTotals, "host" | "destination">;
const NO_TOTALS: Totals = { snapshots: 0, plainBytes: 0, storedBytes: 0, reusedBytes: 0 };

/** `rows` summed per `key` (a host, a destination, or one key for all). */
function sumTotals(rows: StoredTotals[], key: (t: StoredTotals) => string): Map<string, Totals> {
  const sums = new Map<string, Totals>();
  for (const t of rows) {
    const s = sums.get(key(t)) ?? NO_TOTALS;
    sums.set(key(t), { snapshots: s.snapshots + t.snapshots, plainBytes: s.plainBytes + t.plainBytes, storedBytes: s.storedBytes + t.storedBytes, reusedBytes: s.reusedBytes + t.reusedBytes });
  }
  return sums;
}

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
  /** What was read since the ledger's last change (`mark`); each part read when first asked for. */
  private cache: { mark: string; totals?: StoredTotals[]; days?: DayGrowth[]; readings?: Map<string, HostReading> } = { mark: "" };

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
    return this.hosts.flatMap((h) => h.plugins.map((p) => ({ host: h.name, ...this.instanceState(h, readings.get(h.name)!, p, now) })));
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
    // The instances' newest snapshots, each read once (usually one for all of them).
    const artifactsOf = new Map<string, ArtifactRecord[]>();
    const instances: InstanceView[] = config.plugins.map((p) => {
      const state = this.instanceState(config, reading, p, now);
      const id = state.lastSuccess?.snapshotId;
      if (id && !artifactsOf.has(id)) artifactsOf.set(id, this.ledger.snapshot(name, id)?.artifacts ?? []);
      return { ...state, artifacts: id ? artifactsOf.get(id)!.filter((a) => a.instance === p.instance) : [] };
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
    const job = this.ledger.dashboard.backupJobOf(hostName, id);
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
    const cache = this.current();
    const days = (cache.days ??= this.ledger.dashboard.growthByDay());
    const inventory = new Set(this.hosts.map((h) => h.name));
    const hosts = (cache.totals ??= this.ledger.dashboard.storedTotals()).filter((t) => inventory.has(t.host));
    const since = new Date(now.getTime() - 90 * DAY_MS).toISOString().slice(0, 10);
    const week = new Date(now.getTime() - 7 * DAY_MS).toISOString().slice(0, 10);
    const growth = new Map<string, number>();
    for (const g of days) if (g.day > week) growth.set(g.destination, (growth.get(g.destination) ?? 0) + g.storedBytes / 7);
    return {
      type: "storage",
      time: now.toISOString(),
      totals: sumTotals(hosts, () => "").get("") ?? { ...NO_TOTALS },
      hosts: [...hosts].sort((a, b) => b.storedBytes - a.storedBytes || a.host.localeCompare(b.host)),
      destinations: [...sumTotals(hosts, (t) => t.destination)].map(([destination, t]) => ({ destination, ...t, growthPerDayBytes: Math.round(growth.get(destination) ?? 0) })),
      days: withTotals(days).filter((d) => d.day >= since),
    };
  }

  /** A plugin instance's newest snapshot, size there, part in the last backup and deep verification. */
  private instanceState(host: HostConfig, r: HostReading, p: HostConfig["plugins"][number], now: Date): InstanceState {
    const last = r.instances.get(p.instance);
    const verified = r.facts.verified.get(p.instance);
    return {
      instance: p.instance,
      plugin: p.plugin,
      lastSuccess: last ? { snapshotId: last.snapshotId, finishedAt: last.finishedAt } : null,
      plainBytes: last?.size.plainBytes ?? 0,
      storedBytes: last?.size.storedBytes ?? 0,
      lastRun: r.lastRunInstances.get(p.instance) ?? null,
      verification: verified ? { ...verified, ageMs: now.getTime() - Date.parse(verified.time) } : null,
      stale: !last || now.getTime() - Date.parse(last.finishedAt) > host.operations.maxAgeMs,
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

  /**
   * What was read since the ledger last changed, by this process or another:
   * emptied when it changes. The mark is taken before reading, so a change made
   * meanwhile is read next time.
   */
  private current(): FleetView["cache"] {
    const mark = this.ledger.dashboard.changeMark();
    if (this.cache.mark !== mark) this.cache = { mark };
    return this.cache;
  }

  /** What every host needs. */
  private readings(): Map<string, HostReading> {
    const cache = this.current();
    if (cache.readings) return cache.readings;
    const warn = warningPlugins();
    const totals = sumTotals((cache.totals ??= this.ledger.dashboard.storedTotals()), (t) => t.host);
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
        storage: totals.get(h.name) ?? { ...NO_TOTALS },
        lastRunDurationMs: facts.lastBackup ? (this.ledger.dashboard.job(facts.lastBackup.jobId)?.durationMs ?? null) : null,
        lastRunInstances: facts.lastBackup ? this.ledger.dashboard.jobInstances(facts.lastBackup.jobId) : new Map(),
        alerts: alerts.get(h.name) ?? [],
        instances: this.instanceReadings(h, facts),
      });
    }
    cache.readings = readings;
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
