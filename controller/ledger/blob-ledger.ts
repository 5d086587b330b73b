/**
 * @module The ledger's record of the blob area: which blob objects the
 * controller trusts. A blob counts as stored only when a job of this controller
 * uploaded it and reported its stored hash; the bucket's contents count for
 * nothing (any host may write there), so a planted object is never referenced.
 */
import type Database from "better-sqlite3";

/** A blob object as the ledger knows it. */
export interface BlobRow {
  destination: string;
  objectKey: string;
  name: string;
  digest: string;
  sha256: string | null;
  storedSize: number | null;
  recipient: string | null;
  host: string;
  snapshotId: string;
  checkedAt: string | null;
  damage: string | null;
}

interface Row {
  destination: string;
  object_key: string;
  name: string;
  digest: string;
  sha256: string | null;
  stored_size: number | null;
  recipient: string | null;
  host: string;
  snapshot_id: string;
  checked_at: string | null;
  damage: string | null;
}

const view = (r: Row): BlobRow => ({
  destination: r.destination,
  objectKey: r.object_key,
  name: r.name,
  digest: r.digest,
  sha256: r.sha256,
  storedSize: r.stored_size,
  recipient: r.recipient,
  host: r.host,
  snapshotId: r.snapshot_id,
  checkedAt: r.checked_at,
  damage: r.damage,
});

/** The `blobs` table of a ledger. */
export class BlobLedger {
  constructor(private readonly db: Database.Database) {}

  /**
   * Records a blob a job uploaded, with the stored hash it reported (not yet
   * checked). A blob the ledger has under that key already keeps its record: no
   * report replaces what another job uploaded (and the controller may have checked).
   */
  record(b: { destination: string; objectKey: string; name: string; digest: string; sha256: string; storedSize: number; recipient: string; host: string; snapshotId: string }): void {
    this.db
      .prepare(
        `INSERT INTO blobs(destination, object_key, name, digest, sha256, stored_size, recipient, host, snapshot_id, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT(destination, object_key) DO NOTHING`,
      )
      .run(b.destination, b.objectKey, b.name, b.digest, b.sha256, b.storedSize, b.recipient, b.host, b.snapshotId, new Date().toISOString());
  }

  /** One blob object, or undefined when the ledger does not know it. */
  get(destination: string, objectKey: string): BlobRow | undefined {
    const row = this.db.prepare("SELECT * FROM blobs WHERE destination = ? AND object_key = ?").get(destination, objectKey) as Row | undefined;
    return row && view(row);
  }

  /**
   * What a backup may reference without uploading: keyed name → object key of
   * the blobs of `destination` encrypted to `recipient` (the blob area's current
   * key) that were read through after their upload (or recorded before the
   * ledger kept blobs), and not found damaged.
   */
  known(destination: string, recipient: string): Record<string, string> {
    const rows = this.db
      .prepare("SELECT name, object_key FROM blobs WHERE destination = ? AND (recipient = ? OR recipient IS NULL) AND damage IS NULL AND (checked_at IS NOT NULL OR sha256 IS NULL) ORDER BY recorded_at")
      .all(destination, recipient) as { name: string; object_key: string }[];
    return Object.fromEntries(rows.map((r) => [r.name, r.object_key]));
  }

  /** The blobs a snapshot's job uploaded and nobody has read through yet. */
  unchecked(host: string, snapshotId: string): BlobRow[] {
    return (this.db.prepare("SELECT * FROM blobs WHERE host = ? AND snapshot_id = ? AND checked_at IS NULL AND damage IS NULL AND sha256 IS NOT NULL").all(host, snapshotId) as Row[]).map(view);
  }

  /**
   * Gives the blobs recorded before the ledger kept their key (migration 4) the
   * blob area's key of the time: called before that key is rotated, so that
   * they are no longer offered to backups encrypting to the new one, and
   * restores of them get the key they need.
   */
  attributeTo(recipient: string): number {
    return this.db.prepare("UPDATE blobs SET recipient = ? WHERE recipient IS NULL").run(recipient).changes;
  }

  /** Records a check of a blob object: passed (damage undefined) or why it failed. */
  checked(destination: string, objectKey: string, damage?: string): void {
    this.db.prepare("UPDATE blobs SET checked_at = ?, damage = ? WHERE destination = ? AND object_key = ?").run(new Date().toISOString(), damage ?? null, destination, objectKey);
  }
}
