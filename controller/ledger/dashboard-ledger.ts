/**
 * @module The ledger's answers for the dashboard: stored bytes per host and
 * destination, a host's snapshots as one row each, its recent jobs with their
 * errors and hook output, the fleet's growth per day. Sizes come from each
 * snapshot's totals (kept by triggers as artifacts are recorded), never from
 * a read of every artifact row.
 */
import type Database from "better-sqlite3";
import type { AlertRow } from "./alert-ledger";
import { Statements } from "./statements";

/** Bytes an artifact added to storage: its object and the chunks it uploaded (reused chunks count where first stored). */
const STORED = "a.stored_size + coalesce(json_extract(a.chunks, '$.uploadedBytes'), 0)";

/** What one host keeps at one destination, over the snapshots the ledger knows (complete, failed and being written). */
export interface StoredTotals {
  host: string;
  destination: string;
  snapshots: number;
  /** Bytes of the artifacts as the plugins produced them. */
  plainBytes: number;
  /** Bytes stored: objects and uploaded chunks. */
  storedBytes: number;
  /** Bytes of chunks the snapshots referenced without uploading them again (what dedup saved). */
  reusedBytes: number;
}

/** One snapshot as a row of a host's list: sizes summed, its newest verification. */
export interface SnapshotRow {
  id: string;
  status: "incomplete" | "complete" | "failed";
  startedAt: string;
  finishedAt: string | null;
  destination: string;
  damage: string | null;
  artifacts: number;
  plainBytes: number;
  storedBytes: number;
  reusedBytes: number;
  /** The newest verification, or null. */
  verification: { level: string; result: "ok" | "failed"; time: string } | null;
}

/** A job of a host, newest first on its page. */
export interface JobRow {
  jobId: string;
  runId: string;
  kind: "backup" | "restore" | "verify" | "prune";
  /** What started its run: cli, schedule, dashboard, ... */
  trigger: string;
  snapshotId: string | null;
  status: "running" | "ok" | "partial" | "failed";
  startedAt: string;
  finishedAt: string | null;
  durationMs: number | null;
  plainBytes: number | null;
  storedBytes: number | null;
  error: { code: string; message: string } | null;
}

/** Bytes added to one destination on one day (UTC) by the snapshots the ledger still knows. */
export interface DayGrowth {
  day: string;
  destination: string;
  storedBytes: number;
  plainBytes: number;
}

/** One plugin instance of one snapshot: what its artifacts hold. */
export interface InstanceSize {
  instance: string;
  plugin: string;
  plainBytes: number;
  storedBytes: number;
}

/** Queries for the dashboard; reached as `ledger.dashboard`. */
export class DashboardLedger {
  private readonly statements: Statements;

  constructor(private readonly db: Database.Database) {
    this.statements = new Statements(db);
  }

  /**
   * A value that changes whenever the ledger does, by this connection or any
   * other process: what the dashboard caches its heavier answers against.
   */
  changeMark(): string {
    const version = this.db.pragma("data_version", { simple: true }) as number;
    const own = (this.statements.sql("SELECT total_changes() AS n").get() as { n: number }).n;
    return `${version}:${own}`;
  }

  /** Stored totals per host and destination (every snapshot the ledger still knows; index `snapshots_sizes`). */
  storedTotals(): StoredTotals[] {
    return this.statements
      .sql(
        `SELECT host, destination, count(*) AS snapshots, sum(plain_bytes) AS plainBytes, sum(stored_bytes) AS storedBytes, sum(reused_bytes) AS reusedBytes
         FROM snapshots GROUP BY host, destination ORDER BY host, destination`,
      )
      .all() as StoredTotals[];
  }

  /** Every snapshot of `host`, newest first, one row each. */
  snapshotRows(host: string): SnapshotRow[] {
    const rows = this.statements
      .sql(
        `SELECT id, status, started_at AS startedAt, finished_at AS finishedAt, destination, damage, artifact_count AS artifacts,
                plain_bytes AS plainBytes, stored_bytes AS storedBytes, reused_bytes AS reusedBytes
         FROM snapshots WHERE host = ? ORDER BY started_at DESC, id DESC`,
      )
      .all(host) as Omit<SnapshotRow, "verification">[];
    const verified = new Map(
      (this.statements.sql("SELECT snapshot_id AS id, level, result, max(time) AS time FROM verifications WHERE host = ? GROUP BY snapshot_id").all(host) as { id: string; level: string; result: "ok" | "failed"; time: string }[]).map((v) => [v.id, { level: v.level, result: v.result, time: v.time }]),
    );
    return rows.map((r) => ({ ...r, verification: verified.get(r.id) ?? null }));
  }

