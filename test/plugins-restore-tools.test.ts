// Every plugin says where it goes in a whole-host restore and which programs its restore runs on the
// host, for a service on the host and for one in a container (whose tools run through docker).
import { describe, expect, it } from "vitest";
import { RESTORE_STAGES, type RestoreTool } from "../plugins/contract";
import { getPlugin, pluginNames } from "../plugins/registry";

/** A minimal valid config of each plugin, on the host. */
const hostConfigs: Record<string, Record<string, unknown>> = {
  files: { paths: ["/srv/app"] },
  sqlite: { databases: ["/srv/app/app.db"] },
  redis: { stop: "systemctl stop redis-server", start: "systemctl start redis-server" },
  nginx: {},
  letsencrypt: {},
  postgres: {},
  chroma: { path: "/srv/chroma" },
  ollama: {},
};

/** The same, in a container called `svc` (docker named by its path, to see it is the one used). */
const inContainer = (raw: Record<string, unknown>) => ({ ...raw, container: "svc", docker: "/usr/local/bin/docker", containerPaths: { "/srv": "/var/lib/svc" } });

const toolsOf = (plugin: string, raw: Record<string, unknown>): RestoreTool[] => {
  const p = getPlugin(plugin);
  return p.restoreTools(p.parseConfig(raw, `plugins.${plugin}`));
};
const commands = (tools: RestoreTool[]) => tools.map((t) => t.command);

describe("restore stages and tools of every plugin", () => {
  it("covers every registered plugin", () => {
    expect(Object.keys(hostConfigs).sort()).toEqual(pluginNames());
  });

  it("puts files first, then certificates, the web server, service data, models", () => {
    const stages = Object.fromEntries(pluginNames().map((name) => [name, getPlugin(name).restoreStage]));
    expect(stages).toEqual({ files: "files", letsencrypt: "certificates", nginx: "web", sqlite: "data", chroma: "data", redis: "data", postgres: "data", ollama: "models" });
    for (const stage of Object.values(stages)) expect(RESTORE_STAGES).toContain(stage);
  });

  it("names the programs each restore runs on the host, with a Debian install hint", () => {
    const tools = Object.fromEntries(pluginNames().map((name) => [name, toolsOf(name, hostConfigs[name]!)]));
    expect(Object.fromEntries(Object.entries(tools).map(([name, t]) => [name, commands(t)]))).toEqual({
      files: [],
      letsencrypt: [],
      ollama: [],
      nginx: ["nginx"],
      sqlite: ["sqlite3"],
      chroma: ["sqlite3"],
      redis: ["redis-check-rdb", "redis-cli"],
      postgres: ["psql", "pg_restore"],
    });
    expect(tools.postgres!.map((t) => t.install)).toEqual(["apt-get install postgresql-client", "apt-get install postgresql-client"]);
    expect(tools.redis!.map((t) => t.install)).toEqual(["apt-get install redis-tools", "apt-get install redis-tools"]);
    expect(tools.sqlite![0]!.install).toBe("apt-get install sqlite3");
    expect(tools.nginx![0]!.install).toBe("apt-get install nginx");
  });

  it("names the configured binaries rather than the defaults", () => {
    expect(commands(toolsOf("postgres", { psql: "/opt/pg/bin/psql", pgRestore: "/opt/pg/bin/pg_restore" }))).toEqual(["/opt/pg/bin/psql", "/opt/pg/bin/pg_restore"]);
    expect(commands(toolsOf("sqlite", { ...hostConfigs.sqlite, sqlite3: "/opt/sqlite3" }))).toEqual(["/opt/sqlite3"]);
  });

  it("for a containerized service needs docker on the host instead of the tools that run in the container; host-side checks keep their host tool", () => {
    const tools = Object.fromEntries(["nginx", "postgres", "redis", "sqlite", "chroma"].map((name) => [name, commands(toolsOf(name, inContainer(hostConfigs[name]!)))]));
    expect(tools).toEqual({
      nginx: ["/usr/local/bin/docker"],
      postgres: ["/usr/local/bin/docker"],
      // redis-check-rdb reads the staged file on the host; redis-cli runs in the container.
      redis: ["redis-check-rdb", "/usr/local/bin/docker"],
      // sqlite3 works on the host path of the database, also for a containerized application.
      sqlite: ["sqlite3"],
      chroma: ["sqlite3"],
    });
    expect(toolsOf("postgres", inContainer({}))[0]!.install).toMatch(/apt-get install docker\.io/);
  });
});
