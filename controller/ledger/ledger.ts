/** @module The controller's ledger (SQLite, WAL): hosts, runs, jobs, snapshots, artifacts, errors. */
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import Database from "better-sqlite3";
import type { ArtifactRecord } from "../../core/records";
import type { HostOutcome } from "../output/reporter";
import { AlertLedger } from "./alert-ledger";
import { ARTIFACT_COLUMNS, artifactOfRow, type ArtifactRow } from "./artifact-row";
import { BlobLedger } from "./blob-ledger";
import { ChunkLedger, type FoundChunks } from "./chunk-ledger";
import { DashboardLedger } from "./dashboard-ledger";
import { RetentionLedger } from "./retention-ledger";
import { migrate } from "./migrations";
import { OperationsLedger } from "./operations-ledger";

/** A snapshot with its artifacts, as `controller snapshots --json` shows it. */
export interface SnapshotView {
  id: string;
  host: string;
  status: "incomplete" | "complete" | "failed";
  startedAt: string;
  finishedAt: string | null;
  destination: string;
  destinationDescription: string;
  manifestKey: string | null;
  manifestSha256: string | null;
  manifestSize: number | null;
  /** Why the snapshot can no longer be trusted (its manifest was found missing or altered), or null. */
  damage: string | null;
  /** The recipient of the host key the snapshot is encrypted to; null for snapshots made before hosts had keys (master only). */
  recipient: string | null;
  /** Whether its job was sent `rehash` (every file read, whatever its metadata said). */
  rehash: boolean;
  plainSize: number;
  /** Bytes the snapshot added to storage: its objects and the chunks it uploaded (not those it reused). */
  storedSize: number;
  artifacts: ArtifactRecord[];
  /** The newest verification, if the snapshot was ever verified. */
  verification: VerificationView | null;
}

/** One verification of a snapshot, as the ledger recorded it. */
export interface VerificationView {
  level: string;
  result: "ok" | "failed";
  time: string;
  details: Record<string, unknown>;
}

interface SnapshotRow {
  id: string;
  host: string;
  status: SnapshotView["status"];
  started_at: string;
  finished_at: string | null;
  destination: string;
  destination_description: string;
  manifest_key: string | null;
  manifest_sha256: string | null;
  manifest_size: number | null;
  damage: string | null;
  recipient: string | null;
  rehash: number | null;
}

const now = () => new Date().toISOString();

/** The ledger. Callers pass only redacted text: it stores what it is given. */
export class Ledger {
  /** The blob area as the controller knows it. */
  readonly blobs: BlobLedger;
  /** Each host's chunk area as the controller knows it, and the chunks each snapshot references. */
  readonly chunks: ChunkLedger;
  /** What prune reads and writes: snapshots to keep or delete, deletions, blob references. */
  readonly retention: RetentionLedger;
  /** Status, verification rotation and restore-time questions and records. */
  readonly operations: OperationsLedger;
  /** Open problems that alerts were sent about, and to which notifier when. */
  readonly alerts: AlertLedger;
  /** What the dashboard reads: stored totals, snapshot rows, recent jobs, growth. */
  readonly dashboard: DashboardLedger;

  private constructor(private readonly db: Database.Database) {
    this.blobs = new BlobLedger(db);
    this.chunks = new ChunkLedger(db);
    this.retention = new RetentionLedger(db);
    this.operations = new OperationsLedger(db);
    this.alerts = new AlertLedger(db);
    this.dashboard = new DashboardLedger(db);
  }

  /** Opens (creating it 0600 if needed) and migrates the ledger at `file`. */
  static open(file: string): Ledger {
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    if (!fs.existsSync(file)) fs.closeSync(fs.openSync(file, "a", 0o600));
    fs.chmodSync(file, 0o600);
    const db = new Database(file);
    db.pragma("journal_mode = WAL");
    db.pragma("foreign_keys = ON");
    db.pragma("busy_timeout = 5000");
    migrate(db, file);
    return new Ledger(db);
  }

  close(): void {
    this.db.close();
  }

  /** Records that a host answered, with its agent version and runtime. */
  touchHost(name: string, agentVersion: string, runtime: string): void {
    const t = now();
    this.db
      .prepare("INSERT INTO hosts(name, first_seen, last_seen, agent_version, runtime) VALUES (?, ?, ?, ?, ?) ON CONFLICT(name) DO UPDATE SET last_seen = excluded.last_seen, agent_version = excluded.agent_version, runtime = excluded.runtime")
      .run(name, t, t, agentVersion, runtime);
  }

