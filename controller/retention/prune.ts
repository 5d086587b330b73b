/**
 * @module `controller prune`: what retention deletes, host by host, and the
 * deletion itself, done by the controller with its own credentials (a host can
 * neither delete its own history nor another host's).
 *
 * For each selected host with a retention policy: the plan of its complete
 * snapshots (`plan.ts`), the debris (failed or unfinished snapshots older than
 * the grace period, never one a running job writes), and the deletions an
 * earlier prune began and did not finish. A snapshot is deleted objects first
 * (everything listed under `<host>/<snapshot>/` plus what the ledger names),
 * then its rows, with one `deletions` row per object. Before its first object
 * goes it is marked in the ledger (damaged, rule and run recorded): a prune
 * that stops half way leaves it marked, and the next one finishes it —
 * deleting an object that is already gone is fine. Then the blob area's
 * garbage (`blob-gc.ts`).
 */
import { isLifeboatError, messageOf, redact } from "../../core/errors";
import type { Destination } from "../../core/storage/destination";
import { openDestination } from "../../core/storage/destinations/registry";
import type { RetentionPolicy } from "../../inventory/operations";
import type { HostConfig } from "../../inventory/schema";
import { currentPlatform } from "../../platform/current";
import type { ControllerContext } from "../context";
import { pruneOnHost } from "./host-prune";
import type { PruneSnapshot } from "../ledger/retention-ledger";
import { collectBlobs, type BlobAction } from "./blob-gc";
import { planRetention } from "./plan";

/** The rule under which failed and unfinished snapshots older than the grace period are deleted. */
export const DEBRIS = "debris";
/** Why a host without a policy is left alone. */
export const NO_RETENTION = "keeps everything: no retention";
/** The default grace period for debris and unreferenced blobs. */
export const DEFAULT_GRACE_MS = 24 * 3_600_000;

/** Options of a prune. */
export interface PruneOptions {
  /** Plan only: nothing is deleted and nothing recorded. */
  dryRun: boolean;
  /** Debris and unreferenced blobs younger than this are left alone. */
  graceMs: number;
  /** What started it (e.g. `cli`), for the run's record. */
  trigger: string;
  now?: Date;
}

/** One snapshot of a host in a prune. */
export interface SnapshotAction {
  id: string;
  /** The snapshot's status in the ledger (`complete`, `failed`, `incomplete`). */
  status: PruneSnapshot["status"];
  startedAt: string;
  destination: string;
  damage: string | null;
  action: "keep" | "delete";
  /** The rules that keep it, or why it is deleted (`no rule keeps it`, `debris`, or the rule of an unfinished deletion). */
  rules: string[];
  /** `planned` (dry run), `kept`, `deleted`, `failed`. */
  result: "planned" | "kept" | "deleted" | "failed";
  /** Objects deleted (or found to be gone already). */
  objects: number;
  /** Why it failed. */
  error?: string;
}

/** One host in a prune. */
export interface HostPrune {
  host: string;
  /** `pruned` (or planned, in a dry run), or why the host was left alone. */
  status: "pruned" | "no-retention";
  message?: string;
  retention?: RetentionPolicy;
  snapshots: SnapshotAction[];
  notes: string[];
}

/** What a prune did (or would do). */
export interface PruneResult {
  dryRun: boolean;
  /** The prune run in the ledger (null for a dry run). */
  runId: string | null;
  hosts: HostPrune[];
  blobs: BlobAction[];
  notes: string[];
  /** Deletions that failed (snapshots and blobs): exit code 1 when any. */
  failed: number;
}

/** Opens each destination once, with the controller's own credentials from the inventory. */
export class DestinationPool {
  private readonly open = new Map<string, Promise<Destination>>();

  constructor(private readonly ctx: ControllerContext) {}

  /** The inventory's destination `name`, opened. @throws LifeboatError(CONFIG) when the inventory has no such destination. */
  get(name: string): Promise<Destination> {
    let d = this.open.get(name);
    if (!d) {
      d = openDestination(currentPlatform(), this.ctx.destinationSpec(name));
      this.open.set(name, d);
    }
    return d;
  }

  /** Whether destination `name` is a directory on the hosts (out of the controller's reach). */
  isLocal(name: string): boolean {
    return this.ctx.inventory.destinations.get(name)?.type === "local";
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.open.values()].map(async (d) => (await d).close()));
  }
}

/** The plan of one host: every snapshot with keep or delete and why, nothing deleted yet. */
export function planHost(ctx: ControllerContext, host: HostConfig, graceMs: number, now: Date): HostPrune {
  const retention = host.operations.retention;
  if (!retention) return { host: host.name, status: "no-retention", message: NO_RETENTION, snapshots: [], notes: [] };
  const rows = ctx.ledger.retention.snapshots(host.name);
  const byId = new Map(rows.map((r) => [r.id, r]));
  const action = (r: PruneSnapshot, a: "keep" | "delete", rules: string[]): SnapshotAction => ({
    id: r.id,
    status: r.status,
    startedAt: r.startedAt,
    destination: r.destination,
    damage: r.damage,
    action: a,
    rules,
    result: "planned",
    objects: 0,
  });
  const complete = rows.filter((r) => r.status === "complete" && !r.deleting);
  const plan = planRetention(
    complete.map((r) => ({ id: r.id, time: r.startedAt, damage: r.damage, verified: r.verified })),
    retention,
  );
  const actions = new Map<string, SnapshotAction>(plan.decisions.map((d) => [d.id, action(byId.get(d.id)!, d.action, d.reasons)]));
  const cutoff = now.getTime() - graceMs;
  for (const r of rows) {
    if (r.deleting) actions.set(r.id, action(r, "delete", [r.deleting.rule]));
    else if (r.status === "complete") continue;
    else if (r.jobRunning) actions.set(r.id, action(r, "keep", ["being written by a running job"]));
    else if (Date.parse(r.startedAt) < cutoff) actions.set(r.id, action(r, "delete", [DEBRIS]));
    else actions.set(r.id, action(r, "keep", ["debris within the grace period"]));
  }
  const unfinished = rows.filter((r) => r.deleting).length;
  return {
    host: host.name,
    status: "pruned",
    retention,
    // Newest first, as the ledger lists them.
    snapshots: rows.map((r) => actions.get(r.id)!),
    notes: [...plan.notes, ...(unfinished ? [`${unfinished} deletion(s) an earlier prune began are finished now`] : [])],
  };
}

