/**
 * @module Verification rotation (`controller verify --due`, and the daemon): every
 * plugin instance of every host that backs something up gets a successful deep
 * verification at least every `verifyEvery`. What is due is a function of the
 * ledger and the inventory at a given time ({@link dueVerifications}); running
 * it ({@link runDueVerifications}) goes through the ordinary verify job.
 */
import { isLifeboatError, messageOf } from "../../core/errors";
import type { HostConfig } from "../../inventory/schema";
import type { ControllerContext } from "../context";
import { failedOutcome, type HostOutcome, type Reporter } from "../output/reporter";
import { forEachConcurrent } from "./pool";
import { DEEP, runVerify, verifySpec } from "./verify-run";

/** One host's due verification: which plugin instances, on which snapshot. */
export interface DueVerification {
  host: string;
  /** The due plugin instances that `snapshotId` holds, in inventory order. */
  instances: string[];
  /** The newest complete, undamaged snapshot holding them all (else the newest one, and `instances` are those it holds). */
  snapshotId: string;
  /** The oldest successful deep verification among the due instances; null when one was never verified (such hosts come first). */
  oldestVerified: string | null;
  /** Due instances no complete snapshot of this job holds (never backed up yet, or only in older snapshots): due again next time. */
  notInSnapshot: string[];
}

/** What {@link dueVerifications} considers. */
export interface DueOptions {
  /**
   * Also count as due what falls due within this long (ms, default 0): a rotation
   * that runs every D with `aheadMs` = D verifies each instance before its
   * verifyEvery runs out, so `controller status` never shows it UNVERIFIED.
   */
  aheadMs?: number;
  /** Only these hosts (default: every host of the inventory). */
  hosts?: string[];
}

/** The host's plugin instances whose last successful deep verification is older than verifyEvery at `now` (+ `aheadMs`), or missing. */
function dueInstances(ctx: Pick<ControllerContext, "ledger">, host: HostConfig, now: Date, aheadMs: number): { instances: string[]; oldest: string | null } {
  const verified = ctx.ledger.operations.verifiedInstances(host.name, DEEP);
  const deadline = now.getTime() + aheadMs - host.operations.verifyEveryMs;
  const instances = host.plugins.map((p) => p.instance).filter((i) => {
    const v = verified.get(i);
    return v === undefined || Date.parse(v.time) < deadline;
  });
  const times = instances.map((i) => verified.get(i)?.time ?? null);
  const oldest = times.includes(null) ? null : ((times as string[]).sort()[0] ?? null);
  return { instances, oldest };
}

/**
 * The verifications due at `now`: for every host with plugins (restore targets
 * have nothing to verify), the plugin instances without a successful deep
 * verification within its `verifyEvery`, on the newest complete undamaged
 * snapshot holding them; one entry per host, hosts whose oldest verification is
 * oldest first (never-verified first, then by name). A host with no complete
 * snapshot holding any due instance is left out: there is nothing to verify yet
 * (`controller status` shows it STALE). Reads the ledger only; contacts nothing.
 */
export function dueVerifications(ctx: Pick<ControllerContext, "inventory" | "ledger">, now: Date, options: DueOptions = {}): DueVerification[] {
  const due: DueVerification[] = [];
  for (const host of ctx.inventory.hosts.values()) {
    if (host.plugins.length === 0 || (options.hosts && !options.hosts.includes(host.name))) continue;
    const { instances, oldest } = dueInstances(ctx, host, now, options.aheadMs ?? 0);
    if (instances.length === 0) continue;
    const ops = ctx.ledger.operations;
    const snapshot = ops.newestSnapshotHolding(host.name, instances) ?? ops.newestGoodSnapshot(host.name);
    if (!snapshot) continue;
    const held = new Set(ops.snapshotInstances(host.name, snapshot.id));
    const covered = instances.filter((i) => held.has(i));
    if (covered.length === 0) continue;
    due.push({ host: host.name, instances: covered, snapshotId: snapshot.id, oldestVerified: oldest, notInSnapshot: instances.filter((i) => !held.has(i)) });
  }
  return due.sort((a, b) => (a.oldestVerified ?? "").localeCompare(b.oldestVerified ?? "") || a.host.localeCompare(b.host));
}

/** How {@link runDueVerifications} runs. */
export interface DueRunOptions extends DueOptions {
  /** What counts as now (default: when it is called). */
  now?: Date;
  /** At most this many hosts this time, oldest verification first (default: all due). */
  limit?: number;
  /** Hosts verified at once (default 4); each job runs on its own host. */
  concurrency?: number;
  acceptNewHostKey?: boolean;
  /** Record each job's restore times too (a drill: `controller status` shows them as RTO). */
  drill?: boolean;
  /**
   * Aborting starts no further job (the running ones finish: the verify job
   * itself does not take a signal yet); the hosts not started get no outcome.
   */
  signal?: AbortSignal;
  /** Told what is due (after `limit`) before the first job starts. */
  onDue?: (due: DueVerification[]) => void;
}

/**
 * Runs the due verifications: one verify job per host covering exactly its due
 * plugin instances, recorded as every verification is. One host's failure never
 * stops the others; a failed instance stays due. Never throws for a host's failure.
 * @returns what was due (after `limit`) and one outcome per host, in the order they finished.
 */
export async function runDueVerifications(ctx: ControllerContext, reporter: Reporter, options: DueRunOptions = {}): Promise<{ due: DueVerification[]; outcomes: HostOutcome[] }> {
  const all = dueVerifications(ctx, options.now ?? new Date(), options);
  const due = options.limit === undefined ? all : all.slice(0, options.limit);
  options.onDue?.(due);
  const outcomes: HostOutcome[] = [];
  await forEachConcurrent(due, options.concurrency ?? 4, async (entry) => {
    if (options.signal?.aborted) return;
    let outcome: HostOutcome;
    try {
      const spec = await verifySpec(ctx, { from: entry.host, snapshot: entry.snapshotId, plugins: entry.instances });
      // `--plugins` also matches plugin names; a rotation job covers exactly the due instances.
      const exact = { ...spec, artifacts: spec.artifacts.filter((a) => entry.instances.includes(a.instance)), plugins: spec.plugins.filter((p) => entry.instances.includes(p.instance)) };
      reporter.step(entry.host, `due: ${entry.instances.join(", ")} (${entry.oldestVerified ? `last verified ${entry.oldestVerified}` : "never verified"}) on snapshot ${entry.snapshotId}`);
      outcome = await runVerify(ctx, exact, options.acceptNewHostKey === true, reporter, { drill: options.drill === true });
    } catch (err) {
      outcome = failedOutcome(entry.host, "verify", { code: isLifeboatError(err) ? err.code : "INTERNAL", message: messageOf(err), ...(isLifeboatError(err) && err.hint ? { hint: err.hint } : {}) }, entry.snapshotId);
      reporter.hostDone(outcome);
    }
    outcomes.push(outcome);
  });
  return { due, outcomes };
}
