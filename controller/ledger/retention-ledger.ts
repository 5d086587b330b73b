/**
 * @module What `controller prune` reads and writes in the ledger: each host's
 * snapshots with what retention needs to know of them, the marks of deletions
 * under way, the removal of a deleted snapshot's rows with one `deletions` row
 * per object, the blob area's references for the garbage collection of blobs,
 * and taking unreferenced chunks out of use and forgetting them once deleted.
 */
import type Database from "better-sqlite3";
import { Statements } from "./statements";

/** A snapshot as prune sees it (and, as it is, as the retention plan takes it: `PlanSnapshot`). */
export interface PruneSnapshot {
  host: string;
  id: string;
  status: "incomplete" | "complete" | "failed";
  /** When it was taken (its job's start, `started_at`), ISO 8601. */
  time: string;
  destination: string;
  damage: string | null;
  /** Whether its newest deep verification passed. */
  verified: boolean;
  /** Whether the job writing it is still running (never debris then). */
  jobRunning: boolean;
  /** Set when a prune began deleting it: the rule and the run (a deletion to finish). */
  deleting: { rule: string; runId: string } | null;
  /** Whether the ledger names its manifest (one of its objects). */
  manifest: boolean;
}

/** A blob object of the ledger's blob area, as garbage collection sees it. */
export interface BlobCandidate {
  destination: string;
  objectKey: string;
  recordedAt: string;
  /** The host and snapshot whose job uploaded it. */
  host: string;
  snapshotId: string;
}

/** A row of `deletions`. */
export interface DeletionRow {
  host: string;
  snapshotId: string;
  objectKey: string | null;
  rule: string;
  time: string;
  destination: string | null;
  runId: string | null;
}

/** What {@link RetentionLedger.chunkGeneration} reads of a host: its backup jobs (all, running) and its newest set of chunk references. */
export interface ChunkGeneration {
  backups: number;
  running: number;
  sets: number;
}

const now = () => new Date().toISOString();
/** Chunk ids per statement (through json_each). */
const ID_BATCH = 10_000;

/** A snapshot as {@link RetentionLedger.snapshots} reads it: a JSON array (`common`: `id TAB started_at` when it can). */
const snapshotLine = (common: boolean) => `CASE
  WHEN ${common ? "status = 'complete' AND manifest_key IS NOT NULL AND damage IS NULL AND deleting_rule IS NULL AND destination = @destination AND (@running IS NULL OR job_id IS NULL OR job_id NOT IN (SELECT value FROM json_each(@running)))" : "0"}
  THEN id || char(9) || started_at
  ELSE json_array(id, started_at, status, destination, damage, deleting_rule, deleting_run, @running IS NOT NULL AND job_id IN (SELECT value FROM json_each(@running)), manifest_key IS NOT NULL)
END`;
/** Every snapshot of host @host, one line each (oldest first, as the index gives them), and how many. */
const SNAPSHOT_LINES = `SELECT group_concat(${snapshotLine(true)}, char(10)), count(*) FROM snapshots INDEXED BY snapshots_for_prune WHERE host = @host`;
/** The same, every line a JSON array. */
const SNAPSHOT_JSON_LINES = `SELECT group_concat(${snapshotLine(false)}, char(10)) FROM snapshots INDEXED BY snapshots_for_prune WHERE host = @host`;

/** A line of {@link RetentionLedger.snapshots}'s text that is a JSON array, or null when it is not one. */
function parseRow(line: string): [string, string, PruneSnapshot["status"], string, string | null, string | null, string | null, number | null, number] | null {
  if (!line.startsWith("[")) return null;
  try {
    return JSON.parse(line) as never;
  } catch {
    return null;
  }
}

/** The ledger's side of retention (prune), over the ledger's database. */
export class RetentionLedger {
  private readonly statements: Statements;

  /** `fn()` in a transaction (made once: a prune runs one per host). */
  private readonly inTransaction: (fn: () => unknown) => unknown;

