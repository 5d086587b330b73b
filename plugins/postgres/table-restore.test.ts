// Restoring some tables of a database in place, against a real cluster: a database owned by a
// non-superuser with several tables, serial and identity sequences, a view, an index, a foreign
// key and a grant. What comes back comes back whole; everything else stays as it was.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startPostgres, type PostgresServer } from "../../test/harness/postgres";
import { artifactBytes, pluginContext, restoreInput, type TestContext } from "../../test/plugin-context";
import type { RestoreInput } from "../contract";
import { postgresPlugin } from "./postgres";

describe("postgres plugin: restoring some tables", () => {
  let pg: PostgresServer;
  let ctx: TestContext;
  let snapshot: () => RestoreInput;

  const config = (restore: Record<string, unknown> = {}) => postgresPlugin.parseConfig({ port: pg.port, password: pg.password, databases: ["crm"], globals: false, restore }, "hosts.h.plugins.pg");
  const crm = (query: string) => pg.sql("crm", query);
  const restoreTables = (restore: Record<string, unknown>) => postgresPlugin.restore(ctx, config(restore), [snapshot()], {});

  /** What a user looks at after a table restore: the objects of the schema, their owners and definitions. */
  const schemaPicture = () =>
    crm(`SELECT string_agg(line, E'\\n' ORDER BY line) FROM (
      SELECT 'rel ' || c.relname || ' ' || c.relkind::text || ' ' || pg_get_userbyid(c.relowner) AS line FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public'
      UNION ALL SELECT 'con ' || conname || ' ' || pg_get_constraintdef(oid) FROM pg_constraint WHERE connamespace = 'public'::regnamespace
      UNION ALL SELECT 'def ' || adrelid::regclass || ' ' || pg_get_expr(adbin, adrelid) FROM pg_attrdef
      UNION ALL SELECT 'acl ' || relname || ' ' || array_to_string(relacl, ',') FROM pg_class WHERE relacl IS NOT NULL AND relnamespace = 'public'::regnamespace
    ) AS objects`);

  beforeAll(async () => {
    pg = await startPostgres();
    ctx = pluginContext();
  });
  afterAll(async () => {
    ctx?.cleanup();
    await pg?.stop();
  });

  beforeEach(async () => {
    pg.sql("postgres", "DROP DATABASE IF EXISTS crm WITH (FORCE); DROP ROLE IF EXISTS app; DROP ROLE IF EXISTS reporter; CREATE ROLE app LOGIN; CREATE ROLE reporter; CREATE DATABASE crm OWNER app;");
    crm(`SET ROLE app;
CREATE TABLE customers (id serial PRIMARY KEY, name text UNIQUE NOT NULL);
CREATE TABLE orders (id serial PRIMARY KEY, customer_id int NOT NULL REFERENCES customers(id), total numeric NOT NULL);
CREATE INDEX orders_total ON orders (total);
CREATE TABLE notes (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, body text);
CREATE VIEW big_orders AS SELECT o.id, c.name, o.total FROM orders o JOIN customers c ON c.id = o.customer_id WHERE o.total > 100;
GRANT SELECT ON orders TO reporter;
INSERT INTO customers (name) SELECT 'customer ' || i FROM generate_series(1, 50) i;
INSERT INTO orders (customer_id, total) SELECT 1 + i % 50, i * 3 FROM generate_series(1, 300) i;
INSERT INTO notes (body) SELECT 'note ' || i FROM generate_series(1, 20) i;`);
    const artifacts = [];
    for await (const a of postgresPlugin.backup(ctx, config())) artifacts.push({ bytes: await artifactBytes(a), metadata: a.metadata() });
    const [dump] = artifacts;
    snapshot = () => restoreInput(dump!.bytes, dump!.metadata, false, "crm.dump");
  });

  it("replaces the named table with its keys, sequence, index, grant, view and owner, and leaves the other tables alone", async () => {
    const before = schemaPicture();
    crm("DELETE FROM orders WHERE id > 10; UPDATE orders SET total = 0; INSERT INTO customers (name) VALUES ('added after the snapshot'); INSERT INTO notes (body) VALUES ('kept');");
    const report = await restoreTables({ tables: ["orders"], replace: true });
    expect(report.restored).toEqual(["database crm"]);
    expect(crm("SELECT count(*), sum(total) FROM orders")).toBe(`300|${(300 * 301 * 3) / 2}`);
    expect(crm("SELECT count(*) FROM customers")).toBe("51");
    expect(crm("SELECT count(*) FROM notes")).toBe("21");
    expect(crm("SELECT count(*) FROM big_orders")).toBe(String(300 - 33));
    expect(schemaPicture()).toBe(before);
    // The sequence was set as the snapshot had it: new rows follow the restored ones.
    expect(crm("INSERT INTO orders (customer_id, total) VALUES (1, 1) RETURNING id").split("\n")[0]).toBe("301");
    expect(pg.sql("postgres", "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'crm'")).toBe("app");
    const details = (report.details as Record<string, { objects: string[]; tables: Record<string, number> }>).crm!;
    expect(details.tables).toEqual({ "public.orders": 300 });
    expect(details.objects).toEqual(expect.arrayContaining(["TABLE public.orders", "SEQUENCE public.orders_id_seq", "INDEX public.orders_total", "VIEW public.big_orders", "FK CONSTRAINT public.orders orders_customer_id_fkey"]));
    expect(details.objects.filter((o) => /customers|notes/.test(o) && !o.startsWith("VIEW") && !o.includes("orders"))).toEqual([]);
  });

  it("brings a dropped table back (and the view that went with it) without replace", async () => {
    const before = schemaPicture();
    crm("DROP TABLE orders CASCADE");
    await restoreTables({ tables: ["public.orders"] });
    expect(crm("SELECT count(*) FROM orders")).toBe("300");
    expect(schemaPicture()).toBe(before);
  });

  it("refuses to replace an existing table without replace, and changes nothing", async () => {
    crm("DELETE FROM orders WHERE id > 10");
    await expect(restoreTables({ tables: ["orders"] })).rejects.toMatchObject({ code: "RESTORE", message: 'Cannot restore table public.orders of database "crm": it exists', hint: expect.stringContaining("replace: true") });
    expect(crm("SELECT count(*) FROM orders")).toBe("10");
  });

  it("rolls everything back when the live data does not fit the restored table (a foreign key into it)", async () => {
    crm("INSERT INTO customers (name) VALUES ('new'); INSERT INTO orders (customer_id, total) VALUES ((SELECT id FROM customers WHERE name = 'new'), 5); UPDATE customers SET name = name || ' (edited)' WHERE id = 1;");
    const before = schemaPicture();
    await expect(restoreTables({ tables: ["customers"], replace: true })).rejects.toMatchObject({ code: "RESTORE", message: expect.stringMatching(/Cannot restore table public.customers of database "crm" \(nothing was changed\): .*orders_customer_id_fkey/) });
    expect(crm("SELECT count(*) FROM customers")).toBe("51");
    expect(crm("SELECT name FROM customers WHERE id = 1")).toBe("customer 1 (edited)");
    expect(schemaPicture()).toBe(before);
  });

  it("refuses a table the dump does not hold, a database that does not exist, and a live object the snapshot does not know", async () => {
    await expect(restoreTables({ tables: ["invoices"], replace: true })).rejects.toMatchObject({ code: "RESTORE", message: 'Cannot restore table "invoices" of database "crm": the snapshot\'s dump has no such table', hint: expect.stringContaining("public.orders") });
    crm("SET ROLE app; CREATE VIEW recent_orders AS SELECT * FROM orders WHERE id > 290");
    await expect(restoreTables({ tables: ["orders"], replace: true })).rejects.toMatchObject({ code: "RESTORE", message: expect.stringContaining("recent_orders") });
    expect(crm("SELECT count(*) FROM recent_orders")).toBe("10");
    pg.sql("postgres", "DROP DATABASE crm WITH (FORCE)");
    await expect(restoreTables({ tables: ["orders"] })).rejects.toMatchObject({ code: "RESTORE", message: expect.stringContaining('"crm": the database does not exist here') });
  });

  it("keeps the database's owner when it replaces the whole database, and gives a new one the recorded owner", async () => {
    await postgresPlugin.restore(ctx, config({ replace: true }), [snapshot()], {});
    expect(pg.sql("postgres", "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'crm'")).toBe("app");
    pg.sql("postgres", "DROP DATABASE crm WITH (FORCE)");
    await postgresPlugin.restore(ctx, config(), [snapshot()], {});
    expect(pg.sql("postgres", "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'crm'")).toBe("app");
    expect(crm("SELECT pg_get_userbyid(relowner) FROM pg_class WHERE relname = 'orders'")).toBe("app");
  });
});