  /** A new run, owned by this controller process; returns its id. */
  startRun(run: { kind: "backup" | "restore" | "verify" | "prune"; trigger: string; hosts: string[] }): string {
    const id = `run-${crypto.randomBytes(6).toString("hex")}`;
    this.db
      .prepare("INSERT INTO runs(id, kind, trigger, hosts, started_at, owner) VALUES (?, ?, ?, ?, ?, ?)")
      .run(id, run.kind, run.trigger, JSON.stringify(run.hosts), now(), `${os.hostname()}:${process.pid}`);
    return id;
  }

  /**
   * Marks failed the runs still "running" whose controller process is gone (it
   * was killed, or the machine went down): their running jobs failed
   * (INTERRUPTED), their incomplete snapshots failed, an error recorded. A run
   * owned on another machine cannot be checked and is left alone; one without an
   * owner (recorded before owners were) counts as abandoned.
   * @param alive whether a process of this machine still runs
   * @returns the ids of the runs it marked
   */
  failAbandonedRuns(alive: (pid: number) => boolean): string[] {
    const running = this.db.prepare("SELECT id, owner FROM runs WHERE status = 'running'").all() as { id: string; owner: string | null }[];
    const abandoned = running.filter((r) => {
      if (r.owner === null) return true;
      const at = r.owner.lastIndexOf(":");
      return r.owner.slice(0, at) === os.hostname() && !alive(Number(r.owner.slice(at + 1)));
    });
    const t = now();
    const message = "the controller running this job stopped before it finished";
    const mark = this.db.transaction((runId: string) => {
      this.db.prepare("UPDATE snapshots SET status = 'failed', finished_at = ? WHERE status = 'incomplete' AND job_id IN (SELECT id FROM jobs WHERE run_id = ?)").run(t, runId);
      this.db.prepare("UPDATE jobs SET status = 'failed', finished_at = ?, error_code = 'INTERRUPTED', error_message = ? WHERE run_id = ? AND status = 'running'").run(t, message, runId);
      this.db.prepare("UPDATE runs SET status = 'failed', finished_at = ? WHERE id = ?").run(t, runId);
      this.recordError({ runId, code: "INTERRUPTED", message: `Run ${runId} was abandoned: ${message}`, hint: "run it again" });
    });
    for (const r of abandoned) mark(r.id);
    return abandoned.map((r) => r.id);
  }

  finishRun(runId: string, status: "ok" | "partial" | "failed"): void {
    this.db.prepare("UPDATE runs SET finished_at = ?, status = ? WHERE id = ?").run(now(), status, runId);
  }

  startJob(job: { runId: string; jobId: string; host: string; kind: "backup" | "restore" | "verify" | "prune"; snapshotId: string }): void {
    this.db.prepare("INSERT INTO jobs(id, run_id, host, kind, snapshot_id, started_at) VALUES (?, ?, ?, ?, ?, ?)").run(job.jobId, job.runId, job.host, job.kind, job.snapshotId, now());
  }

  /** Closes a job with its outcome (sizes, duration, first error). */
  finishJob(jobId: string, outcome: HostOutcome): void {
    this.db
      .prepare("UPDATE jobs SET finished_at = ?, status = ?, duration_ms = ?, bytes_plain = ?, bytes_stored = ?, error_code = ?, error_message = ? WHERE id = ?")
      .run(now(), outcome.status, outcome.durationMs, outcome.plainBytes, outcome.storedBytes, outcome.error?.code ?? null, outcome.error?.message ?? null, jobId);
  }

  /** When the newest job of `kind` on `host` started (its schedule's catch-up compares with it), or undefined when none ever did. */
  lastJobStart(host: string, kind: "backup" | "restore" | "verify"): Date | undefined {
    const row = this.db.prepare("SELECT max(started_at) AS t FROM jobs WHERE host = ? AND kind = ?").get(host, kind) as { t: string | null };
    return row.t === null ? undefined : new Date(row.t);
  }