  constructor(private readonly db: Database.Database) {
    this.statements = new Statements(db);
    this.inTransaction = db.transaction((fn: () => unknown) => fn());
  }

  /** A statement, prepared once: a prune of a big fleet runs the same few statements tens of thousands of times. */
  private q(sql: string): Database.Statement {
    return this.statements.sql(sql);
  }

  /** Whether any artifact references blobs (most ledgers have none: no Ollama), from the partial index artifacts_with_blobs. */
  anyBlobReferences(): boolean {
    return this.q(`SELECT EXISTS (SELECT 1 FROM artifacts INDEXED BY artifacts_with_blobs WHERE instr(metadata, '"blobs"') > 0)`).pluck().get() === 1;
  }

  /**
   * For every snapshot of `host` whose artifacts reference blobs (Ollama's), the
   * blob object keys they reference: one query for the whole host, through the
   * partial index artifacts_with_blobs (most snapshots have none).
   */
  blobKeysOf(host: string): Map<string, string[]> {
    const out = new Map<string, string[]>();
    const rows = this.q(
      `SELECT DISTINCT a.snapshot_id, json_extract(b.value, '$.key') FROM artifacts a INDEXED BY artifacts_with_blobs, json_each(a.metadata, '$.blobs') b
       WHERE a.host = ? AND instr(a.metadata, '"blobs"') > 0 AND json_extract(b.value, '$.key') IS NOT NULL`,
    )
      .raw()
      .all(host) as [string, string][];
    for (const [id, key] of rows) {
      const keys = out.get(id);
      if (keys) keys.push(key);
      else out.set(id, [key]);
    }
    return out;
  }

  /**
   * How many artifacts the ledger knows for the snapshots `ids` of `host` — or,
   * with `allBut`, for all of its snapshots but those: a dry run counts what its
   * plan deletes this way, per host, with one index range count and a lookup per
   * snapshot named (the fewer of kept and deleted), instead of counting every
   * snapshot's artifacts.
   */
  artifactCount(host: string, ids: string[], allBut = false): number {
    // From the ids named to their rows (CROSS JOIN keeps that order): a lookup each.
    const named = "SELECT count(*) FROM json_each(@ids) j CROSS JOIN artifacts a ON a.host = @host AND a.snapshot_id = j.value";
    return this.q(allBut ? `SELECT (SELECT count(*) FROM artifacts WHERE host = @host) - (${named})` : named)
      .pluck()
      .get({ host, ids: JSON.stringify(ids) }) as number;
  }

  /** Runs `read` in one read transaction, so that everything it reads is of one state of the ledger. */
  consistent<T>(read: () => T): T {
    return this.inTransaction(read) as T;
  }

  /** Every snapshot of `host`, newest first, whatever its status. @param destination the host's destination (see below). */
  snapshots(host: string, destination = ""): PruneSnapshot[] {
    // A prune of 200 hosts × 400 snapshots reads 80,000 snapshots, and a row (an array) per
    // snapshot made by the driver costs several times what SQLite takes to read it: SQLite builds
    // one text for the host instead, from the covering index snapshots_for_prune. A snapshot in
    // `destination`, complete with its manifest, undamaged, not being deleted and not written by a
    // running job (nearly all of them) is a line `id TAB started_at`; any other is a JSON array.
    // The aggregate takes the rows as the index scan gives them, oldest first (an ORDER BY, in a
    // subquery or in the aggregate, costs a third more): read back to front, and the order is
    // checked all the same (sorted, should it ever not be the index's).
    const running = this.q("SELECT id FROM jobs WHERE host = ? AND status = 'running'").pluck().all(host) as string[];
    const params = { host, destination, running: running.length > 0 ? JSON.stringify(running) : null };
    const [text, count] = this.q(SNAPSHOT_LINES).raw().get(params) as [string | null, number];
    if (text === null) return [];
    // The newest deep verification of each snapshot (few rows: a verification a week or so).
    const deep = new Map<string, string>();
    for (const [id, result] of this.q("SELECT snapshot_id, result FROM verifications WHERE host = ? AND level = 'deep' ORDER BY id").raw().all(host) as [string, string][]) {
      deep.set(id, result);
    }
    const out = this.readLines(host, destination, text, count, deep);
    // A tab or a line break in an id or a time (never written so, but the text must not be misread):
    // every line a JSON array then (JSON escapes both).
    return out ?? this.readLines(host, destination, this.q(SNAPSHOT_JSON_LINES).pluck().get(params) as string, count, deep)!;
  }

