// The postgres plugin for a server in a container, through the stand-in `docker` (no Docker engine
// runs here: the stand-in runs each `docker exec` locally and logs it). pg_restore exists only "in
// the container": every tool of the service must run there, and a tool the container lacks is
// reported as missing, never as a damaged dump.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { dockerStandIn } from "../../test/harness/docker-standin";
import { postgresBinDir, seedShop, startPostgres, type PostgresServer } from "../../test/harness/postgres";
import { currentPlatform } from "../../platform/current";
import { artifactBytes, pluginContext, restoreInput, type TestContext } from "../../test/plugin-context";
import { postgresPlugin } from "./postgres";

describe("postgres plugin in a container (stand-in docker: runs locally, no Docker engine here)", () => {
  let pg: PostgresServer;
  let ctx: TestContext;
  let standin: ReturnType<typeof dockerStandIn>;

  const config = (extra: Record<string, unknown> = {}) =>
    postgresPlugin.parseConfig({ port: pg.port, password: pg.password, databases: ["shop"], container: "db", docker: standin.docker, pgRestore: "pg_restore_in_db", ...extra }, "hosts.h.plugins.pg");

  async function backup() {
    const out: { name: string; bytes: Buffer; metadata: Record<string, unknown> }[] = [];
    for await (const a of postgresPlugin.backup(ctx, config())) out.push({ name: a.name, bytes: await artifactBytes(a), metadata: a.metadata() });
    return out.map((a) => restoreInput(a.bytes, a.metadata, false, a.name));
  }

  beforeAll(async () => {
    pg = await startPostgres();
    seedShop(pg, "shop", 2000);
  });
  afterAll(async () => {
    await pg?.stop();
  });
  beforeEach(() => {
    standin = dockerStandIn({ pg_restore_in_db: `${postgresBinDir()}/pg_restore` });
    ctx = pluginContext();
    return () => {
      ctx.cleanup();
      standin.cleanup();
    };
  });

  it("runs psql, pg_dump, pg_dumpall and pg_restore in the container, for backup, verify and restore", async () => {
    expect(await currentPlatform().which("pg_restore_in_db")).toBeNull();
    const inputs = await backup();
    const commands = () => standin.calls().map((c) => c.split(" ").slice(0, 2).join(" "));
    expect(new Set(commands())).toEqual(new Set(["db psql", "db pg_dumpall", "db pg_dump"]));

    const verified = await postgresPlugin.verify(ctx, config(), inputs, `${ctx.scratchDir}/verify`);
    expect(verified.checks[1]).toMatch(/^database shop: pg_restore --list ok/);

    pg.sql("shop", "DELETE FROM documents WHERE id > 10");
    await postgresPlugin.restore(ctx, config({ restore: { replace: true } }), inputs, {});
    expect(pg.sql("shop", "SELECT count(*) FROM documents")).toBe("500");

    const place = `/tmp/lifeboat-pg-${ctx.jobId}-shop`;
    expect(standin.calls()).toEqual(expect.arrayContaining([`db cp -a ${ctx.scratchDir}/pg-shop ${place}`, `db pg_restore_in_db --list ${place}/dump`, `db rm -rf ${place}`]));
    expect(standin.calls().filter((c) => c.startsWith("db pg_restore_in_db --no-password"))).toHaveLength(2);
  });

  it("restores a table in place through the container", async () => {
    const inputs = await backup();
    pg.sql("shop", "DELETE FROM accounts WHERE aid > 100");
    await postgresPlugin.restore(ctx, config({ restore: { tables: ["accounts"], replace: true } }), inputs, {});
    expect(pg.sql("shop", "SELECT count(*) FROM accounts")).toBe("2000");
    expect(standin.calls().some((c) => c.startsWith("db pg_restore_in_db --clean --if-exists --file=-"))).toBe(true);
  });

  it("waits for the server and applies the snapshot's roles through the container", async () => {
    await postgresPlugin.ready!(ctx, config(), 10_000);
    expect(standin.calls()).toContain("db psql -X -q -A -t");
    pg.sql("postgres", "CREATE ROLE clerk LOGIN PASSWORD 'clerk-pw';");
    const inputs = await backup();
    pg.sql("postgres", "DROP ROLE clerk;");
    const report = await postgresPlugin.restore(ctx, config({ restore: { replace: true } }), inputs, {});
    expect(report.details?.roles).toEqual({ created: ["clerk"], leftAlone: ["postgres"] });
    expect(pg.sql("postgres", "SELECT rolcanlogin FROM pg_roles WHERE rolname = 'clerk'")).toBe("t");
    pg.sql("postgres", "DROP ROLE clerk;");
  });

  it("reports pg_restore missing in the container as a missing tool, for verify and restore, and leaves the database alone", async () => {
    const inputs = await backup();
    pg.sql("shop", "DELETE FROM documents WHERE id > 10");
    const missing = { code: "TOOL_MISSING", message: expect.stringContaining('Cannot run "pg_restore_nowhere" for container "db"'), hint: expect.stringContaining('"pg_restore_nowhere" is not in container "db"') };
    await expect(postgresPlugin.verify(ctx, config({ pgRestore: "pg_restore_nowhere" }), inputs, `${ctx.scratchDir}/verify`)).rejects.toMatchObject(missing);
    await expect(postgresPlugin.restore(ctx, config({ pgRestore: "pg_restore_nowhere", restore: { replace: true } }), inputs, {})).rejects.toMatchObject(missing);
    expect(pg.sql("shop", "SELECT count(*) FROM documents")).toBe("10");
    expect(pg.sql("postgres", "SELECT count(*) FROM pg_database WHERE datname LIKE '%_lb_%'")).toBe("0");
  });
});
