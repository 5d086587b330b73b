/**
 * @module The ledger's record of each host's chunk area (chunked artifacts,
 * deduplicated per host): which chunk objects the controller trusts, and which
 * of them each snapshot references. A chunk counts as stored only when a job of
 * this controller reported its upload; the bucket's contents count for nothing
 * (the host may write there), so a backup may reference only a chunk of its own
 * host and destination, undamaged, encrypted to its host key.
 *
 * A snapshot's references are `snapshot_chunks` rows: sets of chunk ids
 * encoded by {@link encodeIdSet}, one per batch the agent reported, merged
 * into one per plugin instance when the snapshot completes. Garbage collection
 * marks the sets of every surviving snapshot into one bitmap
 * ({@link ChunkLedger.liveChunks}); the chunks left unmarked are garbage
 * ({@link ChunkLedger.unreferenced}).
 */
import type Database from "better-sqlite3";
import { LifeboatError } from "../../core/errors";
import type { ChunkUpload } from "../../core/events";
import type { ChunkRef } from "../../core/records";
import { chunkNameOf } from "../../core/storage-layout";
import { countIds, decodeIdSet, encodeIdSet, isMarked, markInto } from "./id-set";
import { Statements } from "./statements";

/** A chunk object as the ledger knows it. */
export interface ChunkRow {
  id: number;
  destination: string;
  host: string;
  /** Keyed name: HMAC-SHA-256 of `sha256:<hex of the plain chunk>` under the host's chunk naming key. */
  name: string;
  objectKey: string;
  /** Plain bytes. */
  size: number;
  /** Of the stored object. */
  sha256: string;
  storedSize: number;
  /** The host key it is encrypted to (null: unknown). */
  recipient: string | null;
  /** The snapshot whose job last uploaded it. */
  snapshotId: string;
  recordedAt: string;
  damage: string | null;
}

/** One `chunks` event of a backup, to record: what the job uploaded and what the artifact references. */
export interface ChunkBatch {
  destination: string;
  host: string;
  snapshotId: string;
  /** The plugin instance whose artifact references the chunks. */
  instance: string;
  /** The host key recipient the snapshot (and so each chunk it uploads) is encrypted to. */
  recipient: string;
  uploaded: ChunkUpload[];
  /** Keyed names. */
  refs: string[];
}

/** The chunks of a snapshot found in storage by a ledger rebuild (see {@link ChunkLedger.recordFound}). */
export interface FoundChunks {
  destination: string;
  host: string;
  snapshotId: string;
  /** The host key the snapshot is encrypted to (null: opened with the master or an escrow identity). */
  recipient: string | null;
  /** Plugin instance → the chunks its chunked artifacts' indexes list, in order. */
  instances: Map<string, ChunkRef[]>;
  /** Object key → why it is not to be trusted (missing from storage, another size). */
  damaged: Map<string, string>;
}

/** The chunks that the surviving snapshots of a host reference: bit `id - base` of `bitmap`. */
export interface LiveChunks {
  base: number;
  bitmap: Uint32Array;
  /** How many snapshots' sets were marked. */
  snapshots: number;
}

/** A chunk no surviving snapshot references: what garbage collection deletes. */
export interface GarbageChunk {
  id: number;
  objectKey: string;
  storedSize: number;
}

interface Row {
  id: number;
  destination: string;
  host: string;
  name: string;
  object_key: string;
  size: number;
  sha256: string;
  stored_size: number;
  recipient: string | null;
  snapshot_id: string;
  recorded_at: string;
  damage: string | null;
}

const view = (r: Row): ChunkRow => ({
  id: r.id,
  destination: r.destination,
  host: r.host,
  name: r.name,
  objectKey: r.object_key,
  size: r.size,
  sha256: r.sha256,
  storedSize: r.stored_size,
  recipient: r.recipient,
  snapshotId: r.snapshot_id,
  recordedAt: r.recorded_at,
  damage: r.damage,
});

/** How many ids or names one statement takes through json_each (a snapshot may reference millions). */
const BATCH = 10_000;

/** Thrown inside a transaction to roll a refused batch back. */
class Refused extends Error {
  constructor(readonly names: string[]) {
    super("refused");
  }
}

/** The `chunks` and `snapshot_chunks` tables of a ledger; reached as `ledger.chunks`. */
export class ChunkLedger {
  private readonly statements: Statements;

