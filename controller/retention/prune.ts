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
 * deleting an object that is already gone is fine. Then, host by host, the
 * chunks no remaining snapshot of it references (`chunk-gc.ts`), and at the
 * end the blob area's garbage (`blob-gc.ts`).
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
import { collectChunks, type ChunkAction } from "./chunk-gc";
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
  /**
   * false: `hosts` of the result stays empty, each host goes to the report only
   * (a fleet's dry run plans 80,000 snapshots: kept to the end, they cost their
   * garbage collector's copying). Default true.
   */
  retainHosts?: boolean;
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
  /** Its chunks that no remaining snapshot references, per destination (none: nothing to collect). */
  chunks: ChunkAction[];
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
  /** Deletions that failed (snapshots, hosts' chunks, blobs): exit code 1 when any. */
  failed: number;
  /**
   * In a dry run, the objects the ledger knows (artifacts and manifests) for the
   * snapshots the plans delete, counted per host (a dry run leaves each
   * snapshot's `objects` at 0); 0 in a real run, whose snapshots say what they deleted.
   */
  plannedObjects: number;
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

/**
 * The plan of one host: every snapshot with keep or delete and why, nothing deleted yet.
 * @param read the host's snapshots as the ledger lists them, when the caller has read them
 */
export function planHost(ctx: Pick<ControllerContext, "ledger">, host: HostConfig, graceMs: number, now: Date, read?: PruneSnapshot[]): HostPrune {
  const retention = host.operations.retention;
  if (!retention) return { host: host.name, status: "no-retention", message: NO_RETENTION, snapshots: [], chunks: [], notes: [] };
  const rows = read ?? ctx.ledger.retention.snapshots(host.name, host.destination);
  const action = (r: PruneSnapshot, a: "keep" | "delete", rules: string[]): SnapshotAction => ({
    id: r.id,
    status: r.status,
    startedAt: r.time,
    destination: r.destination,
    damage: r.damage,
    action: a,
    rules,
    result: "planned",
    objects: 0,
  });
  // Plain loops: a fleet's prune plans 80,000 snapshots, much of it before the code is compiled.
  const complete: PruneSnapshot[] = [];
  for (const r of rows) if (r.status === "complete" && !r.deleting) complete.push(r);
  // Each a PlanSnapshot as it is (id, time, damage, verified).
  const plan = planRetention(complete, retention);
  // The plan lists the complete snapshots newest first, as the ledger does: matched by position,
  // or by id when the two orders differ (times written differently).
  let decisions = plan.decisions;
  for (let i = 0; i < decisions.length; i++) {
    if (decisions[i]!.id !== complete[i]!.id) {
      const byId = new Map(plan.decisions.map((d) => [d.id, d]));
      decisions = complete.map((r) => byId.get(r.id)!);
      break;
    }
  }
  let next = 0;
  const cutoff = now.getTime() - graceMs;
  let unfinished = 0;
  // Newest first, as the ledger lists them.
  const snapshots: SnapshotAction[] = [];
  for (const r of rows) {
    if (r.deleting) {
      unfinished++;
      snapshots.push(action(r, "delete", [r.deleting.rule]));
    } else if (r.status === "complete") {
      const d = decisions[next++]!;
      snapshots.push(action(r, d.action, d.reasons));
    } else if (r.jobRunning) snapshots.push(action(r, "keep", ["being written by a running job"]));
    else if (Date.parse(r.time) < cutoff) snapshots.push(action(r, "delete", [DEBRIS]));
    else snapshots.push(action(r, "keep", ["debris within the grace period"]));
  }
  return {
    host: host.name,
    status: "pruned",
    retention,
    snapshots,
    chunks: [],
    notes: [...plan.notes, ...(unfinished ? [`${unfinished} deletion(s) an earlier prune began are finished now`] : [])],
  };
}

/**
 * The objects the ledger knows (artifacts and manifests) for the snapshots
 * `plan` deletes, `rows` being the snapshots it was made of: the artifacts
 * counted for the whole host from the fewer of its deleted and kept snapshots
 * (a prune that deletes 378 of 400 counts the host's artifacts less the 22 kept
 * ones'). Read in the same transaction as `rows`: the kept ones are all the others.
 */
function plannedObjects(ctx: ControllerContext, host: string, plan: HostPrune, rows: PruneSnapshot[]): number {
  const deleted: string[] = [];
  const kept: string[] = [];
  let manifests = 0;
  plan.snapshots.forEach((s, i) => {
    if (s.action === "keep") kept.push(s.id);
    else {
      deleted.push(s.id);
      if (rows[i]!.manifest) manifests++;
    }
  });
  if (deleted.length === 0) return 0;
  return manifests + (deleted.length <= kept.length ? ctx.ledger.retention.artifactCount(host, deleted) : ctx.ledger.retention.artifactCount(host, kept, true));
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
  const result: PruneResult = { dryRun: options.dryRun, runId, hosts: [], blobs: [], notes: [], failed: 0, plannedObjects: 0 };
  const pool = new DestinationPool(ctx);
  const clean = (text: string) => redact(text, ctx.secrets);
  // Blob references of the snapshots deleted (or, in a dry run, to be deleted), by destination.
  const dropped: { destination: string; host: string; snapshotId: string; blobKeys: string[] }[] = [];
  const destinations = new Set<string>();
  try {
    // Without any (no Ollama), no host's snapshots have blob keys to look up.
    const blobReferences = ctx.ledger.retention.anyBlobReferences();
    for (const host of hosts) {
      // The plan and, in a dry run, the number of objects it deletes: of one state of the ledger.
      const { plan, planned } = ctx.ledger.retention.consistent(() => {
        const rows = host.operations.retention ? ctx.ledger.retention.snapshots(host.name, host.destination) : [];
        const plan = planHost(ctx, host, options.graceMs, now, rows);
        return { plan, planned: options.dryRun && plan.status === "pruned" ? plannedObjects(ctx, host.name, plan, rows) : 0 };
      });
      result.plannedObjects += planned;
      const blobKeysOf = blobReferences && plan.snapshots.some((s) => s.action !== "keep") ? ctx.ledger.retention.blobKeysOf(host.name) : new Map<string, string[]>();
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
        const blobKeys = blobKeysOf.get(s.id) ?? [];
        if (options.dryRun) {
          // s.objects stays 0: the dry run counts the host's (plannedObjects). Only references
          // matter to garbage collection, and few of tens of thousands of snapshots have any.
          if (blobKeys.length > 0) dropped.push({ destination: s.destination, host: host.name, snapshotId: s.id, blobKeys });
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
      if (plan.status === "pruned") {
        const deleting = plan.snapshots.filter((s) => s.action === "delete").map((s) => s.id);
        const gc = await collectChunks(ctx, pool, host, { destinations: [host.destination, ...plan.snapshots.map((s) => s.destination)], deleting, dryRun: options.dryRun, runId });
        plan.chunks = gc.chunks;
        plan.notes.push(...gc.notes);
        result.failed += gc.chunks.filter((c) => c.result === "failed").length;
      }
      if (options.retainHosts !== false) result.hosts.push(plan);
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
