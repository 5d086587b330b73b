/** @module A test fleet's chunk ledger as tests read it (the controller not running): chunk rows and each snapshot's chunk objects. */
import * as path from "node:path";
import Database from "better-sqlite3";
import type { ChunkRow } from "../../controller/ledger/chunk-ledger";
import { Ledger } from "../../controller/ledger/ledger";

/** Every chunk row of `host` in the ledger of state directory `state`, by object key. */
export function chunkRows(state: string, host: string): ChunkRow[] {
  const db = new Database(path.join(state, "ledger.db"), { readonly: true });
  try {
    return db
      .prepare(
        `SELECT id, destination, host, name, object_key AS objectKey, size, sha256, stored_size AS storedSize, recipient, snapshot_id AS snapshotId, recorded_at AS recordedAt, damage
         FROM chunks WHERE host = ? ORDER BY object_key`,
      )
      .all(host) as ChunkRow[];
  } finally {
    db.close();
  }
}

/** The chunk objects that snapshots `ids` of `host` reference, as the ledger in `state` has them: sorted, each once. */
export function snapshotChunkKeys(state: string, host: string, ids: string[]): string[] {
  const ledger = Ledger.open(path.join(state, "ledger.db"));
  try {
    return [...new Set(ids.flatMap((id) => ledger.chunks.snapshotChunkKeys(host, id)))].sort();
  } finally {
    ledger.close();
  }
}
