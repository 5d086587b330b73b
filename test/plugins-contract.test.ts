// One contract suite, run against every plugin with real components (sqlite3, redis-server,
// PostgreSQL, nginx, openssl-made certificates) or faithful layouts (Chroma, Ollama).
import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { chromaPlugin } from "../plugins/chroma/chroma";
import { filesPlugin } from "../plugins/files/files";
import { letsencryptPlugin } from "../plugins/letsencrypt/letsencrypt";
import { nginxPlugin } from "../plugins/nginx/nginx";
import { ollamaPlugin } from "../plugins/ollama/ollama";
import { postgresPlugin } from "../plugins/postgres/postgres";
import { redisPlugin } from "../plugins/redis/redis";
import { sqlitePlugin } from "../plugins/sqlite/sqlite";
import { createChromaDir } from "./harness/chroma-dir";
import { addCertificate } from "./harness/letsencrypt-tree";
import { addModel } from "./harness/ollama-models";
import { seedShop, startPostgres } from "./harness/postgres";
import { fillRedis, startRedis } from "./harness/redis";
import { listTree } from "./harness/tree";
import { describePluginContract, pluginsUnderContract } from "./plugin-contract";
import { getPlugin, pluginNames } from "../plugins/registry";

const tempDir = (name: string) => fs.mkdtempSync(path.join(os.tmpdir(), `lifeboat-contract-${name}-`));
const sql = (db: string, query: string) => execFileSync("sqlite3", [db, query], { encoding: "utf8" }).trim();

describePluginContract("files", {
  plugin: filesPlugin,
  setup() {
    const dir = tempDir("files");
    fs.mkdirSync(path.join(dir, "data", "sub"), { recursive: true });
    fs.writeFileSync(path.join(dir, "data", "sub", "a.bin"), crypto.randomBytes(100_000));
    fs.symlinkSync("sub/a.bin", path.join(dir, "data", "link"));
    return {
      config: filesPlugin.parseConfig({ paths: [path.join(dir, "data")] }, "files"),
      state: () => listTree(path.join(dir, "data")),
      damage: () => fs.writeFileSync(path.join(dir, "data", "sub", "a.bin"), "changed"),
      cleanup: () => fs.rmSync(dir, { recursive: true, force: true }),
    };
  },
});

describePluginContract("sqlite", {
  plugin: sqlitePlugin,
  setup() {
    const dir = tempDir("sqlite");
    const db = path.join(dir, "app.db");
    sql(db, "PRAGMA journal_mode=WAL; CREATE TABLE t(x); INSERT INTO t VALUES (1),(2),(3);");
    return {
      config: sqlitePlugin.parseConfig({ databases: [db] }, "sqlite"),
      state: () => sql(db, "SELECT group_concat(x) FROM t"),
      damage: () => void sql(db, "DELETE FROM t WHERE x = 2"),
      cleanup: () => fs.rmSync(dir, { recursive: true, force: true }),
    };
  },
});

describePluginContract("redis", {
  plugin: redisPlugin,
  async setup() {
    const redis = await startRedis();
    fillRedis(redis, 1000);
    return {
      config: redisPlugin.parseConfig({ port: redis.port, password: redis.password, stop: redis.stopCommand, start: redis.startCommand }, "redis"),
      state: () => [redis.cli("DBSIZE"), redis.cli("GET", "str:0"), redis.cli("-n", "1", "DBSIZE")],
      damage: () => void redis.cli("FLUSHALL"),
      cleanup: () => redis.stop(),
    };
  },
});

describePluginContract("postgres", {
  plugin: postgresPlugin,
  async setup() {
    const pg = await startPostgres();
    seedShop(pg, "shop", 2000);
    return {
      config: postgresPlugin.parseConfig({ port: pg.port, password: pg.password, databases: ["shop"], restore: { replace: true } }, "postgres"),
      state: () => pg.sql("shop", "SELECT (SELECT count(*) FROM accounts) || '/' || (SELECT count(*) FROM documents) || '/' || (SELECT md5(string_agg(title, ',' ORDER BY id)) FROM documents)"),
      damage: () => void pg.sql("shop", "DELETE FROM documents WHERE id % 2 = 0"),
      cleanup: () => pg.stop(),
    };
  },
});

describePluginContract("nginx", {
  plugin: nginxPlugin,
  setup() {
    const dir = tempDir("nginx");
    const root = path.join(dir, "nginx");
    fs.mkdirSync(path.join(root, "conf.d"), { recursive: true });
    fs.writeFileSync(path.join(root, "nginx.conf"), `events {}\nhttp { include ${root}/conf.d/*.conf; }\n`);
    fs.writeFileSync(path.join(root, "conf.d", "site.conf"), "server { listen 127.0.0.1:18090; return 200; }\n");
    return {
      config: nginxPlugin.parseConfig({ root }, "nginx"),
      state: () => listTree(root),
      damage: () => fs.rmSync(path.join(root, "conf.d", "site.conf")),
      cleanup: () => fs.rmSync(dir, { recursive: true, force: true }),
    };
  },
});

describePluginContract("letsencrypt", {
  plugin: letsencryptPlugin,
  setup() {
    const dir = tempDir("le");
    const root = path.join(dir, "letsencrypt");
    addCertificate(root, "example.org", ["example.org"], 60);
    return {
      config: letsencryptPlugin.parseConfig({ root }, "letsencrypt"),
      state: () => listTree(root),
      damage: () => fs.rmSync(path.join(root, "live"), { recursive: true }),
      cleanup: () => fs.rmSync(dir, { recursive: true, force: true }),
    };
  },
});

describePluginContract("chroma (faithful on-disk layout)", {
  plugin: chromaPlugin,
  setup() {
    const dir = tempDir("chroma");
    const persist = path.join(dir, "vector_db");
    const { segments } = createChromaDir(persist, ["docs"], 100);
    return {
      config: chromaPlugin.parseConfig({ path: persist }, "chroma"),
      state: () => [listTree(persist, (rel) => rel.startsWith("chroma.sqlite3")), sql(path.join(persist, "chroma.sqlite3"), "SELECT count(*) FROM embeddings")],
      damage: () => {
        fs.rmSync(path.join(persist, segments[0]!), { recursive: true });
        sql(path.join(persist, "chroma.sqlite3"), "DELETE FROM embeddings WHERE id > 50");
      },
      cleanup: () => fs.rmSync(dir, { recursive: true, force: true }),
    };
  },
});

describePluginContract("ollama (faithful on-disk layout)", {
  plugin: ollamaPlugin,
  setup() {
    const dir = tempDir("ollama");
    const models = path.join(dir, "models");
    addModel(models, "tiny", "latest", 200_000);
    const contents = () => Object.fromEntries(Object.entries(listTree(models)).map(([k, { mtimeS: _m, ...v }]) => [k, v]));
    return {
      config: ollamaPlugin.parseConfig({ models }, "ollama"),
      state: contents,
      damage: () => {
        fs.rmSync(path.join(models, "blobs"), { recursive: true });
        fs.rmSync(path.join(models, "manifests"), { recursive: true });
        fs.mkdirSync(path.join(models, "manifests"));
      },
      cleanup: () => fs.rmSync(dir, { recursive: true, force: true }),
    };
  },
});

describe("plugin contract coverage", () => {
  it("runs the contract suite for every registered plugin, against the registered implementation", () => {
    expect([...pluginsUnderContract.keys()].sort()).toEqual(pluginNames());
    for (const [name, plugin] of pluginsUnderContract) expect(getPlugin(name), name).toBe(plugin);
  });
});