  /** The snapshots of {@link snapshots}'s text, newest first; null when it does not read as `count` snapshots. */
  private readLines(host: string, destination: string, text: string, count: number, deep: Map<string, string>): PruneSnapshot[] | null {
    const out: PruneSnapshot[] = [];
    for (let at = 0; at <= text.length; ) {
      let end = text.indexOf("\n", at);
      if (end === -1) end = text.length;
      const tab = text.indexOf("\t", at);
      if (tab === -1 || tab > end) {
        const row = parseRow(text.slice(at, end));
        if (!row) return null;
        const [id, time, status, rowDestination, damage, deletingRule, deletingRun, jobRunning, manifest] = row;
        out.push({
          host,
          id,
          status,
          time,
          destination: rowDestination,
          damage,
          verified: deep.get(id) === "ok",
          jobRunning: jobRunning === 1,
          deleting: deletingRule !== null ? { rule: deletingRule, runId: deletingRun ?? "" } : null,
          manifest: manifest === 1,
        });
      } else {
        const next = text.indexOf("\t", tab + 1);
        if (next !== -1 && next < end) return null;
        const id = text.slice(at, tab);
        out.push({ host, id, status: "complete", time: text.slice(tab + 1, end), destination, damage: null, verified: deep.size > 0 && deep.get(id) === "ok", jobRunning: false, deleting: null, manifest: true });
      }
      at = end + 1;
    }
    if (out.length !== count) return null;
    out.reverse();
    const newerFirst = (a: PruneSnapshot, b: PruneSnapshot) => (a.time !== b.time ? (a.time > b.time ? -1 : 1) : a.id > b.id ? -1 : a.id < b.id ? 1 : 0);
    for (let i = 1; i < out.length; i++) {
      if (!(out[i - 1]!.time > out[i]!.time) && newerFirst(out[i - 1]!, out[i]!) > 0) return out.sort(newerFirst);
    }
    return out;
  }

  /** The object keys the ledger knows for a snapshot: its artifacts and its manifest. */
  objectKeys(host: string, snapshotId: string): string[] {
    const artifacts = this.q("SELECT object_key FROM artifacts WHERE host = ? AND snapshot_id = ? ORDER BY object_key").all(host, snapshotId) as { object_key: string }[];
    const manifest = this.q("SELECT manifest_key FROM snapshots WHERE host = ? AND id = ?").get(host, snapshotId) as { manifest_key: string | null } | undefined;
    return [...artifacts.map((a) => a.object_key), ...(manifest?.manifest_key ? [manifest.manifest_key] : [])];
  }

  /** The blob object keys a snapshot's artifacts reference (`metadata.blobs[].key`). */
  blobKeys(host: string, snapshotId: string): string[] {
    const rows = this
      .q("SELECT DISTINCT json_extract(b.value, '$.key') AS key FROM artifacts a, json_each(a.metadata, '$.blobs') b WHERE a.host = ? AND a.snapshot_id = ? AND json_extract(b.value, '$.key') IS NOT NULL")
      .all(host, snapshotId) as { key: string }[];
    return rows.map((r) => r.key);
  }

  /**
   * Marks a snapshot as being deleted by `runId` under `rule`, before its first
   * object is deleted: from then on it is damaged (it no longer counts as a
   * backup, restores refuse it) and the next prune finishes it if this one stops.
   */
  markDeleting(host: string, snapshotId: string, rule: string, runId: string): void {
    this
      .q("UPDATE snapshots SET deleting_rule = ?, deleting_run = ?, damage = coalesce(damage, ?) WHERE host = ? AND id = ?")
      .run(rule, runId, `being deleted by prune (${runId}, rule ${rule})`, host, snapshotId);
  }

