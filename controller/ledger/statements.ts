/** @module Prepared statements of the ledger, each prepared once per connection. */
import type Database from "better-sqlite3";

/**
 * A cache of prepared statements over one database: the ledger's parts ask the
 * same few questions of every host and snapshot (a status of 200 hosts, a prune
 * of 80,000 snapshots), and preparing a statement costs more than running it.
 */
export class Statements {
  private readonly prepared = new Map<string, Database.Statement>();

  constructor(private readonly db: Database.Database) {}

  /** `sql`, prepared on first use. */
  sql(sql: string): Database.Statement {
    let statement = this.prepared.get(sql);
    if (!statement) this.prepared.set(sql, (statement = this.db.prepare(sql)));
    return statement;
  }
}
