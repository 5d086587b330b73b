// Deep verification catches what a hash cannot: copies whose content is damaged, or
// does not match its manifest, fail with a message naming the problem, and nothing
// is left behind (no scratch database). Real sqlite3, PostgreSQL, nginx and openssl.
import { execFileSync } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { filesPlugin } from "../plugins/files/files";
import { letsencryptPlugin } from "../plugins/letsencrypt/letsencrypt";
import { nginxPlugin } from "../plugins/nginx/nginx";
import { postgresPlugin } from "../plugins/postgres/postgres";
import { sqlitePlugin } from "../plugins/sqlite/sqlite";
import type { Plugin } from "../plugins/contract";
import { addCertificate } from "./harness/letsencrypt-tree";
import { seedShop, startPostgres } from "./harness/postgres";
import { artifactBytes, pluginContext, restoreInput, type TestContext } from "./plugin-context";

describe("plugin verify: damaged or inconsistent copies fail", () => {
  let ctx: TestContext;
  let dir: string;
  let scratch: string;
  beforeEach(() => {
    ctx = pluginContext();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "lifeboat-verify-"));
    scratch = path.join(ctx.scratchDir, "verify");
    fs.mkdirSync(scratch);
  });
  afterEach(() => {
    ctx.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function backup<C>(plugin: Plugin<C>, config: C) {
    const out: { name: string; bytes: Buffer; metadata: Record<string, unknown> }[] = [];
    for await (const a of plugin.backup(ctx, config)) out.push({ name: a.name, bytes: await artifactBytes(a), metadata: a.metadata() });
    return out;
  }
  const inputs = (artifacts: { name: string; bytes: Buffer; metadata: Record<string, unknown> }[]) => artifacts.map((a) => restoreInput(a.bytes, a.metadata, false, a.name));

  it("sqlite: a copy with damaged pages fails integrity_check", async () => {
    const db = path.join(dir, "app.db");
    execFileSync("sqlite3", [db, "CREATE TABLE t(x TEXT); WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 5000) INSERT INTO t SELECT hex(randomblob(50)) FROM n; CREATE INDEX tx ON t(x);"]);
    const config = sqlitePlugin.parseConfig({ databases: [db] }, "sqlite");
    const [artifact] = await backup(sqlitePlugin, config);
    const good = await sqlitePlugin.verify(ctx, config, inputs([artifact!]), scratch);
    expect(good.checks[0]).toMatch(/integrity_check ok, row counts of 1 tables as recorded/);
    const damaged = Buffer.from(artifact!.bytes);
    damaged.fill(0xa5, 4096 * 3 + 100, 4096 * 3 + 900);
    await expect(sqlitePlugin.verify(ctx, config, inputs([{ ...artifact!, bytes: damaged }]), scratch)).rejects.toMatchObject({ code: "INTEGRITY", message: expect.stringMatching(/integrity_check failed/) });
  });

  it("files: a copy that does not hold what the manifest counted fails", async () => {
    fs.mkdirSync(path.join(dir, "data"));
    for (let i = 0; i < 5; i++) fs.writeFileSync(path.join(dir, "data", `f${i}`), crypto.randomBytes(1000));
    const config = filesPlugin.parseConfig({ paths: [path.join(dir, "data")] }, "files");
    const [artifact] = await backup(filesPlugin, config);
    expect((await filesPlugin.verify(ctx, config, inputs([artifact!]), scratch)).checks[0]).toMatch(/restored 5 files \(5000 bytes\), 1 directories, 0 symlinks/);
    const lying = { ...artifact!, metadata: { ...artifact!.metadata, files: 6 } };
    await expect(filesPlugin.verify(ctx, config, inputs([lying]), scratch)).rejects.toMatchObject({ code: "INTEGRITY", message: expect.stringMatching(/has 5 files, the snapshot recorded 6/) });
  });

  it("nginx: a configuration that fails nginx -t fails verification", async () => {
    const root = path.join(dir, "nginx");
    fs.mkdirSync(root);
    fs.writeFileSync(path.join(root, "nginx.conf"), "events {}\nhttp { server { listen 127.0.0.1:18091; no_such_directive on; } }\n");
    const config = nginxPlugin.parseConfig({ root }, "nginx");
    const artifacts = await backup(nginxPlugin, config);
    await expect(nginxPlugin.verify(ctx, config, inputs(artifacts), scratch)).rejects.toMatchObject({ message: expect.stringMatching(/nginx -t failed: .*no_such_directive/) });
  });

  it("letsencrypt: a certificate that does not match its key fails verification", async () => {
    const root = path.join(dir, "letsencrypt");
    addCertificate(root, "example.org", ["example.org"], 60);
    execFileSync("openssl", ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", path.join(root, "archive", "example.org", "privkey1.pem")]);
    const config = letsencryptPlugin.parseConfig({ root }, "letsencrypt");
    const artifacts = await backup(letsencryptPlugin, config);
    expect(ctx.warnings.join("\n")).toMatch(/does not match its privkey.pem/);
    await expect(letsencryptPlugin.verify(ctx, config, inputs(artifacts), scratch)).rejects.toMatchObject({ code: "INTEGRITY", message: expect.stringMatching(/"example.org" .* does not match its privkey.pem/) });
  });

  it("postgres: row counts that differ from the manifest fail, and no scratch database is left", async () => {
    const pg = await startPostgres();
    try {
      seedShop(pg, "shop", 500);
      const config = postgresPlugin.parseConfig({ port: pg.port, password: pg.password, databases: ["shop"] }, "postgres");
      const artifacts = await backup(postgresPlugin, config);
      const good = await postgresPlugin.verify(ctx, config, inputs(artifacts), scratch);
      expect(good.checks.join("\n")).toMatch(/database shop: pg_restore --list ok \(\d+ entries\), loaded into a scratch database, row counts of \d+ tables as recorded/);
      expect(good.checks.join("\n")).toMatch(/globals.sql: a pg_dumpall script with \d+ roles/);
      const lying = artifacts.map((a) => (a.name === "shop.dump" ? { ...a, metadata: { ...a.metadata, tables: { ...(a.metadata.tables as object), "public.accounts": 501 } } } : a));
      await expect(postgresPlugin.verify(ctx, config, inputs(lying), scratch)).rejects.toMatchObject({ code: "INTEGRITY", message: expect.stringMatching(/table public.accounts has 500 rows after restore, the snapshot recorded 501/) });
      expect(pg.sql("postgres", "SELECT string_agg(datname, ',' ORDER BY datname) FROM pg_database WHERE NOT datistemplate")).toBe("postgres,shop");
    } finally {
      await pg.stop();
    }
  });
});