  constructor(private readonly db: Database.Database) {
    this.statements = new Statements(db);
  }

  /** `sql` prepared once: a backup records thousands of batches with the same few statements. */
  private sql(sql: string): Database.Statement {
    return this.statements.sql(sql);
  }

  /**
   * Records one `chunks` event of a backup, in one transaction: each uploaded
   * chunk (a chunk the ledger had under that key is replaced: its stored hash,
   * sizes, recipient and uploading snapshot, and its damage cleared), and the
   * ids of `refs` as a new batch of the snapshot. A reference must name a chunk
   * uploaded in this batch, or a chunk of this host and destination that is
   * undamaged and encrypted to `recipient`; when some do not, nothing is recorded.
   * Callers check the uploads' keys and formats first (see the ledger recorder).
   * @returns the names of the references refused (empty: recorded)
   */
  recordBatch(b: ChunkBatch): { refused: string[] } {
    const upsert = this.sql(
      `INSERT INTO chunks(destination, host, name, object_key, size, sha256, stored_size, recipient, snapshot_id, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT(destination, object_key) DO UPDATE SET size = excluded.size, sha256 = excluded.sha256, stored_size = excluded.stored_size, recipient = excluded.recipient,
         snapshot_id = excluded.snapshot_id, recorded_at = excluded.recorded_at, damage = NULL
       RETURNING id`,
    ).pluck();
    try {
      this.db.transaction(() => {
        const t = new Date().toISOString();
        const ids = new Map<string, number[]>();
        for (const u of b.uploaded) ids.set(u.name, [upsert.get(b.destination, b.host, u.name, u.key, u.size, u.stored.sha256, u.stored.size, b.recipient, b.snapshotId, t) as number]);
        const wanted = [...new Set(b.refs.filter((name) => !ids.has(name)))];
        for (const [name, rows] of this.usableIds(b.destination, b.host, b.recipient, wanted)) ids.set(name, rows);
        const refused = wanted.filter((name) => !ids.has(name));
        if (refused.length > 0) throw new Refused(refused);
        if (b.refs.length > 0) this.appendSnapshotChunks(b.host, b.snapshotId, b.instance, b.refs.flatMap((name) => ids.get(name)!));
      })();
    } catch (err) {
      if (err instanceof Refused) return { refused: err.names };
      throw err;
    }
    return { refused: [] };
  }

  /**
   * Keyed name → ids of the chunks among `names` that a backup of `host` on
   * `destination` encrypting to `recipient` may reference: undamaged, encrypted
   * to it. A name can have two objects (its keyed name and a snapshot's own
   * name, when the first was taken): a reference by name keeps both. Names it
   * may not reference are absent. One statement per 10,000 names.
   */
  usableIds(destination: string, host: string, recipient: string, names: string[]): Map<string, number[]> {
    const lookup = this.sql(
      `SELECT c.name, c.id FROM json_each(?) j CROSS JOIN chunks c INDEXED BY chunks_by_name ON c.destination = ? AND c.host = ? AND c.name = j.value
       WHERE c.damage IS NULL AND c.recipient = ?`,
    ).raw();
    const out = new Map<string, number[]>();
    for (let at = 0; at < names.length; at += BATCH) {
      for (const [name, id] of lookup.all(JSON.stringify(names.slice(at, at + BATCH)), destination, host, recipient) as [string, number][]) out.set(name, [...(out.get(name) ?? []), id]);
    }
    return out;
  }

  /**
   * Appends a set of chunk ids (any order, duplicates allowed) to what a
   * snapshot's `instance` references, unchecked (a backup's references go
   * through {@link recordBatch}).
   */
  appendSnapshotChunks(host: string, snapshotId: string, instance: string, ids: number[]): void {
    const blob = encodeIdSet(ids);
    const count = countIds(blob);
    this.sql(
      `INSERT INTO snapshot_chunks(host, snapshot_id, seq, instance, ids, count)
       VALUES (@host, @snapshot, (SELECT coalesce(max(seq) + 1, 0) FROM snapshot_chunks WHERE host = @host AND snapshot_id = @snapshot), @instance, @ids, @count)`,
    ).run({ host, snapshot: snapshotId, instance, ids: blob, count });
  }

