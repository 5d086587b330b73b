// The postgres plugin against a real cluster (initdb + pg_ctl), under concurrent writes.
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { seedShop, startPostgres, type PostgresServer } from "../../test/harness/postgres";
import { artifactBytes, pluginContext, restoreInput, type TestContext } from "../../test/plugin-context";
import { postgresPlugin } from "./postgres";

describe("postgres plugin", () => {
  let pg: PostgresServer;
  let ctx: TestContext;

  beforeAll(async () => {
    pg = await startPostgres();
    seedShop(pg, "shop", 20000);
    ctx = pluginContext();
  });
  afterAll(async () => {
    ctx?.cleanup();
    await pg?.stop();
  });

  const config = (extra: Record<string, unknown> = {}) =>
    postgresPlugin.parseConfig({ port: pg.port, password: pg.password, databases: ["shop"], excludeTableData: ["huge_log"], ...extra }, "hosts.h.plugins.pg");

  async function backup(cfg = config()) {
    await postgresPlugin.check(ctx, cfg);
    const out: { name: string; bytes: Buffer; metadata: Record<string, unknown> }[] = [];
    for await (const a of postgresPlugin.backup(ctx, cfg)) out.push({ name: a.name, bytes: await artifactBytes(a), metadata: a.metadata() });
    return out;
  }

  it("dumps globals and each database in one snapshot, with row counts of that snapshot, while writers keep writing", async () => {
    const env = { ...process.env, PGPASSWORD: pg.password };
    const writer = spawn("bash", ["-c", `for i in $(seq 1 100000); do echo "INSERT INTO history (tid, bid, aid, delta) VALUES (1, 1, $i, 5); UPDATE accounts SET abalance = abalance + 1 WHERE aid = $((i % 20000 + 1));"; done | psql -q -h 127.0.0.1 -p ${pg.port} -U postgres -d shop >/dev/null 2>&1`], { env, stdio: "ignore", detached: true });
    await new Promise((r) => setTimeout(r, 500));
    let artifacts;
    try {
      artifacts = await backup();
    } finally {
      process.kill(-writer.pid!, "SIGTERM");
    }
    expect(artifacts.map((a) => a.name)).toEqual(["globals.sql", "shop.dump"]);
    expect(artifacts[0]!.bytes.toString()).toContain("CREATE ROLE postgres");
    expect(artifacts[0]!.metadata.serverVersion).toBe(pg.sql("postgres", "SHOW server_version"));
    expect(artifacts[1]!.metadata.serverVersion).toBe(pg.sql("postgres", "SHOW server_version"));
    const shop = artifacts[1]!;
    const tables = shop.metadata.tables as Record<string, number>;
    expect(tables["public.accounts"]).toBe(20000);
    expect(tables["public.documents"]).toBe(500);
    expect(tables["public.history"]).toBeGreaterThan(0);
    expect(tables["public.huge_log"]).toBeUndefined();
    expect(shop.metadata).toMatchObject({ database: "shop", dataExcluded: ["public.huge_log"] });
    expect(shop.bytes.subarray(0, 5).toString()).toBe("PGDMP");

    // A restore into a new database checks the counts recorded in the same snapshot.
    pg.sql("postgres", "CREATE DATABASE placeholder");
    const report = await postgresPlugin.restore(ctx, config({ restore: { rename: { shop: "shop_copy" } } }), [restoreInput(shop.bytes, shop.metadata, false, "shop.dump")], {});
    expect(report.restored).toEqual(["database shop as shop_copy"]);
    expect(Number(pg.sql("shop_copy", "SELECT count(*) FROM history"))).toBe(tables["public.history"]);
    expect(pg.sql("shop_copy", "SELECT title FROM documents WHERE id = 7")).toBe("Grüße 日本 7");
    expect(pg.sql("shop_copy", "SELECT body->'tags'->>1 FROM documents WHERE id = 7")).toBe("ü");
    expect(pg.sql("shop_copy", "SELECT count(*) FROM huge_log")).toBe("0");
  });

  it("counts rows with count(*) in the dump's snapshot when it cannot read the archive (a pg_dump newer than Lifeboat knows)", async () => {
    // A stand-in pg_dump that writes the plain format, which the archive reader does not read.
    const wrapper = path.join(ctx.scratchDir, "pg_dump_plain");
    fs.writeFileSync(wrapper, '#!/bin/bash\nargs=()\nfor a in "$@"; do case "$a" in --format=*|--compress=*) ;; *) args+=("$a") ;; esac; done\nexec pg_dump --format=plain "${args[@]}"\n', { mode: 0o755 });
    const [, shop] = await backup(config({ pgDump: wrapper }));
    const tables = shop!.metadata.tables as Record<string, number>;
    expect(tables["public.accounts"]).toBe(Number(pg.sql("shop", "SELECT count(*) FROM accounts")));
    expect(tables["public.documents"]).toBe(Number(pg.sql("shop", "SELECT count(*) FROM documents")));
    expect(tables["public.huge_log"]).toBeUndefined();
    expect(ctx.logs.join("\n")).toContain("row counts by count(*) instead of from the archive: not a pg_dump custom-format archive");
  });

  it("refuses to restore over an existing database unless replace is set, then replaces it", async () => {
    const [, shop] = await backup();
    pg.sql("shop", "DELETE FROM documents WHERE id > 10");
    await expect(postgresPlugin.restore(ctx, config(), [restoreInput(shop!.bytes, shop!.metadata, false, "shop.dump")], {})).rejects.toMatchObject({ code: "RESTORE", hint: expect.stringContaining("replace: true") });
    expect(pg.sql("shop", "SELECT count(*) FROM documents")).toBe("10");
    await postgresPlugin.restore(ctx, config({ restore: { replace: true } }), [restoreInput(shop!.bytes, shop!.metadata, false, "shop.dump")], {});
    expect(pg.sql("shop", "SELECT count(*) FROM documents")).toBe("500");
    expect(pg.sql("postgres", "SELECT count(*) FROM pg_database WHERE datname LIKE '%_lb_%'")).toBe("0");
  });

  it("restores a selection of the snapshot's databases under new names, next to the live ones", async () => {
    const artifacts = await backup();
    const inputs = artifacts.map((a) => restoreInput(a.bytes, a.metadata, false, a.name));
    const report = await postgresPlugin.restore(ctx, config({ restore: { databases: ["shop"], rename: { shop: "shop_restored" } } }), inputs, {});
    expect(report.restored).toEqual(["database shop as shop_restored"]);
    expect(pg.sql("shop_restored", "SELECT count(*) FROM accounts")).toBe("20000");
    await expect(postgresPlugin.restore(ctx, config({ restore: { databases: ["nope"] } }), inputs, {})).rejects.toMatchObject({ code: "RESTORE", message: expect.stringContaining('"nope": the snapshot does not hold it'), hint: "it holds: shop" });
    expect(() => config({ restore: { rename: { shop: "bad name;" } } })).toThrow(/restore.rename.shop: not a database name/);
  });

  it("takes the databases it restores in place from this host's configuration, not from the manifest", async () => {
    const [, shop] = await backup();
    await expect(postgresPlugin.restore(ctx, config({ restore: { replace: true } }), [restoreInput(shop!.bytes, { ...shop!.metadata, database: "postgres" }, false, "shop.dump")], {})).rejects.toMatchObject({
      code: "RESTORE",
      message: 'Refusing to restore database "postgres" in place: this host\'s configuration of the plugin does not include it',
    });
    expect(pg.sql("postgres", "SELECT count(*) FROM pg_database WHERE datname LIKE '%_lb_%'")).toBe("0");
  });

  it("backs up a database named like connection settings as a name: no connection, no password, goes anywhere else", async () => {
    const connections: string[] = [];
    const trap = net.createServer((socket) => {
      connections.push(String(socket.remotePort));
      socket.destroy();
    });
    await new Promise<void>((resolve) => trap.listen(0, "127.0.0.1", resolve));
    const port = (trap.address() as net.AddressInfo).port;
    const evil = `host=127.0.0.1 port=${port}`;
    pg.sql("postgres", `CREATE DATABASE "${evil}"`);
    try {
      const artifacts = await backup(config({ databases: "all", globals: false, excludeTableData: [] }));
      expect(artifacts.map((a) => a.metadata.database)).toContain(evil);
      // Stored under a safe object name (the pipeline refuses any other); the real name is in the metadata.
      expect(artifacts.map((a) => a.name).filter((n) => !/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(n))).toEqual([]);
      expect(connections).toEqual([]);
    } finally {
      trap.close();
      pg.sql("postgres", `DROP DATABASE "${evil}"`);
    }
  });

  it("refuses a damaged dump and leaves the live database and no scratch database behind", async () => {
    const [, shop] = await backup();
    const damaged = shop!.bytes.subarray(0, Math.floor(shop!.bytes.length / 2));
    pg.sql("shop", "INSERT INTO documents (title) VALUES ('after')");
    await expect(postgresPlugin.restore(ctx, config({ restore: { replace: true } }), [restoreInput(damaged, shop!.metadata, false, "shop.dump")], {})).rejects.toMatchObject({ code: expect.stringMatching(/INTEGRITY|RESTORE/) });
    expect(pg.sql("shop", "SELECT count(*) FROM documents WHERE title = 'after'")).toBe("1");
    expect(pg.sql("postgres", "SELECT count(*) FROM pg_database WHERE datname LIKE '%_lb_%'")).toBe("0");
  });

  it("names the problem: server down, wrong password, a role without rights, pg_dump missing", async () => {
    await expect(postgresPlugin.check(ctx, config({ port: 1 }))).rejects.toMatchObject({ code: "SOURCE", hint: expect.stringContaining("PostgreSQL running") });
    await expect(postgresPlugin.check(ctx, config({ password: "nope-wrong" }))).rejects.toMatchObject({ code: "SOURCE", message: expect.not.stringContaining("nope-wrong") });
    pg.sql("postgres", "CREATE ROLE weak LOGIN PASSWORD 'weakpw'");
    await expect(backup(config({ user: "weak", password: "weakpw", globals: false }))).rejects.toMatchObject({ code: "SOURCE", hint: expect.stringContaining("pg_read_all_data") });
    await expect(postgresPlugin.check(ctx, config({ pgDump: "/nonexistent/pg_dump" }))).rejects.toMatchObject({ code: "TOOL_MISSING" });
  });
});
