/**
 * @module The fleet's state, host by host, as `controller status` shows it:
 * computed by pure functions from what the ledger knows of each host
 * ({@link HostFacts}, gathered by {@link gatherFacts} with a few indexed
 * queries per host) and the inventory's targets (`maxAge`, `verifyEvery`).
 */
import type { HostConfig } from "../../inventory/schema";
import { getPlugin, operatorWarnings, pluginNames } from "../../plugins/registry";
import type { Ledger } from "../ledger/ledger";
import type { BackupJobFact, GoodSnapshotFact, InstanceVerificationFact, RestoreTimeFact } from "../ledger/operations-ledger";
import type { ArtifactRecord } from "../../core/records";
import { DEEP } from "../jobs/verify-run";

/**
 * A problem a host can have, worst first: `STALE` (no recovery point within
 * maxAge: data is already at risk), `FAILED` (the last backup failed: it will
 * be stale at the deadline), `UNVERIFIED` (some plugin instance has no
 * successful deep verification within verifyEvery: backups may not restore),
 * `CERT` (a certificate in the newest snapshot is about to expire: the service
 * will break, the backups are fine).
 */
export const PROBLEMS = ["STALE", "FAILED", "UNVERIFIED", "CERT"] as const;
export type Problem = (typeof PROBLEMS)[number];

/** A host's states: its problems worst first, or `fresh`, or `restore-target` (no plugins: nothing to back up, never a problem). */
export type HostState = Problem | "fresh" | "restore-target";

/** What the ledger knows of one host, as status needs it. */
export interface HostFacts {
  newestSnapshot: GoodSnapshotFact | null;
  lastBackup: BackupJobFact | null;
  /** Each plugin instance's newest successful deep verification. */
  verified: Map<string, InstanceVerificationFact>;
  restore: RestoreTimeFact | null;
  /** The newest snapshot's artifacts of plugins that warn operators (certificates). */
  warnArtifacts: ArtifactRecord[];
  /** Failed snapshots whose objects are still stored. */
  debris: number;
}

/** One host's status; the element of `hosts` in `controller status --json`. */
export interface HostStatus {
  host: string;
  /** Problems worst first (see {@link PROBLEMS}); `["fresh"]` or `["restore-target"]` when there are none. */
  states: HostState[];
  /** No problem: fresh, or a restore target. */
  ok: boolean;
  /** The host's plugin instances. */
  plugins: string[];
  maxAgeMs: number;
  verifyEveryMs: number;
  /** The newest complete, undamaged snapshot. */
  snapshot: { id: string; finishedAt: string; ageMs: number } | null;
  /** The last finished backup job. */
  lastRun: { status: "ok" | "partial" | "failed"; finishedAt: string; ageMs: number; runId: string; jobId: string; error: { code: string; message: string } | null } | null;
  verification: {
    /** The newest successful deep verification of any plugin instance. */
    lastOk: { time: string; snapshotId: string; ageMs: number } | null;
    /** Each plugin instance's newest successful deep verification (null: never). */
    instances: Record<string, { time: string; snapshotId: string; ageMs: number } | null>;
    /** The plugin instances without one within verifyEvery. */
    unverified: string[];
  };
  /** The newest measured restore (RTO): a drill or a real restore. */
  rto: (RestoreTimeFact & { ageMs: number }) | null;
  /** Warnings about the newest snapshot's contents, e.g. `[le] certificate "x" expires 2026-12-01 (in 5 days)`. */
  certificates: string[];
  /** Failed snapshots whose objects are still stored (prune removes them). */
  debris: number;
}

/** Tallies over the hosts shown; `counts` in `controller status --json`. */
export interface StatusCounts {
  hosts: number;
  /** Fresh hosts plus restore targets. */
  ok: number;
  /** Hosts with at least one problem. */
  problems: number;
  fresh: number;
  restoreTargets: number;
  stale: number;
  failed: number;
  unverified: number;
  cert: number;
}

/** The plugins whose artifacts can warn an operator (certificates about to expire). */
export function warningPlugins(): string[] {
  return pluginNames().filter((name) => getPlugin(name).operatorWarnings !== undefined);
}

/** Reads what status needs about `host` from the ledger: a few indexed queries, whatever the number of snapshots. */
export function gatherFacts(ledger: Ledger, host: string, warnPlugins: string[] = warningPlugins()): HostFacts {
  const ops = ledger.operations;
  const newestSnapshot = ops.newestGoodSnapshot(host);
  return {
    newestSnapshot,
    lastBackup: ops.lastBackupJob(host),
    verified: ops.verifiedInstances(host, DEEP),
    restore: ops.newestRestoreTime(host),
    warnArtifacts: newestSnapshot ? ops.artifactsOf(host, newestSnapshot.id, warnPlugins) : [],
    debris: ops.debrisCount(host),
  };
}

