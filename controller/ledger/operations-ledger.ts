/**
 * @module The ledger's answers for fleet operations — status, verification
 * rotation, restore drills — each one indexed query per host (never a load of
 * every snapshot), and the measured restore times they show.
 */
import type Database from "better-sqlite3";
import { Statements } from "./statements";
import type { ArtifactRecord } from "../../core/records";
import { ARTIFACT_COLUMNS, artifactOfRow, type ArtifactRow } from "./artifact-row";

/** A host's newest complete, undamaged snapshot. */
export interface GoodSnapshotFact {
  id: string;
  finishedAt: string;
}

/** A host's last finished backup job. */
export interface BackupJobFact {
  jobId: string;
  runId: string;
  status: "ok" | "partial" | "failed";
  finishedAt: string;
  error: { code: string; message: string } | null;
}

/** The newest successful verification of one plugin instance. */
export interface InstanceVerificationFact {
  time: string;
  snapshotId: string;
}

/** A measured restore (a drill into scratch space, or a real restore), the whole job and each plugin instance. */
export interface RestoreTimeFact {
  kind: "drill" | "restore";
  snapshotId: string;
  onHost: string;
  /** The whole job: connecting, fetching, decrypting, restoring (and, for a drill, checking). */
  durationMs: number;
  time: string;
  /** Each plugin instance's own part (from the agent's `plugin-done` events). */
  instances: Record<string, number>;
}

/** What one host's measured restore consists of, to record. */
export interface RestoreTimeRecord {
  host: string;
  snapshotId: string;
  jobId: string;
  kind: "drill" | "restore";
  onHost: string;
  durationMs: number;
  instances: { instance: string; durationMs: number }[];
}

const now = () => new Date().toISOString();

/** Queries and records for status, rotation and drills; reached as `ledger.operations`. */
export class OperationsLedger {
  private readonly statements: Statements;

  constructor(private readonly db: Database.Database) {
    this.statements = new Statements(db);
  }

  /** `sql` prepared once: status asks the same few questions of every host. */
  private sql(sql: string): Database.Statement {
    return this.statements.sql(sql);
  }

  /** The newest complete, undamaged snapshot of `host`, or null (index `snapshots_good`). */
  newestGoodSnapshot(host: string): GoodSnapshotFact | null {
    return (this.sql("SELECT id, finished_at AS finishedAt FROM snapshots WHERE host = ? AND status = 'complete' AND damage IS NULL ORDER BY finished_at DESC, id DESC LIMIT 1").get(host) as GoodSnapshotFact | undefined) ?? null;
  }

  /**
   * The newest complete, undamaged snapshot of `host` that holds every one of
   * `instances`, or null when none does.
   */
  newestSnapshotHolding(host: string, instances: string[]): GoodSnapshotFact | null {
    if (instances.length === 0) return this.newestGoodSnapshot(host);
    const marks = instances.map(() => "?").join(",");
    const row = this
      .sql(
        `SELECT s.id, s.finished_at AS finishedAt FROM snapshots s WHERE s.host = ? AND s.status = 'complete' AND s.damage IS NULL
         AND (SELECT count(DISTINCT a.instance) FROM artifacts a WHERE a.host = s.host AND a.snapshot_id = s.id AND a.instance IN (${marks})) = ?
         ORDER BY s.finished_at DESC, s.id DESC LIMIT 1`,
      )
      .get(host, ...instances, instances.length) as GoodSnapshotFact | undefined;
    return row ?? null;
  }

  /** The plugin instances a snapshot holds artifacts of. */
  snapshotInstances(host: string, snapshotId: string): string[] {
    return (this.sql("SELECT DISTINCT instance FROM artifacts WHERE host = ? AND snapshot_id = ? ORDER BY instance").all(host, snapshotId) as { instance: string }[]).map((r) => r.instance);
  }

  /** The artifacts of plugins `plugins` in one snapshot (e.g. those whose metadata carries certificates). */
  artifactsOf(host: string, snapshotId: string, plugins: string[]): ArtifactRecord[] {
    if (plugins.length === 0) return [];
    const rows = this
      .sql(`SELECT ${ARTIFACT_COLUMNS} FROM artifacts WHERE host = ? AND snapshot_id = ? AND plugin IN (${plugins.map(() => "?").join(",")}) ORDER BY instance, name`)
      .all(host, snapshotId, ...plugins) as ArtifactRow[];
    return rows.map(artifactOfRow);
  }