  /** A snapshot the agent is about to write (incomplete until its manifest is stored); `rehash`: its job was sent `rehash: true`. */
  startSnapshot(s: { host: string; snapshotId: string; jobId: string; destination: string; destinationDescription: string; recipient?: string; rehash?: boolean }): void {
    this.db
      .prepare("INSERT INTO snapshots(host, id, job_id, started_at, destination, destination_description, recipient, rehash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
      .run(s.host, s.snapshotId, s.jobId, now(), s.destination, s.destinationDescription, s.recipient ?? null, s.rehash ? 1 : 0);
  }

  /** Records a stored artifact (a chunked one with its ChunkStats). */
  recordArtifact(host: string, snapshotId: string, a: ArtifactRecord): void {
    this.db
      .prepare("INSERT OR REPLACE INTO artifacts(host, snapshot_id, plugin, instance, name, object_key, plain_size, stored_size, sha256, compression, metadata, chunks) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
      .run(host, snapshotId, a.plugin, a.instance, a.name, a.key, a.plainSize, a.storedSize, a.sha256, a.compression, JSON.stringify(a.metadata ?? {}), a.chunks ? JSON.stringify(a.chunks) : null);
  }

  /** The manifest is stored: the snapshot counts as a backup. */
  completeSnapshot(host: string, snapshotId: string, m: { manifestKey: string; manifestSha256: string; manifestSize: number }): void {
    this.db
      .prepare("UPDATE snapshots SET status = 'complete', finished_at = ?, manifest_key = ?, manifest_sha256 = ?, manifest_size = ? WHERE host = ? AND id = ?")
      .run(now(), m.manifestKey, m.manifestSha256, m.manifestSize, host, snapshotId);
  }

  /** Marks a complete snapshot as not to be trusted any more (its manifest was found missing or altered); it stops counting as a backup. */
  markSnapshotDamaged(host: string, snapshotId: string, reason: string): void {
    this.db.prepare("UPDATE snapshots SET damage = ? WHERE host = ? AND id = ?").run(reason, host, snapshotId);
  }

  /**
   * Records a complete snapshot found in storage (a ledger rebuild), with its
   * artifacts, unless the ledger has it already.
   * @returns false when it was known.
   */
  recordFoundSnapshot(s: {
    host: string;
    snapshotId: string;
    startedAt: string;
    finishedAt: string;
    destination: string;
    destinationDescription: string;
    manifest: { key: string; sha256: string; size: number };
    recipient: string | null;
    artifacts: ArtifactRecord[];
    /** The chunks its chunked artifacts' indexes list, per plugin instance, and those found damaged (see ChunkLedger.recordFound). */
    chunks?: Pick<FoundChunks, "instances" | "damaged">;
  }): boolean {
    return this.db.transaction(() => {
      if (this.hasSnapshot(s.host, s.snapshotId)) return false;
      this.db
        .prepare("INSERT INTO snapshots(host, id, job_id, started_at, finished_at, status, destination, destination_description, manifest_key, manifest_sha256, manifest_size, recipient) VALUES (?, ?, NULL, ?, ?, 'complete', ?, ?, ?, ?, ?, ?)")
        .run(s.host, s.snapshotId, s.startedAt, s.finishedAt, s.destination, s.destinationDescription, s.manifest.key, s.manifest.sha256, s.manifest.size, s.recipient);
      for (const a of s.artifacts) this.recordArtifact(s.host, s.snapshotId, a);
      this.db.prepare("INSERT INTO hosts(name, first_seen, last_seen) VALUES (?, ?, ?) ON CONFLICT(name) DO UPDATE SET first_seen = min(first_seen, excluded.first_seen)").run(s.host, s.startedAt, s.finishedAt);
      if (s.chunks) this.chunks.recordFound({ destination: s.destination, host: s.host, snapshotId: s.snapshotId, recipient: s.recipient, ...s.chunks });
      return true;
    })();
  }

  /** Whether the ledger has a snapshot `snapshotId` of `host`, whatever its status. */
  hasSnapshot(host: string, snapshotId: string): boolean {
    return this.db.prepare("SELECT 1 FROM snapshots WHERE host = ? AND id = ?").get(host, snapshotId) !== undefined;
  }

  /** The job ended without a manifest. */
  failSnapshot(host: string, snapshotId: string): void {
    this.db.prepare("UPDATE snapshots SET status = 'failed', finished_at = ? WHERE host = ? AND id = ? AND status = 'incomplete'").run(now(), host, snapshotId);
  }

  recordError(e: { runId: string; jobId?: string; host?: string; plugin?: string; code: string; message: string; hint?: string }): void {
    this.db
      .prepare("INSERT INTO events(time, level, run_id, job_id, host, plugin, code, message, hint) VALUES (?, 'error', ?, ?, ?, ?, ?, ?, ?)")
      .run(now(), e.runId, e.jobId ?? null, e.host ?? null, e.plugin ?? null, e.code, e.message, e.hint ?? null);
  }

  recordWarning(w: { runId: string; jobId?: string; host?: string; plugin?: string; message: string }): void {
    this.db
      .prepare("INSERT INTO events(time, level, run_id, job_id, host, plugin, message) VALUES (?, 'warning', ?, ?, ?, ?, ?)")
      .run(now(), w.runId, w.jobId ?? null, w.host ?? null, w.plugin ?? null, w.message);
  }

  /** A hook command that ran on a host, with its output (the run's log). */
  recordHook(h: { runId: string; jobId: string; host: string; plugin: string; phase: "prepare" | "before" | "after"; command: string; code: number; output: string }): void {
    this.db
      .prepare("INSERT INTO hook_runs(time, run_id, job_id, host, plugin, phase, command, exit_code, output) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")
      .run(now(), h.runId, h.jobId, h.host, h.plugin, h.phase, h.command, h.code, h.output);
  }

  /**
   * A verification of a stored snapshot: its level (e.g. `deep`), result and what was checked,
   * how long it took and where it ran (`onHost` null: on the controller), and each plugin
   * instance's own result (what verification rotation counts).
   */
  recordVerification(v: { host: string; snapshotId: string; level: string; result: "ok" | "failed"; details: Record<string, unknown>; durationMs?: number; onHost?: string | null; instances?: { instance: string; result: "ok" | "failed"; durationMs?: number }[] }): void {
    const t = now();
    this.db.transaction(() => {
      const { lastInsertRowid } = this.db
        .prepare("INSERT INTO verifications(host, snapshot_id, level, result, time, details, duration_ms, on_host) VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
        .run(v.host, v.snapshotId, v.level, v.result, t, JSON.stringify(v.details), v.durationMs ?? null, v.onHost ?? null);
      const instance = this.db.prepare("INSERT INTO verification_instances(verification_id, host, snapshot_id, instance, level, result, time, duration_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
      for (const i of v.instances ?? []) instance.run(lastInsertRowid, v.host, v.snapshotId, i.instance, v.level, i.result, t, i.durationMs ?? null);
    })();
  }

  /** Verifications of a snapshot, newest first. */
  verifications(host: string, snapshotId: string): VerificationView[] {
    const rows = this.db.prepare("SELECT level, result, time, details FROM verifications WHERE host = ? AND snapshot_id = ? ORDER BY id DESC").all(host, snapshotId) as { level: string; result: "ok" | "failed"; time: string; details: string | null }[];
    return rows.map((r) => ({ level: r.level, result: r.result, time: r.time, details: r.details ? (JSON.parse(r.details) as Record<string, unknown>) : {} }));
  }

  /** `host`'s newest verification, whatever its result, or undefined when it was never verified. */
  lastVerification(host: string): { snapshotId: string; result: "ok" | "failed"; time: string } | undefined {
    return this.db.prepare("SELECT snapshot_id AS snapshotId, result, time FROM verifications WHERE host = ? ORDER BY id DESC LIMIT 1").get(host) as never;
  }

  /** Each host's newest verification, whatever its result. */
  lastVerifications(): { host: string; snapshotId: string; result: "ok" | "failed"; time: string }[] {
    return this.db
      .prepare("SELECT host, snapshot_id AS snapshotId, result, time FROM verifications v WHERE id = (SELECT max(id) FROM verifications WHERE host = v.host) ORDER BY host")
      .all() as never;
  }

  /** How one plugin instance of a backup job ended, and how long it took. */
  recordInstanceRun(r: { jobId: string; host: string; instance: string; status: "ok" | "failed"; durationMs: number }): void {
    this.db.prepare("INSERT OR REPLACE INTO job_instances(job_id, host, instance, status, duration_ms) VALUES (?, ?, ?, ?, ?)").run(r.jobId, r.host, r.instance, r.status, Math.round(r.durationMs));
  }

  /** Hook runs of a job, in order. */
  jobHooks(jobId: string): { plugin: string; phase: string; command: string; exitCode: number; output: string }[] {
    return this.db.prepare("SELECT plugin, phase, command, exit_code AS exitCode, output FROM hook_runs WHERE job_id = ? ORDER BY id").all(jobId) as never;
  }

  /** Errors of a run, oldest first. */
  runErrors(runId: string): { host: string | null; plugin: string | null; code: string; message: string; hint: string | null }[] {
    return this.db.prepare("SELECT host, plugin, code, message, hint FROM events WHERE run_id = ? AND level = 'error' ORDER BY id").all(runId) as never;
  }

  private view(row: SnapshotRow): SnapshotView {
    const artifacts = (this.db.prepare(`SELECT ${ARTIFACT_COLUMNS} FROM artifacts WHERE host = ? AND snapshot_id = ? ORDER BY instance, name`).all(row.host, row.id) as ArtifactRow[]).map(artifactOfRow);
    return {
      id: row.id,
      host: row.host,
      status: row.status,
      startedAt: row.started_at,
      finishedAt: row.finished_at,
      destination: row.destination,
      destinationDescription: row.destination_description,
      manifestKey: row.manifest_key,
      manifestSha256: row.manifest_sha256,
      manifestSize: row.manifest_size,
      damage: row.damage,
      recipient: row.recipient,
      rehash: row.rehash === 1,
      plainSize: artifacts.reduce((n, a) => n + a.plainSize, 0),
      // What the snapshot added to storage: its objects and the chunks it uploaded (reused chunks count where first stored).
      storedSize: artifacts.reduce((n, a) => n + a.storedSize + (a.chunks?.uploadedBytes ?? 0), 0),
      artifacts,
      verification: this.verifications(row.host, row.id)[0] ?? null,
    };
  }

  /** Snapshots, newest first, optionally of one host. */
  listSnapshots(filter: { host?: string } = {}): SnapshotView[] {
    const rows = (
      filter.host
        ? this.db.prepare("SELECT * FROM snapshots WHERE host = ? ORDER BY started_at DESC, id DESC").all(filter.host)
        : this.db.prepare("SELECT * FROM snapshots ORDER BY started_at DESC, id DESC").all()
    ) as SnapshotRow[];
    return rows.map((r) => this.view(r));
  }

  /** The snapshot `id` of `host` whatever its status (complete, failed, being written); undefined if the ledger has none. */
  snapshot(host: string, id: string): SnapshotView | undefined {
    const row = this.db.prepare("SELECT * FROM snapshots WHERE host = ? AND id = ?").get(host, id) as SnapshotRow | undefined;
    return row ? this.view(row) : undefined;
  }

  /** A complete snapshot of `host` by id, or the newest complete one for "latest"; undefined if none. */
  getSnapshot(host: string, idOrLatest: string): SnapshotView | undefined {
    const row = (
      idOrLatest === "latest"
        ? this.db.prepare("SELECT * FROM snapshots WHERE host = ? AND status = 'complete' AND damage IS NULL ORDER BY finished_at DESC, id DESC LIMIT 1").get(host)
        : this.db.prepare("SELECT * FROM snapshots WHERE host = ? AND id = ? AND status = 'complete'").get(host, idOrLatest)
    ) as SnapshotRow | undefined;
    return row ? this.view(row) : undefined;
  }

  /**
   * The newest complete, undamaged snapshot of `host` taken at or before `time`
   * (by when it started: the data is as of then); undefined if none.
   */
  snapshotAt(host: string, time: Date): SnapshotView | undefined {
    const row = this.db
      .prepare("SELECT * FROM snapshots WHERE host = ? AND status = 'complete' AND damage IS NULL AND started_at <= ? ORDER BY started_at DESC, id DESC LIMIT 1")
      .get(host, time.toISOString()) as SnapshotRow | undefined;
    return row ? this.view(row) : undefined;
  }

  /** Each host's newest complete snapshot. */
  lastGoodSnapshots(): { host: string; snapshotId: string; finishedAt: string }[] {
    return this.db
      .prepare("SELECT host, id AS snapshotId, max(finished_at) AS finishedAt FROM snapshots WHERE status = 'complete' AND damage IS NULL GROUP BY host ORDER BY host")
      .all() as never;
  }
}