  /**
   * Merges a snapshot's batches into one set per plugin instance (called when
   * it completes): garbage collection then reads one row per instance.
   */
  compactSnapshot(host: string, snapshotId: string): void {
    this.db.transaction(() => {
      const rows = this.sql("SELECT instance, ids FROM snapshot_chunks WHERE host = ? AND snapshot_id = ? ORDER BY seq").raw().all(host, snapshotId) as [string, Buffer][];
      const byInstance = new Map<string, Buffer[]>();
      for (const [instance, ids] of rows) {
        const sets = byInstance.get(instance);
        if (sets) sets.push(ids);
        else byInstance.set(instance, [ids]);
      }
      if ([...byInstance.values()].every((sets) => sets.length === 1)) return;
      this.sql("DELETE FROM snapshot_chunks WHERE host = ? AND snapshot_id = ?").run(host, snapshotId);
      for (const [instance, sets] of [...byInstance].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
        this.appendSnapshotChunks(host, snapshotId, instance, sets.flatMap((blob) => decodeIdSet(blob)));
      }
    })();
  }

  /** The ids of the chunks a snapshot references (of `instances` only, when given), ascending. */
  snapshotChunkIds(host: string, snapshotId: string, instances?: string[]): number[] {
    const rows = this.sql("SELECT instance, ids FROM snapshot_chunks WHERE host = ? AND snapshot_id = ?").raw().all(host, snapshotId) as [string, Buffer][];
    const ids = new Set<number>();
    for (const [instance, blob] of rows) if (!instances || instances.includes(instance)) for (const id of decodeIdSet(blob)) ids.add(id);
    return [...ids].sort((a, b) => a - b);
  }

  /**
   * The object keys of the chunks a snapshot references (of `instances` only,
   * when given): what a restore or verify of its chunked artifacts opens.
   * @throws LifeboatError("INTEGRITY") when the ledger no longer has some of them (the snapshot cannot be read whole)
   */
  snapshotChunkKeys(host: string, snapshotId: string, instances?: string[]): string[] {
    const ids = this.snapshotChunkIds(host, snapshotId, instances);
    const lookup = this.sql("SELECT c.object_key FROM json_each(?) j CROSS JOIN chunks c ON c.id = j.value").pluck();
    const keys: string[] = [];
    for (let at = 0; at < ids.length; at += BATCH) keys.push(...(lookup.all(JSON.stringify(ids.slice(at, at + BATCH))) as string[]));
    if (keys.length !== ids.length) {
      throw new LifeboatError("INTEGRITY", `Cannot read snapshot "${snapshotId}" of "${host}" whole: it references ${ids.length - keys.length} chunk(s) the ledger no longer has`, {
        hint: "its chunked artifacts cannot be restored; restore another snapshot, or the others of its plugins (--plugins)",
      });
    }
    return keys;
  }

  /**
   * For each of `instances`, the snapshot whose chunks a new backup of `host`
   * may reference without upload: its newest complete snapshot on
   * `destination` that is undamaged (which includes not being deleted by
   * prune), encrypted to `recipient` (the host's current key) and holding a
   * chunked artifact of that instance. Instances without one are left out.
   */
  parents(host: string, destination: string, recipient: string, instances: string[]): Record<string, string> {
    const newest = this.sql(
      `SELECT s.id FROM snapshots s INDEXED BY snapshots_good
       WHERE s.host = @host AND s.status = 'complete' AND s.damage IS NULL AND s.deleting_rule IS NULL AND s.destination = @destination AND s.recipient = @recipient
         AND EXISTS (SELECT 1 FROM artifacts a WHERE a.host = s.host AND a.snapshot_id = s.id AND a.instance = @instance AND a.compression = 'chunked')
       ORDER BY s.finished_at DESC, s.id DESC LIMIT 1`,
    ).pluck();
    const out: Record<string, string> = {};
    for (const instance of instances) {
      const id = newest.get({ host, destination, recipient, instance }) as string | undefined;
      if (id !== undefined) out[instance] = id;
    }
    return out;
  }

  /** Keyed names of the damaged chunks of `host` on `destination` encrypted to `recipient`: a backup must not reference them (it uploads them again). */
  damagedNames(destination: string, host: string, recipient: string): string[] {
    return this.sql("SELECT name FROM chunks INDEXED BY chunks_damaged WHERE destination = ? AND host = ? AND damage IS NOT NULL AND recipient = ? ORDER BY name").pluck().all(destination, host, recipient) as string[];
  }