const age = (iso: string, now: Date) => now.getTime() - Date.parse(iso);

/** The status of one host at `now`. Pure: everything comes from `host` and `facts`. */
export function hostStatus(host: HostConfig, facts: HostFacts, now: Date): HostStatus {
  const { maxAgeMs, verifyEveryMs } = host.operations;
  const plugins = host.plugins.map((p) => p.instance);
  const instances = Object.fromEntries(plugins.map((i) => {
    const v = facts.verified.get(i);
    return [i, v ? { ...v, ageMs: age(v.time, now) } : null];
  }));
  const unverified = plugins.filter((i) => instances[i] === null || instances[i]!.ageMs > verifyEveryMs);
  const newestOk = [...facts.verified].filter(([i]) => plugins.includes(i)).map(([, v]) => v).sort((a, b) => b.time.localeCompare(a.time))[0];
  const snapshot = facts.newestSnapshot ? { ...facts.newestSnapshot, ageMs: age(facts.newestSnapshot.finishedAt, now) } : null;
  const lastRun = facts.lastBackup ? { ...facts.lastBackup, ageMs: age(facts.lastBackup.finishedAt, now) } : null;
  const certificates = operatorWarnings(facts.warnArtifacts, now);
  const target = plugins.length === 0;
  const problems: Problem[] = target
    ? []
    : PROBLEMS.filter((p) => {
        switch (p) {
          case "STALE":
            return snapshot === null || snapshot.ageMs > maxAgeMs;
          case "FAILED":
            return lastRun !== null && lastRun.status !== "ok";
          case "UNVERIFIED":
            return unverified.length > 0;
          case "CERT":
            return certificates.length > 0;
        }
      });
  return {
    host: host.name,
    states: problems.length > 0 ? problems : [target ? "restore-target" : "fresh"],
    ok: problems.length === 0,
    plugins,
    maxAgeMs,
    verifyEveryMs,
    snapshot,
    lastRun,
    verification: { lastOk: newestOk ? { ...newestOk, ageMs: age(newestOk.time, now) } : null, instances, unverified: target ? [] : unverified },
    rto: facts.restore ? { ...facts.restore, ageMs: age(facts.restore.time, now) } : null,
    certificates: target ? [] : certificates,
    debris: facts.debris,
  };
}

/** Tallies `statuses`. */
export function countStatus(statuses: HostStatus[]): StatusCounts {
  const has = (s: HostStatus, state: HostState) => s.states.includes(state);
  return {
    hosts: statuses.length,
    ok: statuses.filter((s) => s.ok).length,
    problems: statuses.filter((s) => !s.ok).length,
    fresh: statuses.filter((s) => has(s, "fresh")).length,
    restoreTargets: statuses.filter((s) => has(s, "restore-target")).length,
    stale: statuses.filter((s) => has(s, "STALE")).length,
    failed: statuses.filter((s) => has(s, "FAILED")).length,
    unverified: statuses.filter((s) => has(s, "UNVERIFIED")).length,
    cert: statuses.filter((s) => has(s, "CERT")).length,
  };
}

/** The status of `hosts` at `now`, in inventory order, with counts. */
export function fleetStatus(ledger: Ledger, hosts: HostConfig[], now: Date): { hosts: HostStatus[]; counts: StatusCounts } {
  const warnPlugins = warningPlugins();
  const statuses = hosts.map((h) => hostStatus(h, gatherFacts(ledger, h.name, warnPlugins), now));
  return { hosts: statuses, counts: countStatus(statuses) };
}

/** Where a state sorts: problems in {@link PROBLEMS} order, then fresh hosts, then restore targets. */
const STATE_RANK: Record<HostState, number> = { STALE: 0, FAILED: 1, UNVERIFIED: 2, CERT: 3, fresh: 4, "restore-target": 5 };

/**
 * Orders statuses worst first (the dashboard's overview): by the worst state,
 * then more problems first, then the older newest snapshot first (none is
 * oldest), then by name.
 */
export function worstFirst(a: HostStatus, b: HostStatus): number {
  return (
    STATE_RANK[a.states[0]!] - STATE_RANK[b.states[0]!] ||
    b.states.length - a.states.length ||
    (b.snapshot?.ageMs ?? Infinity) - (a.snapshot?.ageMs ?? Infinity) ||
    a.host.localeCompare(b.host)
  );
}
