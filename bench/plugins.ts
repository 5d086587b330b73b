// `npm run bench:plugins`: service plugins on realistic sizes, measured in one run.
//   ollama:   first backup of a multi-GB models directory, then the unchanged second run
//             (bytes uploaded, time as a share of the first run).
//   postgres: a ~1 GB pgbench database, the agent's postgres plugin vs `pg_dump -Fc | age`.
//   sqlite:   a ~300 MB WAL database while another process commits 20 times a second: the agent's
//             sqlite plugin (one read transaction) vs `sqlite3 .backup` (the online backup API), idle and busy.
// Sizes: BENCH_OLLAMA_MIB (default 3072), BENCH_PG_SCALE (pgbench scale, default 68 ≈ 1 GB),
// BENCH_SQLITE_MIB (default 300); BENCH_PG_ROUNDS (default 3) alternating rounds of the postgres
// comparison. BENCH_PLUGINS=sqlite,postgres (default: all) picks the cases.
import { execFileSync, execSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { startPostgres } from "../test/harness/postgres";
import { addModel } from "../test/harness/ollama-models";
import { startSqliteWriter } from "../test/harness/sqlite-writer";
import { BenchAgent, dirSize, timed, work } from "./bench-agent";

const ollamaMiB = Number(process.env.BENCH_OLLAMA_MIB ?? 3072);
const pgScale = Number(process.env.BENCH_PG_SCALE ?? 68);
const pgRounds = Number(process.env.BENCH_PG_ROUNDS ?? 3);
const sqliteMiB = Number(process.env.BENCH_SQLITE_MIB ?? 300);
/** How long the online backup API may try under load before it counts as not finishing. */
const sqliteLimit = 120;
const mb = (bytes: number) => (bytes / 1e6).toFixed(1);
/** The run with the median time. */
const median = <T extends { seconds: number }>(runs: T[]): T => [...runs].sort((a, b) => a.seconds - b.seconds)[Math.floor(runs.length / 2)]!;

async function ollama(agent: BenchAgent): Promise<string[]> {
  const models = path.join(work, `ollama-${ollamaMiB}M`);
  if (!fs.existsSync(path.join(models, "manifests"))) {
    console.log(`making ${models}`);
    addModel(models, "llama3", "8b", Math.floor((ollamaMiB * 1024 * 1024) / 2));
    addModel(models, "qwen2", "7b", Math.floor((ollamaMiB * 1024 * 1024) / 2));
  }
  const store = path.join(work, "ollama-store");
  fs.rmSync(store, { recursive: true, force: true });
  fs.mkdirSync(store);
  const plugins = [{ instance: "ollama", plugin: "ollama", config: { models } }];
  const input = dirSize(path.join(models, "blobs"));
  const first = await agent.backup(plugins, store);
  const afterFirst = dirSize(store);
  const second = await agent.backup(plugins, store);
  const uploadedSecond = dirSize(store) - afterFirst;
  return [
    `| ollama first backup | ${mb(input)} MB of blobs | ${first.seconds.toFixed(2)} s | ${mb(input / first.seconds)} MB/s | ${(first.peakKiB / 1024).toFixed(0)} MiB | ${mb(afterFirst)} MB stored |`,
    `| ollama second backup, unchanged | same | ${second.seconds.toFixed(2)} s (${((second.seconds / first.seconds) * 100).toFixed(1)}% of first) | - | ${(second.peakKiB / 1024).toFixed(0)} MiB | ${(uploadedSecond / 1024).toFixed(1)} KiB uploaded |`,
  ];
}

async function postgres(agent: BenchAgent): Promise<string[]> {
  const pg = await startPostgres();
  try {
    const env = { ...process.env, PGPASSWORD: pg.password, PGHOST: "127.0.0.1", PGPORT: String(pg.port), PGUSER: "postgres" };
    pg.sql("postgres", "CREATE DATABASE bench");
    console.log(`pgbench -i -s ${pgScale}`);
    execFileSync("pgbench", ["-i", "-q", "-s", String(pgScale), "bench"], { env, stdio: "ignore" });
    const size = Number(pg.sql("postgres", "SELECT pg_database_size('bench')"));
    const store = path.join(work, "pg-store");
    const out = path.join(work, "pg.dump.age");
    const plugin: { seconds: number; peakKiB: number }[] = [];
    const baseline: { seconds: number }[] = [];
    let stored = 0;
    let baselineSize = 0;
    // Alternating rounds, so that neither side always meets a warmer cache; each side's median is reported.
    for (let round = 0; round < pgRounds; round++) {
      const pluginFirst = round % 2 === 0;
      for (const side of pluginFirst ? ["plugin", "baseline"] : ["baseline", "plugin"]) {
        execSync("sync");
        if (side === "plugin") {
          fs.rmSync(store, { recursive: true, force: true });
          fs.mkdirSync(store);
          plugin.push(await agent.backup([{ instance: "pg", plugin: "postgres", config: { port: pg.port, password: pg.password, databases: ["bench"], globals: false } }], store));
          stored = dirSize(store);
        } else {
          baseline.push(await timed("bash", ["-o", "pipefail", "-c", `pg_dump -Fc bench | age -r ${agent.recipient} > ${out}`], { env }));
          baselineSize = fs.statSync(out).size;
          fs.rmSync(out);
        }
      }
    }
    const p = median(plugin);
    const b = median(baseline);
    return [
      `| postgres plugin (pg_dump -Fc -Z0, rows counted from the stream → zstd → age), median of ${pgRounds} | ${mb(size)} MB database | ${p.seconds.toFixed(2)} s | ${mb(size / p.seconds)} MB/s | ${(p.peakKiB / 1024).toFixed(0)} MiB | ${mb(stored)} MB stored |`,
      `| pg_dump -Fc \\| age, median of ${pgRounds} | same | ${b.seconds.toFixed(2)} s | ${mb(size / b.seconds)} MB/s | - | ${mb(baselineSize)} MB stored |`,
    ];
  } finally {
    await pg.stop();
  }
}

/** Seconds `sqlite3 .backup` takes, or null when it has not finished within `limitSeconds`. */
async function onlineBackupApi(db: string, copy: string, limitSeconds: number): Promise<number | null> {
  fs.rmSync(copy, { force: true });
  try {
    return (await timed("timeout", [String(limitSeconds), "sqlite3", "-readonly", db, `.backup '${copy}'`])).seconds;
  } catch {
    return null;
  } finally {
    fs.rmSync(copy, { force: true });
  }
}

async function sqlite(agent: BenchAgent): Promise<string[]> {
  const db = path.join(work, `sqlite-${sqliteMiB}M.db`);
  if (!fs.existsSync(db)) {
    console.log(`making ${db}`);
    execFileSync("sqlite3", [db, `PRAGMA journal_mode=WAL; CREATE TABLE chat(id INTEGER PRIMARY KEY, body BLOB); WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < ${Math.floor((sqliteMiB * 1024 * 1024) / 4096)}) INSERT INTO chat(body) SELECT randomblob(4000) FROM n;`]);
  }
  const size = fs.statSync(db).size;
  const store = path.join(work, "sqlite-store");
  const copy = path.join(work, "sqlite-copy.db");
  const plugins = [{ instance: "db", plugin: "sqlite", config: { databases: [db], copyTimeout: `${sqliteLimit}s` } }];
  const backup = async () => {
    fs.rmSync(store, { recursive: true, force: true });
    fs.mkdirSync(store);
    return agent.backup(plugins, store);
  };
  const idle = await backup();
  const idleApi = await onlineBackupApi(db, copy, sqliteLimit);
  const writer = await startSqliteWriter(db, "INSERT INTO chat(body) VALUES (randomblob(1000))", 20);
  let busy;
  let busyApi;
  let commits;
  try {
    const before = writer.commits();
    busy = await backup();
    commits = writer.commits() - before;
    busyApi = await onlineBackupApi(db, copy, sqliteLimit);
  } finally {
    await writer.stop();
  }
  const api = (s: number | null) => (s === null ? `did not finish in ${sqliteLimit} s` : `${s.toFixed(2)} s`);
  return [
    `| sqlite plugin (VACUUM INTO → zstd → age), idle | ${mb(size)} MB database | ${idle.seconds.toFixed(2)} s | ${mb(size / idle.seconds)} MB/s | ${(idle.peakKiB / 1024).toFixed(0)} MiB | ${mb(dirSize(store))} MB stored |`,
    `| sqlite plugin, writer at 20 commits/s (${commits} commits during the backup) | same | ${busy.seconds.toFixed(2)} s | ${mb(size / busy.seconds)} MB/s | ${(busy.peakKiB / 1024).toFixed(0)} MiB | - |`,
    `| sqlite3 .backup (online backup API), idle | same | ${api(idleApi)} | - | - | - |`,
    `| sqlite3 .backup, writer at 20 commits/s | same | ${api(busyApi)} | - | - | - |`,
  ];
}

async function main(): Promise<void> {
  const agent = await BenchAgent.create();
  const cases: Record<string, (agent: BenchAgent) => Promise<string[]>> = { ollama, postgres, sqlite };
  const chosen = (process.env.BENCH_PLUGINS ?? Object.keys(cases).join(",")).split(",");
  const rows: string[] = [];
  for (const name of chosen) {
    const run = cases[name.trim()];
    if (!run) throw new Error(`BENCH_PLUGINS: unknown case "${name}"; cases are ${Object.keys(cases).join(", ")}`);
    rows.push(...(await run(agent)));
  }
  console.log("\n| run | data | time | rate | agent peak RSS | stored |\n| --- | --- | --- | --- | --- | --- |");
  for (const row of rows) console.log(row);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