  /**
   * Records the chunks of a snapshot that a ledger rebuild found in storage, as
   * its chunk indexes list them (per plugin instance): each chunk object (one the
   * ledger has under that key keeps its row), encrypted to `recipient` (null:
   * unknown, so never referenced by a backup), those in `damaged` marked so
   * (backups upload them again); then the snapshot's set of chunks per instance,
   * compacted. Callers check the indexes first (their hashes as the manifest
   * records them, every key in the host's chunk area), and record the snapshot's row.
   * @throws LifeboatError("INTERNAL") for a key outside the host's chunk area (nothing recorded)
   */
  recordFound(f: FoundChunks): void {
    const insert = this.sql(
      `INSERT INTO chunks(destination, host, name, object_key, size, sha256, stored_size, recipient, snapshot_id, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT(destination, object_key) DO NOTHING`,
    );
    const lookup = this.sql("SELECT j.value, c.id FROM json_each(?) j CROSS JOIN chunks c ON c.destination = ? AND c.object_key = j.value").raw();
    this.db.transaction(() => {
      // Each object once, in the order the indexes list them (ids then form runs, as a backup's do).
      const refs = new Map<string, ChunkRef>();
      for (const chunks of f.instances.values()) for (const ref of chunks) if (!refs.has(ref.key)) refs.set(ref.key, ref);
      const keys = [...refs.keys()];
      const ids = new Map<string, number>();
      for (let at = 0; at < keys.length; at += BATCH) {
        for (const [key, id] of lookup.all(JSON.stringify(keys.slice(at, at + BATCH)), f.destination) as [string, number][]) ids.set(key, id);
      }
      const t = new Date().toISOString();
      for (const ref of refs.values()) {
        if (ids.has(ref.key)) continue;
        const name = chunkNameOf(f.host, ref.key);
        if (name === null) throw new LifeboatError("INTERNAL", `Cannot record chunk "${ref.key}" for "${f.host}": it is not in that host's chunk area`);
        ids.set(ref.key, Number(insert.run(f.destination, f.host, name, ref.key, ref.size, ref.stored.sha256, ref.stored.size, f.recipient, f.snapshotId, t).lastInsertRowid));
      }
      for (const [key, reason] of f.damaged) this.markDamaged(f.destination, key, reason);
      for (const [instance, chunks] of f.instances) this.appendSnapshotChunks(f.host, f.snapshotId, instance, chunks.map((c) => ids.get(c.key)!));
      this.compactSnapshot(f.host, f.snapshotId);
    })();
  }

  /** Marks a chunk object as not to be trusted (found missing or altered); backups upload it again. @returns whether the ledger knew it */
  markDamaged(destination: string, objectKey: string, reason: string): boolean {
    return this.sql("UPDATE chunks SET damage = ? WHERE destination = ? AND object_key = ?").run(reason, destination, objectKey).changes > 0;
  }

  /**
   * Marks `objectKey` damaged when it is a chunk that snapshot `snapshotId` of
   * `host` references (what a restore or verification of that snapshot found
   * missing or altered): backups upload it again. Any other key is left alone,
   * whoever names it (a host reports only on the snapshot it was given).
   * @returns whether it marked a chunk
   */
  markSnapshotChunkDamaged(host: string, snapshotId: string, objectKey: string, reason: string): boolean {
    if (chunkNameOf(host, objectKey) === null) return false;
    const row = this.sql("SELECT c.id, c.destination FROM snapshots s JOIN chunks c ON c.destination = s.destination AND c.object_key = ? WHERE s.host = ? AND s.id = ? AND c.host = s.host").get(objectKey, host, snapshotId) as
      | { id: number; destination: string }
      | undefined;
    if (!row || !this.snapshotChunkIds(host, snapshotId).includes(row.id)) return false;
    return this.markDamaged(row.destination, objectKey, reason);
  }

  /** One chunk object, or undefined when the ledger does not know it. */
  get(destination: string, objectKey: string): ChunkRow | undefined {
    const row = this.sql("SELECT * FROM chunks WHERE destination = ? AND object_key = ?").get(destination, objectKey) as Row | undefined;
    return row && view(row);
  }

