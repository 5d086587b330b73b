/**
 * @module TEST ONLY: moves ledger rows back in time by writing the controller's
 * SQLite file directly, so that retention can be tested on snapshots made in
 * one test run but "taken" days, weeks or years apart. No product code has (or
 * should have) a way to do this: the ledger's times are the times things happened.
 */
import Database from "better-sqlite3";

/** Opens the ledger file for one edit (WAL, like the controller; waits for its lock). */
function withLedger<T>(file: string, edit: (db: Database.Database) => T): T {
  const db = new Database(file);
  try {
    db.pragma("busy_timeout = 5000");
    return db.transaction(() => edit(db))();
  } finally {
    db.close();
  }
}

/**
 * TEST ONLY: sets when a snapshot was taken (`started_at`) and finished
 * (`finished_at`, one minute later), its job's times, and the recording time
 * of the blobs its job uploaded.
 */
export function setSnapshotTime(ledgerFile: string, host: string, snapshotId: string, startedAt: Date): void {
  const started = startedAt.toISOString();
  const finished = new Date(startedAt.getTime() + 60_000).toISOString();
  withLedger(ledgerFile, (db) => {
    const changed = db.prepare("UPDATE snapshots SET started_at = ?, finished_at = CASE WHEN finished_at IS NULL THEN NULL ELSE ? END WHERE host = ? AND id = ?").run(started, finished, host, snapshotId).changes;
    if (changed !== 1) throw new Error(`test ledger edit: no snapshot ${host}/${snapshotId}`);
    db.prepare("UPDATE jobs SET started_at = ?, finished_at = CASE WHEN finished_at IS NULL THEN NULL ELSE ? END WHERE id = (SELECT job_id FROM snapshots WHERE host = ? AND id = ?)").run(started, finished, host, snapshotId);
    db.prepare("UPDATE blobs SET recorded_at = ? WHERE host = ? AND snapshot_id = ?").run(finished, host, snapshotId);
  });
}
