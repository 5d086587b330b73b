/** @module The ledger's schema, as an ordered list of migrations (tracked in `PRAGMA user_version`). */
import type Database from "better-sqlite3";
import { LifeboatError } from "../../core/errors";

/** Migration N (1-based) brings the schema from version N-1 to N. Never edit a released one; append. */
export const MIGRATIONS: string[] = [
  `
  CREATE TABLE hosts (
    name TEXT PRIMARY KEY,
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL,
    agent_version TEXT,
    runtime TEXT
  );
  CREATE TABLE runs (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('backup','restore','verify','prune')),
    trigger TEXT NOT NULL,
    hosts TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    status TEXT NOT NULL DEFAULT 'running' CHECK (status IN ('running','ok','partial','failed'))
  );
  CREATE TABLE jobs (
    id TEXT PRIMARY KEY,
    run_id TEXT NOT NULL REFERENCES runs(id),
    host TEXT NOT NULL,
    kind TEXT NOT NULL,
    snapshot_id TEXT,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    status TEXT NOT NULL DEFAULT 'running' CHECK (status IN ('running','ok','partial','failed')),
    duration_ms INTEGER,
    bytes_plain INTEGER,
    bytes_stored INTEGER,
    error_code TEXT,
    error_message TEXT
  );
  CREATE INDEX jobs_by_run ON jobs(run_id);
  CREATE TABLE snapshots (
    host TEXT NOT NULL,
    id TEXT NOT NULL,
    job_id TEXT REFERENCES jobs(id),
    started_at TEXT NOT NULL,
    finished_at TEXT,
    status TEXT NOT NULL DEFAULT 'incomplete' CHECK (status IN ('incomplete','complete','failed')),
    destination TEXT NOT NULL,
    destination_description TEXT NOT NULL,
    manifest_key TEXT,
    manifest_sha256 TEXT,
    manifest_size INTEGER,
    PRIMARY KEY (host, id)
  );
  CREATE INDEX snapshots_by_status ON snapshots(host, status, finished_at);
  CREATE TABLE artifacts (
    host TEXT NOT NULL,
    snapshot_id TEXT NOT NULL,
    plugin TEXT NOT NULL,
    instance TEXT NOT NULL,
    name TEXT NOT NULL,
    object_key TEXT NOT NULL,
    plain_size INTEGER NOT NULL,
    stored_size INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    compression TEXT NOT NULL,
    metadata TEXT NOT NULL,
    PRIMARY KEY (host, snapshot_id, instance, name),
    FOREIGN KEY (host, snapshot_id) REFERENCES snapshots(host, id) ON DELETE CASCADE
  );
  CREATE TABLE events (
    id INTEGER PRIMARY KEY,
    time TEXT NOT NULL,
    level TEXT NOT NULL CHECK (level IN ('error','warning')),
    run_id TEXT,
    job_id TEXT,
    host TEXT,
    plugin TEXT,
    code TEXT,
    message TEXT NOT NULL,
    hint TEXT
  );
  CREATE INDEX events_by_run ON events(run_id);
  CREATE TABLE verifications (
    id INTEGER PRIMARY KEY,
    host TEXT NOT NULL,
    snapshot_id TEXT NOT NULL,
    level TEXT NOT NULL,
    result TEXT NOT NULL,
    time TEXT NOT NULL,
    details TEXT
  );
  CREATE TABLE deletions (
    id INTEGER PRIMARY KEY,
    host TEXT NOT NULL,
    snapshot_id TEXT NOT NULL,
    object_key TEXT,
    rule TEXT NOT NULL,
    time TEXT NOT NULL
  );
  `,
  `
  CREATE TABLE hook_runs (
    id INTEGER PRIMARY KEY,
    time TEXT NOT NULL,
    run_id TEXT NOT NULL,
    job_id TEXT NOT NULL,
    host TEXT NOT NULL,
    plugin TEXT NOT NULL,
    phase TEXT NOT NULL CHECK (phase IN ('before','after')),
    command TEXT NOT NULL,
    exit_code INTEGER NOT NULL,
    output TEXT NOT NULL
  );
  CREATE INDEX hook_runs_by_job ON hook_runs(job_id);
  `,
  `
  -- Which controller process runs a run ("hostname:pid"), so that another can tell an abandoned one.
  ALTER TABLE runs ADD COLUMN owner TEXT;
  -- Snapshot rows are made when an agent starts writing; rows of jobs that never reached an agent
  -- (nothing stored, no manifest) were failed runs, kept in jobs and events, not snapshots.
  DELETE FROM snapshots WHERE status = 'failed' AND manifest_key IS NULL
    AND NOT EXISTS (SELECT 1 FROM artifacts a WHERE a.host = snapshots.host AND a.snapshot_id = snapshots.id);
  -- Why a complete snapshot can no longer be trusted (its manifest was found missing or altered).
  ALTER TABLE snapshots ADD COLUMN damage TEXT;
  -- The recipient of the host key the snapshot is encrypted to (NULL: made before hosts had keys, master only).
  ALTER TABLE snapshots ADD COLUMN recipient TEXT;
  `,
  `
  -- The blob area as the controller knows it: only these blobs are referenced without upload.
  CREATE TABLE blobs (
    destination TEXT NOT NULL,
    object_key TEXT NOT NULL,
    name TEXT NOT NULL,           -- keyed name: HMAC of the content digest
    digest TEXT NOT NULL,
    sha256 TEXT,                  -- of the stored object (NULL: recorded before the ledger kept blobs)
    stored_size INTEGER,
    recipient TEXT,               -- the blob area key it is encrypted to (NULL: unknown)
    host TEXT NOT NULL,           -- the job that uploaded it
    snapshot_id TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    checked_at TEXT,              -- read through by the controller: stored hash, age, content digest
    damage TEXT,                  -- why it is not to be trusted
    PRIMARY KEY (destination, object_key)
  );
  CREATE INDEX blobs_by_name ON blobs(destination, name);
  INSERT OR IGNORE INTO blobs(destination, object_key, name, digest, host, snapshot_id, recorded_at)
    SELECT s.destination, json_extract(b.value, '$.key'), substr(json_extract(b.value, '$.key'), 10, 64), json_extract(b.value, '$.digest'), s.host, s.id, s.finished_at
    FROM snapshots s JOIN artifacts a ON a.host = s.host AND a.snapshot_id = s.id, json_each(a.metadata, '$.blobs') b
    WHERE s.status = 'complete' AND json_extract(b.value, '$.key') LIKE 'blobs/v2/%';
  `,
  `
  -- Fleet operations: how long verifications and restores take, what prune deleted, open alerts.
  ALTER TABLE verifications ADD COLUMN duration_ms INTEGER;
  ALTER TABLE verifications ADD COLUMN on_host TEXT;
  CREATE INDEX verifications_by_host ON verifications(host, time);
  -- Measured restore times ("drill": verify --drill into scratch; "restore": a real restore), per plugin instance.
  CREATE TABLE restore_times (
    id INTEGER PRIMARY KEY,
    host TEXT NOT NULL,          -- the host whose snapshot was restored
    snapshot_id TEXT NOT NULL,
    instance TEXT,               -- NULL: the whole job
    kind TEXT NOT NULL CHECK (kind IN ('drill','restore')),
    on_host TEXT NOT NULL,
    duration_ms INTEGER NOT NULL,
    time TEXT NOT NULL
  );
  CREATE INDEX restore_times_by_host ON restore_times(host, time);
  -- Fleet status and verification rotation: the job a restore time belongs to (its rows share it),
  -- each plugin instance's result within a verification (the rotation covers instances, not snapshots),
  -- and indexes for the per-host questions status asks (newest good snapshot, last backup job).
  ALTER TABLE restore_times ADD COLUMN job_id TEXT;
  CREATE TABLE verification_instances (
    verification_id INTEGER NOT NULL REFERENCES verifications(id) ON DELETE CASCADE,
    host TEXT NOT NULL,
    snapshot_id TEXT NOT NULL,
    instance TEXT NOT NULL,
    level TEXT NOT NULL,
    result TEXT NOT NULL CHECK (result IN ('ok','failed')),
    time TEXT NOT NULL,
    duration_ms INTEGER,
    PRIMARY KEY (verification_id, instance)
  );
  CREATE INDEX verification_instances_by_host ON verification_instances(host, level, result, instance, time);
  INSERT INTO verification_instances(verification_id, host, snapshot_id, instance, level, result, time)
    SELECT v.id, v.host, v.snapshot_id, p.key, v.level, CASE json_extract(p.value, '$.status') WHEN 'ok' THEN 'ok' ELSE 'failed' END, v.time
    FROM verifications v, json_each(v.details, '$.plugins') p
    WHERE json_valid(v.details) AND json_type(v.details, '$.plugins') = 'object';
  CREATE INDEX snapshots_good ON snapshots(host, finished_at, id) WHERE status = 'complete' AND damage IS NULL;
  -- A host's failed snapshots (its debris, for status): a few among hundreds.
  CREATE INDEX snapshots_failed ON snapshots(host, id) WHERE status = 'failed';
  CREATE INDEX jobs_by_host ON jobs(host, kind, finished_at);
  ALTER TABLE deletions ADD COLUMN destination TEXT;
  ALTER TABLE deletions ADD COLUMN run_id TEXT;
  CREATE INDEX deletions_by_host ON deletions(host, snapshot_id);
  -- A snapshot prune has begun to delete (objects first, then rows), with the rule and the run:
  -- a prune that stopped half way leaves it marked, and the next one finishes it.
  ALTER TABLE snapshots ADD COLUMN deleting_rule TEXT;
  ALTER TABLE snapshots ADD COLUMN deleting_run TEXT;
  -- Covers what prune reads of every snapshot of a host (a fleet's prune reads all of them).
  CREATE INDEX snapshots_for_prune ON snapshots(host, started_at, id, status, destination, damage, deleting_rule, deleting_run, job_id, manifest_key);
  -- The jobs running now (a handful, whatever the history): whether a backup runs, which snapshots are being written.
  CREATE INDEX jobs_running ON jobs(host) WHERE status = 'running';
  -- The few artifacts that reference blobs (Ollama's): what blob garbage collection reads.
  CREATE INDEX artifacts_with_blobs ON artifacts(host, snapshot_id) WHERE instr(metadata, '"blobs"') > 0;
  -- Problems alerts were sent about: throttled while open, closed by a "recovered" message.
  CREATE TABLE alerts (
    id INTEGER PRIMARY KEY,
    host TEXT NOT NULL,
    event TEXT NOT NULL,         -- failure, stale, verify-failed, cert-expiring
    subject TEXT NOT NULL DEFAULT '',  -- what within the host (a plugin instance, a certificate)
    message TEXT NOT NULL,
    opened_at TEXT NOT NULL,
    last_sent_at TEXT,
    sent_count INTEGER NOT NULL DEFAULT 0,
    closed_at TEXT
  );
  CREATE INDEX alerts_open ON alerts(host, event, subject, closed_at);
  -- Per notifier, when an open problem was last sent to it (each notifier's repeat: throttles it).
  CREATE TABLE alert_deliveries (
    alert_id INTEGER NOT NULL REFERENCES alerts(id) ON DELETE CASCADE,
    notifier TEXT NOT NULL,      -- its type and a hash of its URL (the URL is a secret)
    last_sent_at TEXT NOT NULL,
    sent_count INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (alert_id, notifier)
  );
  `,
  `
  -- Each host's chunk area as the controller knows it (chunked artifacts, deduplicated per host):
  -- a chunk counts as stored only when a job of this controller reported its upload.
  CREATE TABLE chunks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,  -- what snapshot_chunks lists: given in upload order (a snapshot's ids form runs), never reused
    destination TEXT NOT NULL,    -- the inventory name
    host TEXT NOT NULL,
    name TEXT NOT NULL,           -- keyed name: HMAC of the plain content's hash under the host's chunk naming key
    object_key TEXT NOT NULL,
    size INTEGER NOT NULL,        -- plain bytes
    sha256 TEXT NOT NULL,         -- of the stored object
    stored_size INTEGER NOT NULL,
    recipient TEXT,               -- the host key it is encrypted to (NULL: unknown, never referenced by a backup)
    snapshot_id TEXT NOT NULL,    -- the job that last uploaded it
    recorded_at TEXT NOT NULL,
    damage TEXT,                  -- why it is not to be trusted: backups upload it again
    UNIQUE (destination, object_key)
  );
  CREATE INDEX chunks_by_name ON chunks(destination, host, name);
  -- The few damaged chunks of a host (what a backup must not reference), among millions.
  CREATE INDEX chunks_damaged ON chunks(destination, host) WHERE damage IS NOT NULL;
  -- The chunks each snapshot references, per plugin instance, in batches: ids is a set of chunk ids
  -- as controller/ledger/id-set.ts encodes it, count how many it holds. A snapshot's chunk set is
  -- the union of its rows (one per instance once it is complete).
  CREATE TABLE snapshot_chunks (
    host TEXT NOT NULL,
    snapshot_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    instance TEXT NOT NULL,
    ids BLOB NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (host, snapshot_id, seq),
    FOREIGN KEY (host, snapshot_id) REFERENCES snapshots(host, id) ON DELETE CASCADE
  );
  -- A chunked artifact's counts (ChunkStats JSON); NULL for an artifact stored as one object.
  ALTER TABLE artifacts ADD COLUMN chunks TEXT;
  -- 1: the job was sent rehash (every file read, whatever its metadata says); what rehashEvery counts from.
  ALTER TABLE snapshots ADD COLUMN rehash INTEGER;
  CREATE INDEX snapshots_rehashed ON snapshots(host, started_at) WHERE rehash = 1 AND status = 'complete';
  `,
  `
  -- Hooks of phase 'prepare' (run before an in-place restore): SQLite cannot change a CHECK, so the table is rebuilt.
  CREATE TABLE hook_runs_new (
    id INTEGER PRIMARY KEY,
    time TEXT NOT NULL,
    run_id TEXT NOT NULL,
    job_id TEXT NOT NULL,
    host TEXT NOT NULL,
    plugin TEXT NOT NULL,
    phase TEXT NOT NULL CHECK (phase IN ('prepare','before','after')),
    command TEXT NOT NULL,
    exit_code INTEGER NOT NULL,
    output TEXT NOT NULL
  );
  INSERT INTO hook_runs_new SELECT id, time, run_id, job_id, host, plugin, phase, command, exit_code, output FROM hook_runs;
  DROP TABLE hook_runs;
  ALTER TABLE hook_runs_new RENAME TO hook_runs;
  CREATE INDEX hook_runs_by_job ON hook_runs(job_id);
  `,
  `
  -- Each snapshot's sizes, kept by triggers as its artifacts are recorded (plain bytes; stored: objects and
  -- uploaded chunks; reused chunk bytes; artifacts): what the dashboard sums per host, destination and day
  -- without reading every artifact row.
  ALTER TABLE snapshots ADD COLUMN plain_bytes INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE snapshots ADD COLUMN stored_bytes INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE snapshots ADD COLUMN reused_bytes INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE snapshots ADD COLUMN artifact_count INTEGER NOT NULL DEFAULT 0;
  UPDATE snapshots SET (plain_bytes, stored_bytes, reused_bytes, artifact_count) = (SELECT coalesce(sum(a.plain_size), 0), coalesce(sum(a.stored_size + coalesce(json_extract(a.chunks, '$.uploadedBytes'), 0)), 0), coalesce(sum(coalesce(json_extract(a.chunks, '$.reusedBytes'), 0)), 0), count(*) FROM artifacts a WHERE a.host = snapshots.host AND a.snapshot_id = snapshots.id);
  -- Recomputed from the snapshot's rows (not added to): an INSERT OR REPLACE of an artifact counts once.
  CREATE TRIGGER artifacts_sizes_after_insert AFTER INSERT ON artifacts BEGIN
    UPDATE snapshots SET (plain_bytes, stored_bytes, reused_bytes, artifact_count) = (SELECT coalesce(sum(a.plain_size), 0), coalesce(sum(a.stored_size + coalesce(json_extract(a.chunks, '$.uploadedBytes'), 0)), 0), coalesce(sum(coalesce(json_extract(a.chunks, '$.reusedBytes'), 0)), 0), count(*) FROM artifacts a WHERE a.host = NEW.host AND a.snapshot_id = NEW.snapshot_id)
    WHERE host = NEW.host AND id = NEW.snapshot_id;
  END;
  CREATE TRIGGER artifacts_sizes_after_delete AFTER DELETE ON artifacts BEGIN
    UPDATE snapshots SET (plain_bytes, stored_bytes, reused_bytes, artifact_count) = (SELECT coalesce(sum(a.plain_size), 0), coalesce(sum(a.stored_size + coalesce(json_extract(a.chunks, '$.uploadedBytes'), 0)), 0), coalesce(sum(coalesce(json_extract(a.chunks, '$.reusedBytes'), 0)), 0), count(*) FROM artifacts a WHERE a.host = OLD.host AND a.snapshot_id = OLD.snapshot_id)
    WHERE host = OLD.host AND id = OLD.snapshot_id;
  END;
  CREATE INDEX snapshots_sizes ON snapshots(host, destination, plain_bytes, stored_bytes, reused_bytes);
  `,
  `
  -- How each plugin instance of a backup job ended and how long it took (the agent's plugin-done events).
  CREATE TABLE job_instances (
    job_id TEXT NOT NULL,
    host TEXT NOT NULL,
    instance TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('ok','failed')),
    duration_ms INTEGER NOT NULL,
    PRIMARY KEY (job_id, instance)
  );
  `,
];

/**
 * Brings `db` to the newest schema, one transaction per migration.
 * @throws LifeboatError("CONFIG") for a ledger written by a newer Lifeboat.
 */
export function migrate(db: Database.Database, file: string): void {
  const current = db.pragma("user_version", { simple: true }) as number;
  if (current > MIGRATIONS.length) {
    throw new LifeboatError("CONFIG", `Cannot open the ledger "${file}": it has schema version ${current}, this Lifeboat knows up to ${MIGRATIONS.length}`, {
      hint: "upgrade Lifeboat on this controller",
    });
  }
  for (let version = current; version < MIGRATIONS.length; version++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[version]!);
      db.pragma(`user_version = ${version + 1}`);
    })();
  }
}