  /** When the newest complete snapshot of `host` whose job was sent `rehash` started, or undefined when none was (index snapshots_rehashed). */
  lastRehash(host: string): Date | undefined {
    const t = this.sql("SELECT max(started_at) FROM snapshots INDEXED BY snapshots_rehashed WHERE host = ? AND rehash = 1 AND status = 'complete'").pluck().get(host) as string | null;
    return t === null ? undefined : new Date(t);
  }

  /**
   * The chunks that snapshots of `host` on `destination` reference, all of
   * them but `excluding` (the snapshots being deleted), whatever their status:
   * a running backup's and a failed one's references keep their chunks too.
   * A running backup may still reference, in batches not recorded yet, any
   * chunk of its parents (see {@link parents}) or of the host the ledger
   * trusts: collect nothing of a host while one of its backups runs. The
   * bitmap spans every chunk id ever given (ids are never reused), one bit each.
   * @throws LifeboatError("INTERNAL") when a stored set is malformed or does not hold its count (nothing may be collected then)
   */
  liveChunks(host: string, destination: string, excluding: string[] = []): LiveChunks {
    const last = (this.sql("SELECT seq FROM sqlite_sequence WHERE name = 'chunks'").pluck().get() as number | undefined) ?? 0;
    const base = 1;
    const bitmap = new Uint32Array(Math.ceil(Math.max(last, 1) / 32));
    const skip = new Set(excluding);
    const snapshots = new Set<string>();
    const rows = this.sql(
      `SELECT sc.snapshot_id, sc.seq, sc.ids, sc.count FROM snapshot_chunks sc JOIN snapshots s ON s.host = sc.host AND s.id = sc.snapshot_id
       WHERE sc.host = ? AND s.destination = ?`,
    ).raw();
    for (const [snapshotId, seq, blob, count] of rows.iterate(host, destination) as IterableIterator<[string, number, Buffer, number]>) {
      if (skip.has(snapshotId)) continue;
      const marked = markInto(bitmap, blob, base);
      if (marked !== count) {
        throw new LifeboatError("INTERNAL", `Cannot tell which chunks of "${host}" are in use: set ${seq} of snapshot "${snapshotId}" holds ${marked} ids, the ledger says ${count}`, {
          hint: "the ledger is damaged: restore it from a copy before pruning",
        });
      }
      snapshots.add(snapshotId);
    }
    return { base, bitmap, snapshots: snapshots.size };
  }

  /** Whether the ledger knows any chunk of `host` on `destination` (most hosts of a fleet's prune may have none: nothing to collect). */
  hasChunks(destination: string, host: string): boolean {
    return this.sql("SELECT EXISTS (SELECT 1 FROM chunks INDEXED BY chunks_by_name WHERE destination = ? AND host = ?)").pluck().get(destination, host) === 1;
  }

  /** The chunks of `host` on `destination` that `live` does not mark: what garbage collection deletes (objects first, then their rows: RetentionLedger.forgetChunks). */
  unreferenced(host: string, destination: string, live: LiveChunks): GarbageChunk[] {
    const garbage: number[] = [];
    // All at once (10^6 ids: 8 MB): twice as quick as iterating row by row.
    const ids = this.sql("SELECT id FROM chunks INDEXED BY chunks_by_name WHERE destination = ? AND host = ?").pluck().all(destination, host) as number[];
    for (const id of ids) if (!isMarked(live.bitmap, id, live.base)) garbage.push(id);
    garbage.sort((a, b) => a - b);
    const rows = this.sql("SELECT c.id, c.object_key, c.stored_size FROM json_each(?) j CROSS JOIN chunks c ON c.id = j.value").raw();
    const out: GarbageChunk[] = [];
    for (let at = 0; at < garbage.length; at += BATCH) {
      for (const [id, objectKey, storedSize] of rows.all(JSON.stringify(garbage.slice(at, at + BATCH))) as [number, string, number][]) out.push({ id, objectKey, storedSize });
    }
    return out;
  }

  /** Removes chunk rows whose objects are deleted. @returns how many it removed */
  forget(ids: number[]): number {
    const remove = this.sql("DELETE FROM chunks WHERE id IN (SELECT value FROM json_each(?))");
    return this.db.transaction(() => {
      let n = 0;
      for (let at = 0; at < ids.length; at += BATCH) n += remove.run(JSON.stringify(ids.slice(at, at + BATCH))).changes;
      return n;
    })();
  }
}
