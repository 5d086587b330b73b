/**
 * @module A faithful Chroma persist directory (the Chroma server cannot run on this
 * machine's glibc): a real SQLite `chroma.sqlite3` with Chroma's tables
 * (collections, segments, embeddings, embedding_metadata) and one folder of HNSW
 * index files per vector segment, as Chroma 0.5 lays them out.
 */
import { execFileSync } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";

/** Creates a persist directory with `collections` collections of `perCollection` embeddings each. */
export function createChromaDir(dir: string, collections: string[], perCollection: number): { segments: string[] } {
  fs.mkdirSync(dir, { recursive: true });
  const sql: string[] = [
    "PRAGMA journal_mode=WAL;",
    "CREATE TABLE collections (id TEXT PRIMARY KEY, name TEXT NOT NULL, dimension INTEGER, database_id TEXT NOT NULL, config_json_str TEXT);",
    "CREATE TABLE segments (id TEXT PRIMARY KEY, type TEXT NOT NULL, scope TEXT NOT NULL, collection TEXT REFERENCES collections(id));",
    "CREATE TABLE embeddings (id INTEGER PRIMARY KEY, segment_id TEXT NOT NULL, embedding_id TEXT NOT NULL, seq_id BLOB NOT NULL, created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP, UNIQUE (segment_id, embedding_id));",
    "CREATE TABLE embedding_metadata (id INTEGER REFERENCES embeddings(id), key TEXT NOT NULL, string_value TEXT, int_value INTEGER, float_value REAL, bool_value INTEGER, PRIMARY KEY (id, key));",
    "CREATE TABLE max_seq_id (segment_id TEXT PRIMARY KEY, seq_id BLOB NOT NULL);",
  ];
  const segments: string[] = [];
  for (const name of collections) {
    const collection = crypto.randomUUID();
    const vector = crypto.randomUUID();
    const metadata = crypto.randomUUID();
    segments.push(vector);
    sql.push(`INSERT INTO collections VALUES ('${collection}', '${name}', 384, '00000000-0000-0000-0000-000000000000', '{}');`);
    sql.push(`INSERT INTO segments VALUES ('${vector}', 'urn:chroma:segment/vector/hnsw-local-persisted', 'VECTOR', '${collection}');`);
    sql.push(`INSERT INTO segments VALUES ('${metadata}', 'urn:chroma:segment/metadata/sqlite', 'METADATA', '${collection}');`);
    sql.push(`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${perCollection}) INSERT INTO embeddings (segment_id, embedding_id, seq_id) SELECT '${metadata}', 'doc-' || i, i FROM n;`);
    sql.push(`INSERT INTO embedding_metadata (id, key, string_value) SELECT id, 'chroma:document', 'Dokument ' || embedding_id FROM embeddings WHERE segment_id = '${metadata}';`);
    const seg = path.join(dir, vector);
    fs.mkdirSync(seg);
    for (const [file, size] of [["header.bin", 100], ["data_level0.bin", perCollection * 1600], ["length.bin", perCollection * 4], ["link_lists.bin", 64]] as const) {
      fs.writeFileSync(path.join(seg, file), crypto.randomBytes(size));
    }
    fs.writeFileSync(path.join(seg, "index_metadata.pickle"), crypto.randomBytes(200));
  }
  execFileSync("sqlite3", [path.join(dir, "chroma.sqlite3")], { input: sql.join("\n") });
  return { segments };
}
