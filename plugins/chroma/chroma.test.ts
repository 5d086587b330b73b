// The chroma plugin on a faithful persist directory (real SQLite with Chroma's tables, real segment folders;
// the Chroma server itself cannot run on this machine).
import { execFileSync, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { dockerStandIn } from "../../test/harness/docker-standin";
import { createChromaDir } from "../../test/harness/chroma-dir";
import { startSqliteWriter } from "../../test/harness/sqlite-writer";
import { listTree } from "../../test/harness/tree";
import { collect, pluginContext, restoreInput, type TestContext } from "../../test/plugin-context";
import { chromaPlugin } from "./chroma";

describe("chroma plugin", () => {
  let dir: string;
  let persist: string;
  let segments: string[];
  let ctx: TestContext;

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "lifeboat-chroma-"));
    persist = path.join(dir, "vector_db");
    segments = createChromaDir(persist, ["docs", "chats"], 300).segments;
    ctx = pluginContext();
  });
  afterEach(() => {
    ctx.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const config = (extra: Record<string, unknown> = {}) => chromaPlugin.parseConfig({ path: persist, ...extra }, "hosts.h.plugins.chroma");

  async function backup(cfg = config()) {
    await chromaPlugin.check(ctx, cfg);
    for await (const a of chromaPlugin.backup(ctx, cfg)) return { bytes: await collect(a.data), metadata: a.metadata() };
    throw new Error("no artifact");
  }

  it("copies online and records the collections and every vector segment", async () => {
    const { metadata } = await backup();
    expect(metadata).toMatchObject({ mode: "online", collections: { chats: 300, docs: 300 } });
    expect((metadata.segments as string[]).sort()).toEqual([...segments].sort());
  });

  it("finishes its online copy of a 100 MB chroma.sqlite3 while Chroma commits 50 times a second", async () => {
    const db = path.join(persist, "chroma.sqlite3");
    execFileSync("sqlite3", [db, "CREATE TABLE embeddings_queue (seq_id INTEGER PRIMARY KEY, topic TEXT NOT NULL, vector BLOB); WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 25000) INSERT INTO embeddings_queue (topic, vector) SELECT 'docs', randomblob(4000) FROM n;"]);
    expect(fs.statSync(db).size).toBeGreaterThan(100_000_000);
    const writer = await startSqliteWriter(db, "INSERT INTO embeddings_queue (topic, vector) VALUES ('docs', randomblob(1536))", 50);
    let metadata;
    let during: number;
    try {
      const before = writer.commits();
      ({ metadata } = await backup(config({ copyTimeout: "90s" })));
      during = writer.commits() - before;
    } finally {
      await writer.stop();
    }
    expect(during).toBeGreaterThan(0);
    expect(metadata).toMatchObject({ mode: "online", collections: { chats: 300, docs: 300 } });
  });

  it("uses stop and start commands around the copy when configured", async () => {
    const log = path.join(dir, "hooks.log");
    const { metadata } = await backup(config({ stop: `echo stop >> ${log}`, start: `echo start >> ${log}` }));
    expect(metadata.mode).toBe("stopped");
    expect(fs.readFileSync(log, "utf8")).toBe("stop\nstart\n");
  });

  it("retries while segment files change underneath, then gives up with a clear message", async () => {
    const seg = path.join(persist, segments[0]!, "data_level0.bin");
    const toucher = spawn("bash", ["-c", `while :; do printf x >> ${seg}; sleep 0.005; done`], { stdio: "ignore", detached: true });
    try {
      await expect(backup(config({ retries: 2 }))).rejects.toMatchObject({ code: "SOURCE", message: expect.stringContaining("kept changing") });
    } finally {
      process.kill(-toucher.pid!, "SIGTERM");
    }
    expect(ctx.warnings.filter((w) => w.includes("retrying"))).toHaveLength(2);
  });

  it("restores the directory, checked: integrity and every segment present", async () => {
    const { bytes, metadata } = await backup();
    const into = path.join(dir, "restored");
    await chromaPlugin.restore(ctx, config(), [restoreInput(bytes, metadata)], { into });
    const restored = listTree(path.join(into, path.basename(persist)));
    const original = listTree(persist, (rel) => rel.startsWith("chroma.sqlite3"));
    for (const [rel, entry] of Object.entries(original)) expect(restored[rel], rel).toEqual(entry);
  });

  it("refuses a backup whose database names a segment folder that is missing", async () => {
    fs.rmSync(path.join(persist, segments[1]!), { recursive: true });
    await expect(backup()).rejects.toMatchObject({ code: "INTEGRITY", message: expect.stringContaining(segments[1]!) });
  });

  it("backs up and restores a container's persist directory through containerPaths, recording the container path", async () => {
    const standin = dockerStandIn();
    try {
      const cfg = config({ path: "/data", container: "chromadb", docker: standin.docker, containerPaths: { "/data": persist } });
      const { bytes, metadata } = await backup(cfg);
      expect(metadata).toMatchObject({ path: "/data", paths: ["/data"], container: "chromadb", mode: "online", collections: { chats: 300, docs: 300 } });
      const into = path.join(dir, "restored");
      const report = await chromaPlugin.restore(ctx, cfg, [restoreInput(bytes, metadata)], { into });
      // The container's path relative to its root: /data → <into>/data.
      expect(report.restored).toEqual([`${into}/data`]);
      const original = listTree(persist, (rel) => rel.startsWith("chroma.sqlite3"));
      const restored = listTree(`${into}/data`);
      for (const [rel, entry] of Object.entries(original)) expect(restored[rel], rel).toEqual(entry);
      const verified = await chromaPlugin.verify(ctx, cfg, [restoreInput(bytes, metadata)], path.join(dir, "scratch"));
      expect(verified.checks[0]).toMatch(/^\/data: chroma.sqlite3 integrity_check ok/);
      // sqlite3 and the file copies ran on the host: nothing went through docker.
      expect(standin.calls()).toEqual([]);
    } finally {
      standin.cleanup();
    }
  });
});