  /**
   * Removes a snapshot whose objects are deleted: its row and its artifacts'
   * rows, with one `deletions` row per deleted object (one without an object
   * key when it had none), in one transaction. Idempotent.
   */
  forgetSnapshot(host: string, snapshotId: string, d: { destination: string; rule: string; runId: string; objectKeys: string[] }): void {
    const insert = this.q("INSERT INTO deletions(host, snapshot_id, object_key, rule, time, destination, run_id) VALUES (?, ?, ?, ?, ?, ?, ?)");
    this.db.transaction(() => {
      const exists = this.q("SELECT 1 FROM snapshots WHERE host = ? AND id = ?").get(host, snapshotId);
      if (!exists) return;
      const t = now();
      for (const key of d.objectKeys.length ? d.objectKeys : [null]) insert.run(host, snapshotId, key, d.rule, t, d.destination, d.runId);
      this.q("DELETE FROM artifacts WHERE host = ? AND snapshot_id = ?").run(host, snapshotId);
      this.q("DELETE FROM snapshots WHERE host = ? AND id = ?").run(host, snapshotId);
    })();
  }

  /** How many backup jobs are running now (their specs may name blobs as known). */
  runningBackups(): number {
    return (this.q("SELECT count(*) AS n FROM jobs WHERE kind = 'backup' AND status = 'running'").get() as { n: number }).n;
  }

  /**
   * The blob object keys of `destination` that artifacts of its snapshots reference, with the snapshot that does.
   * From the few artifacts that reference blobs (artifacts_with_blobs) to their snapshots (CROSS JOIN keeps
   * that order: the other way round reads every snapshot of the destination).
   */
  blobReferences(destination: string): { host: string; snapshotId: string; key: string }[] {
    return this
      .q(
        `SELECT DISTINCT s.host, s.id AS snapshotId, json_extract(b.value, '$.key') AS key
         FROM artifacts a INDEXED BY artifacts_with_blobs CROSS JOIN snapshots s ON a.host = s.host AND a.snapshot_id = s.id, json_each(a.metadata, '$.blobs') b
         WHERE instr(a.metadata, '"blobs"') > 0 AND s.destination = ? AND json_extract(b.value, '$.key') IS NOT NULL`,
      )
      .all(destination) as never;
  }

  /** The blob objects the ledger knows in `destination`, oldest first. */
  blobs(destination: string): BlobCandidate[] {
    return this
      .q("SELECT destination, object_key AS objectKey, recorded_at AS recordedAt, host, snapshot_id AS snapshotId FROM blobs WHERE destination = ? ORDER BY recorded_at, object_key")
      .all(destination) as never;
  }

  /**
   * Takes a blob out of use before its object is deleted, if it is still safe:
   * no snapshot of any host references it and no backup job is running. It is
   * then marked damaged, so that no new backup spec names it as known and no
   * agent's report referencing it is accepted.
   * @returns false (nothing changed) when it is referenced or a backup runs.
   */
  claimBlob(destination: string, objectKey: string, runId: string): boolean {
    return this.db.transaction(() => {
      if (this.runningBackups() > 0) return false;
      const referenced = this
        .q(
          `SELECT 1 FROM snapshots s JOIN artifacts a ON a.host = s.host AND a.snapshot_id = s.id, json_each(a.metadata, '$.blobs') b
           WHERE s.destination = ? AND json_extract(b.value, '$.key') = ? LIMIT 1`,
        )
        .get(destination, objectKey);
      if (referenced) return false;
      this.q("UPDATE blobs SET damage = ? WHERE destination = ? AND object_key = ?").run(`being deleted by prune (${runId}): no snapshot references it`, destination, objectKey);
      return true;
    })();
  }