  /** The newest `limit` jobs of `host` (any kind), newest first. */
  recentJobs(host: string, limit: number): JobRow[] {
    return this.jobs("j.host = ? ORDER BY j.started_at DESC, j.id DESC LIMIT ?", host, limit);
  }

  /** The job `jobId`, or null. */
  job(jobId: string): JobRow | null {
    return this.jobs("j.id = ?", jobId)[0] ?? null;
  }

  /** The backup job that wrote snapshot `snapshotId` of `host`, or null. */
  backupJobOf(host: string, snapshotId: string): JobRow | null {
    return this.jobs("j.host = ? AND j.snapshot_id = ? AND j.kind = 'backup' ORDER BY j.started_at LIMIT 1", host, snapshotId)[0] ?? null;
  }

  private jobs(where: string, ...params: unknown[]): JobRow[] {
    const rows = this.statements
      .sql(
        `SELECT j.id AS jobId, j.run_id AS runId, j.kind, r.trigger, j.snapshot_id AS snapshotId, j.status, j.started_at AS startedAt,
                j.finished_at AS finishedAt, j.duration_ms AS durationMs, j.bytes_plain AS plainBytes, j.bytes_stored AS storedBytes,
                j.error_code AS code, j.error_message AS message
         FROM jobs j JOIN runs r ON r.id = j.run_id WHERE ${where}`,
      )
      .all(...params) as (Omit<JobRow, "error"> & { code: string | null; message: string | null })[];
    return rows.map(({ code, message, ...j }) => ({ ...j, error: code || message ? { code: code ?? "ERROR", message: message ?? "" } : null }));
  }

  /** Errors and warnings the ledger recorded for one job, oldest first. */
  jobEvents(runId: string, jobId: string): { level: "error" | "warning"; plugin: string | null; code: string | null; message: string; hint: string | null }[] {
    return this.statements.sql("SELECT level, plugin, code, message, hint FROM events WHERE run_id = ? AND job_id = ? ORDER BY id").all(runId, jobId) as never;
  }

  /** The hosts with a job running now, and their oldest running job (index `jobs_running`). */
  runningByHost(): Map<string, { kind: string; startedAt: string }> {
    const rows = this.statements.sql("SELECT host, kind, min(started_at) AS startedAt FROM jobs WHERE status = 'running' GROUP BY host").all() as { host: string; kind: string; startedAt: string }[];
    return new Map(rows.map((r) => [r.host, { kind: r.kind, startedAt: r.startedAt }]));
  }

  /** Whether a job of `host` is running now, and its oldest running job. */
  running(host: string): { kind: string; startedAt: string } | null {
    return this.runningByHost().get(host) ?? null;
  }

  /** Bytes each destination gained per day (UTC, by snapshot start), over the snapshots the ledger still knows, oldest day first. */
  growthByDay(): DayGrowth[] {
    return this.statements
      .sql("SELECT substr(started_at, 1, 10) AS day, destination, sum(stored_bytes) AS storedBytes, sum(plain_bytes) AS plainBytes FROM snapshots GROUP BY day, destination ORDER BY day, destination")
      .all() as DayGrowth[];
  }

  /** What each plugin instance of one snapshot holds. */
  instanceSizes(host: string, snapshotId: string): InstanceSize[] {
    return this.statements
      .sql(`SELECT a.instance, a.plugin, sum(a.plain_size) AS plainBytes, sum(${STORED}) AS storedBytes FROM artifacts a WHERE a.host = ? AND a.snapshot_id = ? GROUP BY a.instance ORDER BY a.instance`)
      .all(host, snapshotId) as InstanceSize[];
  }

  /** How each plugin instance of job `jobId` ended and how long it took. */
  jobInstances(jobId: string): Map<string, { status: "ok" | "failed"; durationMs: number }> {
    const rows = this.statements.sql("SELECT instance, status, duration_ms AS durationMs FROM job_instances WHERE job_id = ?").all(jobId) as { instance: string; status: "ok" | "failed"; durationMs: number }[];
    return new Map(rows.map(({ instance, ...r }) => [instance, r]));
  }

  /** Every open alert of the fleet, oldest first. */
  openAlerts(): Pick<AlertRow, "id" | "host" | "event" | "subject" | "message" | "openedAt">[] {
    return this.statements.sql("SELECT id, host, event, subject, message, opened_at AS openedAt FROM alerts WHERE closed_at IS NULL ORDER BY id").all() as never;
  }
}