  /** The last finished backup job of `host` (a running one does not count yet), or null (index `jobs_by_host`). */
  lastBackupJob(host: string): BackupJobFact | null {
    const row = this
      .sql("SELECT id, run_id, status, finished_at, error_code, error_message FROM jobs WHERE host = ? AND kind = 'backup' AND finished_at IS NOT NULL ORDER BY finished_at DESC, rowid DESC LIMIT 1")
      .get(host) as { id: string; run_id: string; status: BackupJobFact["status"]; finished_at: string; error_code: string | null; error_message: string | null } | undefined;
    if (!row) return null;
    return { jobId: row.id, runId: row.run_id, status: row.status, finishedAt: row.finished_at, error: row.error_code || row.error_message ? { code: row.error_code ?? "INTERNAL", message: row.error_message ?? "" } : null };
  }

  /**
   * Failed snapshots of `host` whose objects are still stored (no deletion
   * recorded for them): what a failed or interrupted job left behind. From the
   * partial index snapshots_failed (a covering index of all of a host's
   * snapshots would read hundreds of entries for a handful).
   */
  debrisCount(host: string): number {
    return (this
      .sql("SELECT count(*) AS n FROM snapshots s WHERE s.host = ? AND s.status = 'failed' AND NOT EXISTS (SELECT 1 FROM deletions d WHERE d.host = s.host AND d.snapshot_id = s.id)")
      .get(host) as { n: number }).n;
  }

  /** Each plugin instance of `host` with its newest successful verification at `level` (index `verification_instances_by_host`). */
  verifiedInstances(host: string, level: string): Map<string, InstanceVerificationFact> {
    const rows = this
      .sql("SELECT instance, max(time) AS time, snapshot_id AS snapshotId FROM verification_instances WHERE host = ? AND level = ? AND result = 'ok' GROUP BY instance")
      .all(host, level) as ({ instance: string } & InstanceVerificationFact)[];
    return new Map(rows.map((r) => [r.instance, { time: r.time, snapshotId: r.snapshotId }]));
  }

  /** The newest measured restore of `host`'s snapshots (a drill or a real one), or null. */
  newestRestoreTime(host: string): RestoreTimeFact | null {
    const job = this
      .sql("SELECT job_id, kind, snapshot_id, on_host, duration_ms, time FROM restore_times WHERE host = ? AND instance IS NULL ORDER BY time DESC, id DESC LIMIT 1")
      .get(host) as { job_id: string | null; kind: RestoreTimeFact["kind"]; snapshot_id: string; on_host: string; duration_ms: number; time: string } | undefined;
    if (!job) return null;
    const parts = job.job_id === null ? [] : (this.sql("SELECT instance, duration_ms FROM restore_times WHERE host = ? AND job_id = ? AND instance IS NOT NULL ORDER BY instance").all(host, job.job_id) as { instance: string; duration_ms: number }[]);
    return { kind: job.kind, snapshotId: job.snapshot_id, onHost: job.on_host, durationMs: job.duration_ms, time: job.time, instances: Object.fromEntries(parts.map((p) => [p.instance, p.duration_ms])) };
  }

  /** The newest measured restore (or drill) of each of `host`'s snapshots that has one, whole jobs only: snapshot id → fact (without per-instance parts). */
  restoreTimesBySnapshot(host: string): Map<string, Omit<RestoreTimeFact, "instances">> {
    const rows = this
      .sql("SELECT snapshot_id, kind, on_host, duration_ms, max(time) AS time FROM restore_times WHERE host = ? AND instance IS NULL GROUP BY snapshot_id")
      .all(host) as { snapshot_id: string; kind: RestoreTimeFact["kind"]; on_host: string; duration_ms: number; time: string }[];
    return new Map(rows.map((r) => [r.snapshot_id, { kind: r.kind, snapshotId: r.snapshot_id, onHost: r.on_host, durationMs: r.duration_ms, time: r.time }]));
  }

  /** The hosts other than `host` that a restore of `host`'s snapshots succeeded on (real restores, not drills): host → the newest such restore. */
  restoredOnto(host: string): Map<string, { snapshotId: string; time: string }> {
    const rows = this
      .sql("SELECT on_host, snapshot_id, max(time) AS time FROM restore_times WHERE host = ? AND kind = 'restore' AND instance IS NULL AND on_host <> host GROUP BY on_host")
      .all(host) as { on_host: string; snapshot_id: string; time: string }[];
    return new Map(rows.map((r) => [r.on_host, { snapshotId: r.snapshot_id, time: r.time }]));
  }

  /** Records a measured restore: a row per plugin instance, then the whole job's (`instance` NULL), all at one time. */
  recordRestoreTime(r: RestoreTimeRecord): void {
    const t = now();
    const insert = this.sql("INSERT INTO restore_times(host, snapshot_id, instance, kind, on_host, duration_ms, time, job_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
    this.db.transaction(() => {
      for (const part of r.instances) insert.run(r.host, r.snapshotId, part.instance, r.kind, r.onHost, Math.round(part.durationMs), t, r.jobId);
      insert.run(r.host, r.snapshotId, null, r.kind, r.onHost, Math.round(r.durationMs), t, r.jobId);
    })();
  }
}