  /** Removes a deleted blob object's row and records the deletion (under the host and snapshot that uploaded it). */
  forgetBlob(destination: string, objectKey: string, d: { host: string; snapshotId: string; rule: string; runId: string }): void {
    this.db.transaction(() => {
      this.q("DELETE FROM blobs WHERE destination = ? AND object_key = ?").run(destination, objectKey);
      this
        .q("INSERT INTO deletions(host, snapshot_id, object_key, rule, time, destination, run_id) VALUES (?, ?, ?, ?, ?, ?, ?)")
        .run(d.host, d.snapshotId, objectKey, d.rule, now(), destination, d.runId);
    })();
  }

  /**
   * What chunk garbage collection of `host` reads before it computes which
   * chunks no snapshot references, to tell later whether anything could have
   * referenced one since: how many backup jobs of the host there ever were and
   * how many run now, and the last set of chunk references recorded for it.
   */
  chunkGeneration(host: string): ChunkGeneration {
    const [backups, running] = this.q("SELECT count(*), count(*) FILTER (WHERE status = 'running') FROM jobs WHERE host = ? AND kind = 'backup'").raw().get(host) as [number, number];
    const sets = (this.q("SELECT max(rowid) FROM snapshot_chunks WHERE host = ?").pluck().get(host) as number | null) ?? 0;
    return { backups, running, sets };
  }

  /**
   * Takes chunks of `host` on `destination` out of use before their objects
   * are deleted, if nothing could have referenced them since `read` (see
   * {@link chunkGeneration}): no backup of the host runs or ran since, and no
   * set of references was recorded for it. They are then marked damaged, so
   * that no backup may reference them from then on (the ledger refuses its
   * report) and any backup uploads them again.
   * @returns false (nothing changed) when it is not safe.
   */
  claimChunks(host: string, destination: string, ids: number[], read: ChunkGeneration, runId: string): boolean {
    const claim = this.db.transaction(() => {
      const now = this.chunkGeneration(host);
      if (now.running > 0 || now.backups !== read.backups || now.sets !== read.sets) return false;
      // By id (`+`: not through chunks_by_name, which would scan every chunk of the host per batch).
      const mark = this.q("UPDATE chunks SET damage = ? WHERE id IN (SELECT value FROM json_each(?)) AND +host = ? AND +destination = ?");
      for (let at = 0; at < ids.length; at += ID_BATCH) mark.run(`being deleted by prune (${runId}): no snapshot references it`, JSON.stringify(ids.slice(at, at + ID_BATCH)), host, destination);
      return true;
    });
    // IMMEDIATE: the check and the marks happen under the write lock, no backup's report between them.
    return claim.immediate();
  }

  /**
   * Removes the rows of chunks whose objects are deleted, recording each
   * deletion (under the host and the snapshot whose job uploaded it), in one
   * transaction. @returns how many rows it removed
   */
  forgetChunks(ids: number[], d: { rule: string; runId: string }): number {
    const record = this.q(
      `INSERT INTO deletions(host, snapshot_id, object_key, rule, time, destination, run_id)
       SELECT host, snapshot_id, object_key, ?, ?, destination, ? FROM chunks WHERE id IN (SELECT value FROM json_each(?)) ORDER BY id`,
    );
    const remove = this.q("DELETE FROM chunks WHERE id IN (SELECT value FROM json_each(?))");
    return this.db.transaction(() => {
      const t = now();
      let n = 0;
      for (let at = 0; at < ids.length; at += ID_BATCH) {
        const batch = JSON.stringify(ids.slice(at, at + ID_BATCH));
        record.run(d.rule, t, d.runId, batch);
        n += remove.run(batch).changes;
      }
      return n;
    })();
  }

  /** Deletions, oldest first; of one run or one host when asked. */
  deletions(filter: { runId?: string; host?: string } = {}): DeletionRow[] {
    return this
      .q(
        `SELECT host, snapshot_id AS snapshotId, object_key AS objectKey, rule, time, destination, run_id AS runId FROM deletions
         WHERE (? IS NULL OR run_id = ?) AND (? IS NULL OR host = ?) ORDER BY id`,
      )
      .all(filter.runId ?? null, filter.runId ?? null, filter.host ?? null, filter.host ?? null) as never;
  }
}
