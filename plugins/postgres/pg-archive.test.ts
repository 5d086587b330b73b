// Row counts read from real pg_dump custom-format archives, compared with count(*) on the same cluster.
import { execFileSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startPostgres, type PostgresServer } from "../../test/harness/postgres";
import { ArchiveRowCounter, type ArchiveCount } from "./pg-archive";

/** Feeds `bytes` in pieces of the given sizes (cycled), as a pipe would deliver them. */
function countIn(bytes: Buffer, sizes: number[]): ArchiveCount {
  const counter = new ArchiveRowCounter();
  for (let at = 0, i = 0; at < bytes.length; i++) {
    const size = sizes[i % sizes.length]!;
    counter.push(bytes.subarray(at, at + size));
    at += size;
  }
  return counter.result();
}

describe("pg_dump archive row counter", () => {
  let pg: PostgresServer;
  let dump: Buffer;
  let truth: Map<string, number>;

  beforeAll(async () => {
    pg = await startPostgres();
    pg.sql("postgres", "CREATE DATABASE tricky");
    pg.sql(
      "tricky",
      `CREATE SCHEMA "Other Schema";
       CREATE TABLE notes (id serial PRIMARY KEY, body text, raw bytea, doc jsonb);
       INSERT INTO notes (body, raw, doc) SELECT E'line one\\nline two\\r\\n\\ttabbed \\\\ back' || i, decode('0a0d00ff', 'hex'), jsonb_build_object('k', E'v\\n' || i, 'ü', '日本')
         FROM generate_series(1, 3000) i;
       CREATE TABLE "user" (name text);
       INSERT INTO "user" SELECT 'u' || i FROM generate_series(1, 17) i;
       CREATE TABLE "Other Schema"."Mixed Case" (v text);
       INSERT INTO "Other Schema"."Mixed Case" VALUES (NULL), (''), (E'\\\\.'), ('\\.');
       CREATE TABLE empty_one (x int);
       CREATE TABLE events (at date, what text) PARTITION BY RANGE (at);
       CREATE TABLE events_2025 PARTITION OF events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
       CREATE TABLE events_2026 PARTITION OF events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
       INSERT INTO events SELECT DATE '2025-06-01' + (i % 400), 'e' || i FROM generate_series(1, 999) i;
       CREATE UNLOGGED TABLE scratchpad AS SELECT generate_series(1, 42) AS n;
       SELECT lo_from_bytea(0, convert_to(repeat(E'large\\nobject\\n', 5000), 'UTF8'));
       SELECT lo_from_bytea(0, '\\x0a0a0a');`,
    );
    const env = { ...process.env, PGPASSWORD: pg.password };
    dump = execFileSync("pg_dump", ["-h", "127.0.0.1", "-p", String(pg.port), "-U", "postgres", "--format=custom", "--compress=0", "tricky"], { env, maxBuffer: 256 * 1024 * 1024 });
    const rows = pg.sql(
      "tricky",
      `SELECT n.nspname || '|' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1`,
    );
    truth = new Map();
    for (const line of rows.split("\n")) {
      const [schema, table] = line.split("|") as [string, string];
      const quoted = `"${schema.replace(/"/g, '""')}"."${table.replace(/"/g, '""')}"`;
      truth.set(`${schema}.${table}`, Number(pg.sql("tricky", `SELECT count(*) FROM ${quoted}`)));
    }
  });
  afterAll(async () => {
    await pg?.stop();
  });

  it("counts every table's rows exactly as count(*) does, however the stream is cut", () => {
    for (const sizes of [[dump.length], [1], [7, 1, 4096], [65536], [3, 100003]]) {
      const result = countIn(dump, sizes);
      expect(result.ok).toBe(true);
      if (!result.ok) return;
      const counted = new Map(result.tables.map((t) => [`${t.schema}.${t.table}`, t.rows]));
      expect(counted).toEqual(truth);
    }
    expect(truth.get("public.notes")).toBe(3000);
    expect(truth.get("Other Schema.Mixed Case")).toBe(4);
    expect(truth.get("public.empty_one")).toBe(0);
  });

  it("says why it cannot count: a cut-off archive, another file, an archive version it does not know", () => {
    const cut = countIn(dump.subarray(0, Math.floor(dump.length * 0.6)), [4096]);
    expect(cut).toEqual({ ok: false, unreadable: "the archive ends in the middle of an entry" });
    expect(countIn(Buffer.from("-- PostgreSQL database dump\n"), [10])).toEqual({ ok: false, unreadable: "not a pg_dump custom-format archive" });
    const newer = Buffer.from(dump);
    newer[6] = 99;
    expect(countIn(newer, [4096])).toEqual({ ok: false, unreadable: "archive version 1.99.0 is not one Lifeboat reads" });
    expect(new ArchiveRowCounter().result()).toEqual({ ok: false, unreadable: "the archive ends in the middle of an entry" });
  });
});
