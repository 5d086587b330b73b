// Restoring PostgreSQL onto a fresh server (a second real cluster): the snapshot's roles first, then the
// databases with their owners and privileges; existing roles untouched; the opt-out; readiness.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startPostgres, type PostgresServer } from "../../test/harness/postgres";
import { artifactBytes, pluginContext, restoreInput, type TestContext } from "../../test/plugin-context";
import type { RestoreInput, RestoreReport } from "../contract";
import { postgresPlugin } from "./postgres";

describe("postgres restore onto a fresh server", () => {
  let source: PostgresServer;
  let target: PostgresServer;
  let ctx: TestContext;
  let inputs: RestoreInput[];
  let appHash: string;
  const counts: Record<string, string> = {};

  const config = (pg: PostgresServer, extra: Record<string, unknown> = {}) => postgresPlugin.parseConfig({ port: pg.port, password: pg.password, databases: ["shop"], ...extra }, "hosts.h.plugins.pg");

  beforeAll(async () => {
    [source, target] = await Promise.all([startPostgres(), startPostgres()]);
    ctx = pluginContext();
    source.sql(
      "postgres",
      `CREATE ROLE reader NOLOGIN;
CREATE ROLE app LOGIN PASSWORD 'app-secret-pw' CONNECTION LIMIT 7;
CREATE ROLE analyst LOGIN PASSWORD 'analyst-pw';
GRANT reader TO analyst;
CREATE DATABASE shop OWNER app;`,
    );
    source.sql(
      "shop",
      `SET ROLE app;
CREATE TABLE items (id serial PRIMARY KEY, name text);
CREATE TABLE orders (id serial PRIMARY KEY, item int REFERENCES items(id), qty int);
INSERT INTO items (name) SELECT 'item ' || i FROM generate_series(1, 300) i;
INSERT INTO orders (item, qty) SELECT 1 + i % 300, i FROM generate_series(1, 1200) i;
GRANT SELECT ON items, orders TO reader;`,
    );
    for (const t of ["items", "orders"]) counts[t] = source.sql("shop", `SELECT count(*) FROM ${t}`);
    appHash = source.sql("postgres", "SELECT rolpassword FROM pg_authid WHERE rolname = 'app'");
    const artifacts = [];
    for await (const a of postgresPlugin.backup(ctx, config(source))) artifacts.push({ name: a.name, bytes: await artifactBytes(a), metadata: a.metadata() });
    expect(artifacts.map((a) => a.name)).toEqual(["globals.sql", "shop.dump"]);
    inputs = artifacts.map((a) => restoreInput(a.bytes, a.metadata, false, a.name));
  });
  afterAll(async () => {
    ctx?.cleanup();
    await Promise.all([source?.stop(), target?.stop()]);
  });
  beforeEach(() => {
    // The target as a fresh server: no shop, none of the snapshot's roles.
    target.sql("postgres", "SET client_min_messages = warning; DROP DATABASE IF EXISTS shop WITH (FORCE);");
    target.sql("postgres", "SET client_min_messages = warning; DROP ROLE IF EXISTS analyst, app, reader;");
    ctx.warnings.length = 0;
    ctx.logs.length = 0;
  });

  /** Nothing of the report, warnings or logs holds a password hash or a password. */
  const expectNoSecrets = (report: RestoreReport | undefined) => {
    const said = JSON.stringify({ report, warnings: ctx.warnings, logs: ctx.logs });
    for (const secret of [appHash, appHash.split("$")[2]!, "SCRAM-SHA-256$", "app-secret-pw", "analyst-pw"]) expect(said).not.toContain(secret);
  };

  it("creates the missing roles, then restores the database owned by its role, with its grants, memberships and rows", async () => {
    const report = await postgresPlugin.restore(ctx, config(target), inputs, {});
    expect(report.details?.roles).toEqual({ created: ["analyst", "app", "reader"], leftAlone: ["postgres"] });
    expect(report.restored).toEqual(["roles analyst, app, reader", "database shop"]);
    expect(report.checks).toEqual([
      "roles created from globals.sql, present with their attributes and memberships: analyst, app, reader",
      "roles of globals.sql already here, left alone: postgres",
      'database shop: row counts of 2 tables as recorded, owned by "app"',
    ]);
    expect(target.sql("postgres", "SELECT rolname, rolcanlogin, rolsuper, rolconnlimit FROM pg_roles WHERE rolname IN ('analyst', 'app', 'reader') ORDER BY 1")).toBe("analyst|t|f|-1\napp|t|f|7\nreader|f|f|-1");
    // The same password hash: the application logs in with its old password.
    expect(target.sql("postgres", "SELECT rolpassword FROM pg_authid WHERE rolname = 'app'")).toBe(appHash);
    expect(target.sql("postgres", "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'shop'")).toBe("app");
    expect(target.sql("shop", "SELECT string_agg(tableowner, ',' ORDER BY tablename) FROM pg_tables WHERE schemaname = 'public'")).toBe("app,app");
    expect(target.sql("shop", "SELECT has_table_privilege('reader', 'items', 'SELECT'), has_table_privilege('reader', 'orders', 'INSERT'), pg_has_role('analyst', 'reader', 'MEMBER')")).toBe("t|f|t");
    for (const t of ["items", "orders"]) expect(target.sql("shop", `SELECT count(*) FROM ${t}`)).toBe(counts[t]);
    expectNoSecrets(report);
  });

  it("leaves a role that exists on the target as it is, and replaces an existing database when the operator says --replace", async () => {
    target.sql("postgres", "CREATE ROLE app LOGIN CREATEDB PASSWORD 'target-own-pw' CONNECTION LIMIT 3;");
    const before = target.sql("postgres", "SELECT rolcreatedb, rolconnlimit, rolpassword FROM pg_authid WHERE rolname = 'app'");
    const report = await postgresPlugin.restore(ctx, config(target), inputs, {});
    expect(report.details?.roles).toEqual({ created: ["analyst", "reader"], leftAlone: ["app", "postgres"] });
    expect(target.sql("postgres", "SELECT rolcreatedb, rolconnlimit, rolpassword FROM pg_authid WHERE rolname = 'app'")).toBe(before);
    expect(target.sql("postgres", "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'shop'")).toBe("app");

    target.sql("shop", "DELETE FROM orders WHERE id > 10");
    await expect(postgresPlugin.restore(ctx, config(target), inputs, {})).rejects.toMatchObject({ code: "RESTORE", message: 'Cannot restore database "shop": it exists' });
    const again = await postgresPlugin.restore(ctx, config(target), inputs, { replace: true });
    expect(again.details?.roles).toEqual({ created: [], leftAlone: ["analyst", "app", "postgres", "reader"] });
    expect(target.sql("shop", "SELECT count(*) FROM orders")).toBe(counts.orders);
    expectNoSecrets(again);
  });

  it("with restore: { roles: false } creates no role; the database is then owned by the plugin's user, with a warning", async () => {
    const report = await postgresPlugin.restore(ctx, config(target, { restore: { roles: false, noOwner: true, noPrivileges: true } }), inputs, {});
    expect(report.details?.roles).toBeUndefined();
    expect(target.sql("postgres", "SELECT count(*) FROM pg_roles WHERE rolname IN ('analyst', 'app', 'reader')")).toBe("0");
    expect(target.sql("postgres", "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'shop'")).toBe("postgres");
    expect(ctx.warnings.join("\n")).toContain('role "app", which owned database "shop", does not exist here');
    expect(target.sql("shop", "SELECT count(*) FROM items")).toBe(counts.items);
  });

  it("takes the roles back when the database restore fails after they were created, and says nothing of their hashes", async () => {
    const [globals, shop] = inputs;
    const damaged = restoreInput(Buffer.from("PGDMP this is not a dump"), shop!.record.metadata, false, "shop.dump");
    await expect(postgresPlugin.restore(ctx, config(target), [globals!, damaged], {})).rejects.toMatchObject({ code: expect.stringMatching(/INTEGRITY|RESTORE/) });
    expect(target.sql("postgres", "SELECT count(*) FROM pg_roles WHERE rolname IN ('analyst', 'app', 'reader')")).toBe("0");
    expect(target.sql("postgres", "SELECT count(*) FROM pg_database WHERE datname = 'shop' OR datname LIKE '%_lb_%'")).toBe("0");
    expectNoSecrets(undefined);
  });

  it("refuses to create roles as a user that may not, creating none and naming the fix, without a password hash in the message", async () => {
    target.sql("postgres", "CREATE ROLE weak LOGIN CREATEROLE CREATEDB PASSWORD 'weakpw';");
    try {
      // A CREATEROLE user may create the plain roles, not a superuser: the whole set is refused.
      source.sql("postgres", "CREATE ROLE boss SUPERUSER;");
      const artifacts = [];
      for await (const a of postgresPlugin.backup(ctx, config(source, { databases: ["shop"] }))) artifacts.push({ name: a.name, bytes: await artifactBytes(a), metadata: a.metadata() });
      const withBoss = artifacts.map((a) => restoreInput(a.bytes, a.metadata, false, a.name));
      const failure = await postgresPlugin.restore(ctx, config(target, { user: "weak", password: "weakpw" }), withBoss, {}).then(
        () => undefined,
        (err: unknown) => err as { code: string; message: string; hint: string },
      );
      expect(failure).toMatchObject({ code: "RESTORE", message: expect.stringContaining("(none was created)"), hint: expect.stringContaining("superuser") });
      expect(JSON.stringify(failure)).not.toContain("SCRAM-SHA-256$");
      expect(target.sql("postgres", "SELECT count(*) FROM pg_roles WHERE rolname IN ('analyst', 'app', 'reader', 'boss')")).toBe("0");
    } finally {
      source.sql("postgres", "DROP ROLE IF EXISTS boss;");
      target.sql("postgres", "DROP ROLE IF EXISTS weak;");
    }
  });

  it("is ready when the server answers, and names the server and what it said when it does not", async () => {
    await postgresPlugin.ready!(ctx, config(target), 10_000);
    await expect(postgresPlugin.ready!(ctx, config(target, { port: 1 }), 500)).rejects.toMatchObject({ code: "RESTORE", message: expect.stringMatching(/^Cannot restore into PostgreSQL on 127\.0\.0\.1:1: it did not answer within 0\.5s; it last said: .*(Connection refused|could not connect)/), hint: expect.stringContaining("hooks.prepare") });
    // A wrong password is an answer: it fails at once, whatever the timeout.
    await expect(postgresPlugin.ready!(ctx, config(target, { password: "wrong-pw" }), 600_000)).rejects.toMatchObject({ code: "SOURCE", message: expect.stringContaining("password authentication failed") });
  });
});