/**
 * Deletes one snapshot: marks it, deletes every object under its prefix and
 * every object the ledger names for it, then its rows.
 * @returns the number of objects deleted (or already gone).
 * @throws whatever the destination throws; the snapshot then stays marked for the next prune.
 */
async function deleteSnapshot(ctx: ControllerContext, destination: Destination, host: string, s: SnapshotAction, runId: string): Promise<number> {
  const rule = s.rules[0]!;
  ctx.ledger.retention.markDeleting(host, s.id, rule, runId);
  const keys = new Set(ctx.ledger.retention.objectKeys(host, s.id));
  // What the ledger does not know is deleted too: parts of an artifact whose event never came, a planted object.
  for await (const o of destination.list(`${host}/${s.id}/`)) keys.add(o.key);
  for (const key of [...keys].sort()) await destination.delete(key);
  ctx.ledger.retention.forgetSnapshot(host, s.id, { destination: s.destination, rule, runId, objectKeys: [...keys].sort() });
  return keys.size;
}

/**
 * Prunes `hosts`: plans each (see {@link planHost}), deletes what the plans
 * delete unless `dryRun`, then collects the blob area's garbage. Never throws
 * for a failed deletion (it is in the result, and recorded in the run).
 * @param report called with each host once it is done, for output as it goes
 */
export async function pruneHosts(ctx: ControllerContext, hosts: HostConfig[], options: PruneOptions, report: (h: HostPrune) => void = () => {}): Promise<PruneResult> {
  const now = options.now ?? new Date();
  const runId = options.dryRun ? null : ctx.ledger.startRun({ kind: "prune", trigger: options.trigger, hosts: hosts.map((h) => h.name) });
  const result: PruneResult = { dryRun: options.dryRun, runId, hosts: [], blobs: [], notes: [], failed: 0 };
  const pool = new DestinationPool(ctx);
  const clean = (text: string) => redact(text, ctx.secrets);
  // Blob references of the snapshots deleted (or, in a dry run, to be deleted), by destination.
  const dropped: { destination: string; host: string; snapshotId: string; blobKeys: string[] }[] = [];
  const destinations = new Set<string>();
  try {
    for (const host of hosts) {
      const plan = planHost(ctx, host, options.graceMs, now);
      const objects = plan.snapshots.some((s) => s.action !== "keep") ? ctx.ledger.retention.objectsOf(host.name) : new Map<string, { objects: number; blobKeys: string[] }>();
      if (plan.status === "pruned") {
        destinations.add(host.destination);
        for (const s of plan.snapshots) destinations.add(s.destination);
      }
      // Snapshots in a directory on the host itself are deleted by its agent, in one job per host.
      const onHost: SnapshotAction[] = [];
      for (const s of plan.snapshots) {
        if (s.action === "keep") {
          s.result = options.dryRun ? "planned" : "kept";
          continue;
        }
        const blobKeys = objects.get(s.id)?.blobKeys ?? [];
        if (options.dryRun) {
          s.objects = objects.get(s.id)?.objects ?? 0;
          dropped.push({ destination: s.destination, host: host.name, snapshotId: s.id, blobKeys });
          continue;
        }
        if (pool.isLocal(s.destination)) {
          onHost.push(s);
          continue;
        }
        try {
          s.objects = await deleteSnapshot(ctx, await pool.get(s.destination), host.name, s, runId!);
          s.result = "deleted";
          dropped.push({ destination: s.destination, host: host.name, snapshotId: s.id, blobKeys });
        } catch (err) {
          s.result = "failed";
          s.error = clean(messageOf(err));
          result.failed++;
          ctx.ledger.recordError({
            runId: runId!,
            host: host.name,
            code: isLifeboatError(err) ? err.code : "INTERNAL",
            message: `Cannot delete snapshot "${s.id}" of "${host.name}": ${s.error}`,
            hint: "run controller prune again: it finishes the deletions it began",
          });
        }
      }
      if (onHost.length > 0) {
        const done = await pruneOnHost(ctx, host, onHost.map((s) => ({ id: s.id, destination: s.destination, rule: s.rules[0]! })), runId!);
        for (const s of onHost) {
          const r = done.get(s.id)!;
          if ("objects" in r) {
            s.result = "deleted";
            s.objects = r.objects;
          } else {
            s.result = "failed";
            s.error = clean(r.error);
            result.failed++;
          }
        }
      }
      result.hosts.push(plan);
      report(plan);
    }
    const gc = await collectBlobs(ctx, pool, { destinations: [...destinations], dropped, dryRun: options.dryRun, graceMs: options.graceMs, now, runId });
    result.blobs = gc.blobs;
    result.notes.push(...gc.notes);
    result.failed += gc.blobs.filter((b) => b.result === "failed").length;
  } finally {
    await pool.close();
    if (runId) ctx.ledger.finishRun(runId, result.failed === 0 ? "ok" : "partial");
  }
  return result;
}
