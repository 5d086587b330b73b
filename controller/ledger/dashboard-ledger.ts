/**
 * @module The ledger's answers for the dashboard: stored bytes per host and
 * destination, a host's snapshots as one row each, its recent jobs with their
 * errors and hook output, the fleet's growth per day. Each an aggregate query,
 * never a load of every snapshot's artifacts.
 */
import type Database from "better-sqlite3";
import type { AlertRow } from "./alert-ledger";
import { Statements } from "./statements";

/** Bytes a snapshot adds to storage: its objects and the chunks it uploaded (reused chunks count where first stored). */
const STORED = "a.stored_size + coalesce(json_extract(a.chunks, '$.uploadedBytes'), 0)";
/** Bytes a chunked artifact did not upload because the host's chunk area had them. */
const REUSED = "coalesce(json_extract(a.chunks, '$.reusedBytes'), 0)";

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

  /** Stored totals per host and destination (every snapshot the ledger still knows). */
  storedTotals(): StoredTotals[] {
    return this.statements
      .sql(
        `SELECT s.host, s.destination, count(DISTINCT s.id) AS snapshots, coalesce(sum(a.plain_size), 0) AS plainBytes,
                coalesce(sum(${STORED}), 0) AS storedBytes, coalesce(sum(${REUSED}), 0) AS reusedBytes
         FROM snapshots s LEFT JOIN artifacts a ON a.host = s.host AND a.snapshot_id = s.id
         GROUP BY s.host, s.destination ORDER BY s.host, s.destination`,
      )
      .all() as StoredTotals[];
  }

  /** Every snapshot of `host`, newest first, one row each. */
  snapshotRows(host: string): SnapshotRow[] {
    const rows = this.statements
      .sql(
        `SELECT s.id, s.status, s.started_at AS startedAt, s.finished_at AS finishedAt, s.destination, s.damage,
                count(a.name) AS artifacts, coalesce(sum(a.plain_size), 0) AS plainBytes,
                coalesce(sum(${STORED}), 0) AS storedBytes, coalesce(sum(${REUSED}), 0) AS reusedBytes
         FROM snapshots s LEFT JOIN artifacts a ON a.host = s.host AND a.snapshot_id = s.id
         WHERE s.host = ? GROUP BY s.id ORDER BY s.started_at DESC, s.id DESC`,
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

  /** Whether a job of `host` is running now (index `jobs_running`). */
  running(host: string): { kind: string; startedAt: string } | null {
    return (this.statements.sql("SELECT kind, started_at AS startedAt FROM jobs WHERE host = ? AND status = 'running' ORDER BY started_at LIMIT 1").get(host) as { kind: string; startedAt: string } | undefined) ?? null;
  }

  /** Bytes each destination gained per day (UTC, by snapshot start), over the snapshots the ledger still knows, oldest day first. */
  growthByDay(): DayGrowth[] {
    return this.statements
      .sql(
        `SELECT substr(s.started_at, 1, 10) AS day, s.destination, coalesce(sum(${STORED}), 0) AS storedBytes, coalesce(sum(a.plain_size), 0) AS plainBytes
         FROM snapshots s JOIN artifacts a ON a.host = s.host AND a.snapshot_id = s.id
         GROUP BY day, s.destination ORDER BY day, s.destination`,
      )
      .all() as DayGrowth[];
  }

  /** What each plugin instance of one snapshot holds. */
  instanceSizes(host: string, snapshotId: string): InstanceSize[] {
    return this.statements
      .sql(`SELECT a.instance, a.plugin, sum(a.plain_size) AS plainBytes, sum(${STORED}) AS storedBytes FROM artifacts a WHERE a.host = ? AND a.snapshot_id = ? GROUP BY a.instance ORDER BY a.instance`)
      .all(host, snapshotId) as InstanceSize[];
  }

  /** Every open alert of the fleet, oldest first. */
  openAlerts(): Pick<AlertRow, "id" | "host" | "event" | "subject" | "message" | "openedAt">[] {
    return this.statements.sql("SELECT id, host, event, subject, message, opened_at AS openedAt FROM alerts WHERE closed_at IS NULL ORDER BY id").all() as never;
  }
}
