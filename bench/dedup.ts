// `npm run bench:dedup`: deduplication and restore, whole commands against whole commands, side by
// side in one run: `controller run --host H` (the built dist/controller.mjs, through SSH to a
// loopback sshd host, whose agent stores to the loopback S3 server: s3rver behind the test
// harness's enforcing front, both in this process) against `restic backup` to a local restic
// repository on the same disk (restic's S3 backend cannot use the loopback server: over plain HTTP
// it signs uploads as aws-chunked streams, which the front refuses and s3rver stores unparsed).
//
// Cases (BENCH_DEDUP_CASES, default all: files,restore,rewrite,postgres):
//   files    a tree of one 768 MiB file and 2,000 files of 100 KB of pseudo-random bytes, backed
//            up twice, unchanged; then a third time reading every file (`--rehash`, `restic --force`);
//   restore  `controller restore --from H --snapshot latest --into DIR --yes` of that tree, from the
//            chunked snapshot and from a snapshot of a host with `chunking: false` (one object per
//            artifact); `restic restore latest` beside them (needs `files`);
//   rewrite  one 1 GiB file, backed up, 1 MiB in its middle rewritten, backed up again;
//   postgres a ~1 GB database (a table of chat/order events with text payloads) backed up by the
//            postgres plugin, then after 1% more rows, then after an UPDATE of a random 1% of the rows
//            (scattered over every page) and VACUUM; restic on `pg_dump -Fc -Z0` files of the same states.
// Bytes added to storage are measured from the store itself before and after each run: the sum of
// the object sizes under the host's prefix (ListObjectsV2), the size of the restic repository's files.
// Sizes: BENCH_DEDUP_MIB (default 1024: the tree is 3/4 of it in one file plus 2,000 × (it/1024)
// small files; the rewritten file is all of it), BENCH_PG_MB (default 1000, the database's size on
// disk). BENCH_DEDUP_KEEP=1 keeps bench/.data/dedup.
import { execSync, spawn } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { ListObjectsV2Command } from "@aws-sdk/client-s3";
import { startFleet, type Fleet } from "../test/harness/fleet";
import { startPostgres, type PostgresServer } from "../test/harness/postgres";
import { dirSize, root, timed, work } from "./bench-agent";

const MiB = 1024 * 1024;
const DEDUP_MIB = Number(process.env.BENCH_DEDUP_MIB ?? 1024);
const PG_MB = Number(process.env.BENCH_PG_MB ?? 1000);
const CASES = (process.env.BENCH_DEDUP_CASES ?? "files,restore,rewrite,postgres").split(",");
const data = path.join(work, "dedup");
/** The built controller and agent, copied here at start: a rebuild of dist/ during the run does not change the code under test. */
const bundle = path.join(data, "dist", "controller.mjs");
const SMALL_SIZE = 100_000;
const SMALL_COUNT = Math.max(1, Math.round((2000 * DEDUP_MIB) / 1024));
const BIG_BYTES = Math.round(DEDUP_MIB * 0.75) * MiB;

const mb = (bytes: number) => (bytes / 1e6).toFixed(1);
const load = () => os.loadavg()[0]!.toFixed(2);
const pct = (part: number, whole: number) => `${((100 * part) / whole).toFixed(2)}%`;

// ---------------------------------------------------------------- data

/** Pseudo-random, incompressible bytes (AES-128-CTR of zeros), fast. */
class RandomBytes {
  private readonly cipher = crypto.createCipheriv("aes-128-ctr", crypto.randomBytes(16), crypto.randomBytes(16));
  private readonly zeros = Buffer.alloc(4 * MiB);
  next(n: number): Buffer {
    return this.cipher.update(n <= this.zeros.length ? this.zeros.subarray(0, n) : Buffer.alloc(n));
  }
}

function writeRandomFile(file: string, bytes: number, rng: RandomBytes): void {
  const fd = fs.openSync(file, "w", 0o644);
  try {
    for (let done = 0; done < bytes; ) {
      const n = Math.min(4 * MiB, bytes - done);
      fs.writeSync(fd, rng.next(n));
      done += n;
    }
  } finally {
    fs.closeSync(fd);
  }
}

/** The tree of case 1: media/big.bin and docs/dNN/file-NNNN.bin; returns its bytes. */
function writeTree(dir: string): number {
  const rng = new RandomBytes();
  fs.mkdirSync(path.join(dir, "media"), { recursive: true, mode: 0o755 });
  writeRandomFile(path.join(dir, "media", "big.bin"), BIG_BYTES, rng);
  for (let i = 0; i < SMALL_COUNT; i++) {
    const sub = path.join(dir, "docs", `d${String(Math.floor(i / 100)).padStart(2, "0")}`);
    if (i % 100 === 0) fs.mkdirSync(sub, { recursive: true, mode: 0o755 });
    fs.writeFileSync(path.join(sub, `file-${String(i).padStart(4, "0")}.bin`), rng.next(SMALL_SIZE), { mode: 0o644 });
  }
  return BIG_BYTES + SMALL_COUNT * SMALL_SIZE;
}

/** Files and bytes under `dir`, and whether its big file equals `big`. */
function compareTree(restored: string, original: string): string {
  let files = 0;
  for (const entry of fs.readdirSync(restored, { recursive: true, withFileTypes: true })) if (entry.isFile()) files++;
  const a = path.join(restored, "media", "big.bin");
  const b = path.join(original, "media", "big.bin");
  const same = fs.existsSync(a) && filesEqual(a, b);
  return `${files} files, ${mb(dirSize(restored))} MB, big file ${same ? "identical" : "DIFFERENT"}`;
}

function filesEqual(a: string, b: string): boolean {
  if (fs.statSync(a).size !== fs.statSync(b).size) return false;
  const fa = fs.openSync(a, "r");
  const fb = fs.openSync(b, "r");
  const ba = Buffer.alloc(4 * MiB);
  const bb = Buffer.alloc(4 * MiB);
  try {
    for (;;) {
      const n = fs.readSync(fa, ba);
      const m = fs.readSync(fb, bb);
      if (n !== m || !ba.subarray(0, n).equals(bb.subarray(0, m))) return false;
      if (n === 0) return true;
    }
  } finally {
    fs.closeSync(fa);
    fs.closeSync(fb);
  }
}

// ---------------------------------------------------------------- the fleet and the controller

interface HostPlan {
  plugins: Record<string, unknown>;
  chunking?: boolean;
}

function writeInventory(fleet: Fleet, plans: Record<string, HostPlan>): void {
  const hosts: Record<string, unknown> = {};
  for (const [name, plan] of Object.entries(plans)) {
    const sim = fleet.hosts[name]!;
    hosts[name] = {
      ssh: { host: sim.hostname, port: sim.port, user: sim.user, identityFile: sim.clientKeyPath },
      destination: "s3",
      plugins: plan.plugins,
      ...(plan.chunking === false ? { chunking: false } : {}),
    };
  }
  const doc = {
    defaults: { ssh: { knownHostsFile: fleet.knownHosts, connectTimeout: "10s", useAgent: false } },
    destinations: {
      s3: { type: "s3", endpoint: fleet.s3.endpoint, region: fleet.s3.region, bucket: fleet.s3.bucket, prefix: "fleet", accessKeyId: "${TEST_S3_KEY}", secretAccessKey: "${TEST_S3_SECRET}" },
    },
    hosts,
  };
  fs.writeFileSync(fleet.inventory, `# written by bench/dedup.ts\n${JSON.stringify(doc, null, 2)}\n`);
}

function vmHwmKiB(pid: number): number {
  try {
    const m = /VmHWM:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** Pids of processes of `uid` whose command line names agent.mjs. */
function agentPids(uid: number): number[] {
  const pids: number[] = [];
  for (const name of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (fs.statSync(`/proc/${name}`).uid !== uid) continue;
      if (fs.readFileSync(`/proc/${name}/cmdline`, "utf8").includes("agent.mjs")) pids.push(Number(name));
    } catch {
      // gone
    }
  }
  return pids;
}

interface CliRun {
  seconds: number;
  code: number;
  stdout: string;
  stderr: string;
  agentPeakKiB: number;
  controllerPeakKiB: number;
}

/** Runs the built controller CLI, timed, polling the peak RSS of the controller and of the agent (processes of `agentUid`). */
function controllerTimed(fleet: Fleet, args: string[], agentUid: number, env: Record<string, string> = {}): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn(process.execPath, [bundle, ...args], { env: { ...process.env, ...fleet.env, ...env, NO_COLOR: "1" }, stdio: ["ignore", "pipe", "pipe"] });
    let agentPeakKiB = 0;
    let controllerPeakKiB = 0;
    let agents: number[] = [];
    let sinceScan = 0;
    const poll = setInterval(() => {
      controllerPeakKiB = Math.max(controllerPeakKiB, vmHwmKiB(child.pid!));
      const alive = agents.filter((pid) => fs.existsSync(`/proc/${pid}`));
      if (alive.length === 0 || ++sinceScan >= 10) {
        agents = agentPids(agentUid);
        sinceScan = 0;
      } else agents = alive;
      for (const pid of agents) agentPeakKiB = Math.max(agentPeakKiB, vmHwmKiB(pid));
    }, 50);
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (s: string) => (stdout += s));
    child.stderr.setEncoding("utf8").on("data", (s: string) => (stderr += s));
    child.on("error", reject);
    child.on("close", (code) => {
      clearInterval(poll);
      resolve({ seconds: Number(process.hrtime.bigint() - started) / 1e9, code: code ?? 1, stdout, stderr, agentPeakKiB, controllerPeakKiB });
    });
  });
}

/**
 * Sum of the sizes of the bucket's objects under `prefix` (`fleet/<host>/`), and their number. Listed in parts that
 * each hold fewer than 1,000 keys: `chunks/<2 hex>/` one by one, and the snapshots' objects (`<snapshot>/...`, ids
 * starting with a digit). s3rver 3.7 cannot page a listing: it makes continuation tokens with DES, which Node's
 * OpenSSL 3 refuses, so it answers InternalError to any listing of more than 1,000 keys (a host's chunks pass
 * 1,000 at about 1 GB); and with a Delimiter it misses prefixes that hold only directories (`chunks/`).
 */
async function bucketBytes(fleet: Fleet, prefix: string): Promise<{ bytes: number; objects: number }> {
  const client = fleet.s3.client();
  const parts = [...Array.from({ length: 256 }, (_, i) => `${prefix}chunks/${i.toString(16).padStart(2, "0")}/`), ...Array.from({ length: 10 }, (_, d) => `${prefix}${d}`)];
  let bytes = 0;
  let objects = 0;
  try {
    for (const part of parts) {
      const page = await client.send(new ListObjectsV2Command({ Bucket: fleet.s3.bucket, Prefix: part }));
      if (page.IsTruncated) throw new Error(`more than 1,000 keys under ${part}: s3rver cannot page (its continuation tokens need DES)`);
      for (const o of page.Contents ?? []) {
        bytes += o.Size ?? 0;
        objects++;
      }
    }
  } finally {
    client.destroy();
  }
  return { bytes, objects };
}

// ---------------------------------------------------------------- rows

interface Row {
  case: string;
  tool: string;
  run: string;
  seconds: number;
  added?: number;
  percentOf?: string;
  peakKiB?: number;
  note?: string;
  load: string;
}

const rows: Row[] = [];
function record(row: Row): void {
  rows.push(row);
  const added = row.added === undefined ? "" : `, ${mb(row.added)} MB added${row.percentOf ? ` (${row.percentOf})` : ""}`;
  const rss = row.peakKiB ? `, peak RSS ${(row.peakKiB / 1024).toFixed(0)} MiB` : "";
  console.log(`  ${row.case} | ${row.tool} | ${row.run}: ${row.seconds.toFixed(2)} s${added}${rss}${row.note ? `, ${row.note}` : ""} (load ${row.load})`);
}

function table(): string {
  const lines = ["| case | command | run | seconds | added to storage | % (restore: MB/s) | peak RSS MiB | load (1 min) | note |", "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | --- |"];
  for (const r of rows) {
    lines.push(`| ${r.case} | ${r.tool} | ${r.run} | ${r.seconds.toFixed(2)} | ${r.added === undefined ? "-" : `${mb(r.added)} MB`} | ${r.percentOf ?? "-"} | ${r.peakKiB ? (r.peakKiB / 1024).toFixed(0) : "-"} | ${r.load} | ${r.note ?? ""} |`);
  }
  return lines.join("\n");
}

// ---------------------------------------------------------------- the two tools

class Lifeboat {
  constructor(
    private readonly fleet: Fleet,
    private readonly env: Record<string, string> = {},
  ) {}

  uid(host: string): number {
    return fs.statSync(this.fleet.hosts[host]!.home).uid;
  }

  /** `controller run --host H`, timed, with the bytes it added under the host's prefix. */
  async backup(host: string, extra: string[] = []): Promise<{ seconds: number; added: number; objects: number; peakKiB: number; jobSeconds: number }> {
    const before = await bucketBytes(this.fleet, `fleet/${host}/`);
    execSync("sync"); // dirty pages of the data just written are not the next command's to write
    const run = await controllerTimed(this.fleet, ["run", "--host", host, "--json", ...extra], this.uid(host), this.env);
    const summary = run.stdout
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((l) => l.type === "host-summary");
    if (run.code !== 0 || summary?.status !== "ok") throw new Error(`controller run --host ${host} ${extra.join(" ")} exited with ${run.code}: ${run.stdout.slice(-3000)}\n${run.stderr.slice(-3000)}`);
    const after = await bucketBytes(this.fleet, `fleet/${host}/`);
    return { seconds: run.seconds, added: after.bytes - before.bytes, objects: after.objects - before.objects, peakKiB: run.agentPeakKiB, jobSeconds: Number(summary.durationMs) / 1000 };
  }

  async restore(host: string, into: string): Promise<{ seconds: number; peakKiB: number; jobSeconds: number }> {
    const run = await controllerTimed(this.fleet, ["restore", "--from", host, "--snapshot", "latest", "--into", into, "--yes", "--json"], this.uid(host), this.env);
    if (run.code !== 0) throw new Error(`controller restore --from ${host} exited with ${run.code}: ${run.stdout.slice(-3000)}\n${run.stderr.slice(-3000)}`);
    const summary = run.stdout
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((l) => l.kind === "restore" && typeof l.durationMs === "number");
    return { seconds: run.seconds, peakKiB: run.agentPeakKiB, jobSeconds: Number(summary?.durationMs) / 1000 };
  }

  /** The newest snapshot's artifacts as `controller snapshots --json` reports them. */
  async latestArtifacts(host: string): Promise<Record<string, unknown>[]> {
    const run = await controllerTimed(this.fleet, ["snapshots", "--host", host, "--json"], -1);
    if (run.code !== 0) throw new Error(`controller snapshots --host ${host}: ${run.stderr}`);
    const snapshots = (JSON.parse(run.stdout) as { snapshots: { artifacts: Record<string, unknown>[] }[] }).snapshots;
    return snapshots[0]?.artifacts ?? [];
  }
}

class Restic {
  readonly env: NodeJS.ProcessEnv;
  constructor(readonly repo: string) {
    this.env = { ...process.env, RESTIC_PASSWORD: "bench", RESTIC_REPOSITORY: repo, RESTIC_CACHE_DIR: path.join(data, "restic-cache") };
  }

  async init(): Promise<void> {
    fs.rmSync(this.repo, { recursive: true, force: true });
    await timed("restic", ["init", "-q"], { env: this.env });
    const config = await timed("restic", ["cat", "config"], { env: this.env });
    const version = (JSON.parse(config.stdout) as { version: number }).version;
    console.log(`  restic repository ${path.relative(root, this.repo)}: format version ${version}${version >= 2 ? ", compression auto" : ", no compression"}`);
  }

  async backup(target: string, extra: string[] = []): Promise<{ seconds: number; added: number; peakKiB: number }> {
    const before = dirSize(this.repo);
    execSync("sync"); // dirty pages of the data just written are not the next command's to write
    const run = await timed("restic", ["backup", "-q", ...extra, target], { env: this.env });
    return { seconds: run.seconds, added: dirSize(this.repo) - before, peakKiB: run.peakKiB };
  }

  async restore(target: string): Promise<{ seconds: number; peakKiB: number }> {
    const run = await timed("restic", ["restore", "-q", "latest", "--target", target], { env: this.env });
    return { seconds: run.seconds, peakKiB: run.peakKiB };
  }
}

// ---------------------------------------------------------------- cases

async function filesCase(lifeboat: Lifeboat, tree: string, treeBytes: number): Promise<Restic> {
  const restic = new Restic(path.join(data, "restic-files"));
  await restic.init();
  const label = `unchanged tree, ${mb(treeBytes)} MB`;
  for (const run of ["first run", "second run (unchanged)"]) {
    const l = await lifeboat.backup("tree");
    record({ case: label, tool: "controller run --host tree", run, seconds: l.seconds, added: l.added, percentOf: pct(l.added, treeBytes), peakKiB: l.peakKiB, note: `host job ${l.jobSeconds.toFixed(2)} s; ${l.objects} objects`, load: load() });
    const r = await restic.backup(tree);
    record({ case: label, tool: "restic backup", run, seconds: r.seconds, added: r.added, percentOf: pct(r.added, treeBytes), peakKiB: r.peakKiB, load: load() });
  }
  const l = await lifeboat.backup("tree", ["--rehash"]);
  record({ case: label, tool: "controller run --host tree --rehash", run: "third run (unchanged, every file read)", seconds: l.seconds, added: l.added, percentOf: pct(l.added, treeBytes), peakKiB: l.peakKiB, note: `host job ${l.jobSeconds.toFixed(2)} s`, load: load() });
  const r = await restic.backup(tree, ["--force"]);
  record({ case: label, tool: "restic backup --force", run: "third run (unchanged, every file read)", seconds: r.seconds, added: r.added, percentOf: pct(r.added, treeBytes), peakKiB: r.peakKiB, load: load() });
  return restic;
}

async function restoreCase(fleet: Fleet, lifeboat: Lifeboat, restic: Restic, tree: string, treeBytes: number): Promise<void> {
  const label = `restore of the tree, ${mb(treeBytes)} MB`;
  const restoreInto = async (host: string, tool: string, run: string) => {
    const into = path.join(fleet.hosts[host]!.home, "restored");
    fs.rmSync(into, { recursive: true, force: true });
    execSync("sync"); // dirty pages of the data just written are not the next command's to write
    const r = await lifeboat.restore(host, into);
    const check = compareTree(path.join(into, tree.slice(1)), tree);
    record({ case: label, tool, run, seconds: r.seconds, percentOf: `${mb(treeBytes / r.seconds)} MB/s`, peakKiB: r.peakKiB, note: `host job ${r.jobSeconds.toFixed(2)} s; ${check}`, load: load() });
    fs.rmSync(into, { recursive: true, force: true });
  };
  await restoreInto("tree", "controller restore --from tree --snapshot latest --into DIR --yes", "chunked snapshot (case 1)");
  const whole = await lifeboat.backup("whole");
  record({ case: label, tool: "controller run --host whole (chunking: false)", run: "first run (the snapshot restored next)", seconds: whole.seconds, added: whole.added, percentOf: pct(whole.added, treeBytes), peakKiB: whole.peakKiB, note: `host job ${whole.jobSeconds.toFixed(2)} s; ${whole.objects} objects`, load: load() });
  await restoreInto("whole", "controller restore --from whole --snapshot latest --into DIR --yes", "snapshot of single objects (chunking: false)");
  const into = path.join(data, "restic-restored");
  fs.rmSync(into, { recursive: true, force: true });
  const r = await restic.restore(into);
  record({ case: label, tool: "restic restore latest --target DIR", run: "case 1's repository", seconds: r.seconds, percentOf: `${mb(treeBytes / r.seconds)} MB/s`, peakKiB: r.peakKiB, note: compareTree(path.join(into, tree.slice(1)), tree), load: load() });
  fs.rmSync(into, { recursive: true, force: true });
}

async function rewriteCase(lifeboat: Lifeboat): Promise<void> {
  const dir = path.join(data, "big");
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
  const file = path.join(dir, "disk.img");
  const size = DEDUP_MIB * MiB;
  const rng = new RandomBytes();
  writeRandomFile(file, size, rng);
  const restic = new Restic(path.join(data, "restic-big"));
  await restic.init();
  const label = `${mb(size)} MB file, 1 MiB rewritten in the middle`;
  const l1 = await lifeboat.backup("big");
  record({ case: label, tool: "controller run --host big", run: "first run", seconds: l1.seconds, added: l1.added, percentOf: pct(l1.added, size), peakKiB: l1.peakKiB, note: `host job ${l1.jobSeconds.toFixed(2)} s`, load: load() });
  const r1 = await restic.backup(dir);
  record({ case: label, tool: "restic backup", run: "first run", seconds: r1.seconds, added: r1.added, percentOf: pct(r1.added, size), peakKiB: r1.peakKiB, load: load() });
  const fd = fs.openSync(file, "r+");
  fs.writeSync(fd, rng.next(MiB), 0, MiB, Math.floor(size / 2 / MiB) * MiB + 12345);
  fs.closeSync(fd);
  const l2 = await lifeboat.backup("big");
  const chunks = (await lifeboat.latestArtifacts("big"))[0]?.chunks as Record<string, number> | undefined;
  record({ case: label, tool: "controller run --host big", run: "after the rewrite", seconds: l2.seconds, added: l2.added, percentOf: pct(l2.added, size), peakKiB: l2.peakKiB, note: `host job ${l2.jobSeconds.toFixed(2)} s${chunks ? `; ${chunks.uploaded} of ${chunks.count} chunks uploaded` : ""}`, load: load() });
  const r2 = await restic.backup(dir);
  record({ case: label, tool: "restic backup", run: "after the rewrite", seconds: r2.seconds, added: r2.added, percentOf: pct(r2.added, size), peakKiB: r2.peakKiB, load: load() });
  fs.rmSync(dir, { recursive: true, force: true });
  fs.rmSync(restic.repo, { recursive: true, force: true });
}

/** Fills table `events` of database `bench` until the database is `PG_MB` MB on disk; returns the row count. */
function fillDatabase(pg: PostgresServer): number {
  pg.sql("postgres", "CREATE DATABASE bench");
  pg.sql("bench", "CREATE TABLE events (id bigserial PRIMARY KEY, account_id int NOT NULL, kind text NOT NULL, created_at timestamptz NOT NULL, payload text NOT NULL)");
  const target = PG_MB * 1e6;
  let rows = 0;
  let batch = 100_000;
  for (;;) {
    pg.sql("bench", insertRows(rows, batch));
    rows += batch;
    const size = Number(pg.sql("bench", "SELECT pg_database_size('bench')"));
    if (size >= target * 0.98) return rows;
    batch = Math.max(10_000, Math.min(1_000_000, Math.ceil(((target - size) / size) * rows)));
  }
}

/** An INSERT of `count` event rows numbered after `from`: chat messages, orders and logins with text payloads. */
function insertRows(from: number, count: number): string {
  return `INSERT INTO events (account_id, kind, created_at, payload)
SELECT (hashint % 100000), (ARRAY['chat','order','login','invoice'])[1 + (i % 4)], timestamptz '2026-01-01' + i * interval '7 seconds',
  concat_ws(' ', (ARRAY['message','order','session','invoice'])[1 + (i % 4)], i, md5(random()::text), (ARRAY['shipped','pending','refunded','delivered','read','sent'])[1 + (hashint % 6)],
    repeat('lorem ipsum dolor sit amet ', 1 + (hashint % 5)), md5(random()::text), md5(random()::text))
FROM (SELECT i, abs(hashint4(i)) AS hashint FROM generate_series(${from + 1}, ${from + count}) i) s`;
}

async function postgresCase(fleet: Fleet, pg: PostgresServer, lifeboat: Lifeboat): Promise<void> {
  console.log(`postgres: filling ${PG_MB} MB`);
  const began = Date.now();
  let rows = fillDatabase(pg);
  pg.sql("bench", "VACUUM ANALYZE events");
  const dbSize = Number(pg.sql("bench", "SELECT pg_database_size('bench')"));
  console.log(`  ${rows} rows, database ${mb(dbSize)} MB on disk (${((Date.now() - began) / 1000).toFixed(0)} s)`);
  const dumpDir = path.join(data, "pg-dump");
  fs.rmSync(dumpDir, { recursive: true, force: true });
  fs.mkdirSync(dumpDir, { recursive: true });
  const dumpFile = path.join(dumpDir, "bench.dump");
  const pgEnv = { ...process.env, PGPASSWORD: pg.password, PGHOST: "127.0.0.1", PGPORT: String(pg.port), PGUSER: "postgres" };
  const restic = new Restic(path.join(data, "restic-pg"));
  await restic.init();
  let lifeboatFull = 0;
  let resticFull = 0;
  let dumpFull = 0;
  const label = (state: string) => `postgres, ${mb(dbSize)} MB database: ${state}`;
  for (const [state, run] of [
    [`${rows} rows`, "first run"],
    ["1% new rows appended", "next run"],
    ["UPDATE of a random 1% of rows, VACUUM", "next run"],
  ] as const) {
    if (state.startsWith("1%")) {
      const more = Math.round(rows / 100);
      pg.sql("bench", insertRows(rows, more));
      rows += more;
    } else if (state.startsWith("UPDATE")) {
      const updated = pg.sql("bench", "WITH u AS (UPDATE events SET payload = payload || ' (edited)' WHERE random() < 0.01 RETURNING 1) SELECT count(*) FROM u");
      pg.sql("bench", "VACUUM events");
      console.log(`  ${updated} rows updated`);
    }
    const l = await lifeboat.backup("pg");
    const artifact = (await lifeboat.latestArtifacts("pg")).find((a) => String(a.name).endsWith(".dump"));
    const chunks = artifact?.chunks as Record<string, number> | undefined;
    if (run === "first run") lifeboatFull = l.added;
    record({
      case: label(state),
      tool: "controller run --host pg (postgres plugin)",
      run,
      seconds: l.seconds,
      added: l.added,
      percentOf: run === "first run" ? "full" : pct(l.added, lifeboatFull),
      peakKiB: l.peakKiB,
      note: `host job ${l.jobSeconds.toFixed(2)} s; dump ${mb(Number(artifact?.plainSize ?? 0))} MB, ${artifact?.compression}${chunks ? `, ${chunks.uploaded} of ${chunks.count} chunks uploaded` : ""}`,
      load: load(),
    });
    execSync("sync"); // dirty pages of the data just written are not the next command's to write
    const dump = await timed("pg_dump", ["--format=custom", "--compress=0", "-f", dumpFile, "bench"], { env: pgEnv });
    const r = await restic.backup(dumpFile);
    const dumpSize = fs.statSync(dumpFile).size;
    if (run === "first run") {
      resticFull = r.added;
      dumpFull = dumpSize;
    }
    record({
      case: label(state),
      tool: "pg_dump -Fc -Z0 -f FILE; restic backup FILE",
      run,
      seconds: dump.seconds + r.seconds,
      added: r.added,
      percentOf: run === "first run" ? "full" : pct(r.added, resticFull),
      peakKiB: r.peakKiB,
      note: `pg_dump ${dump.seconds.toFixed(2)} s + restic ${r.seconds.toFixed(2)} s, dump ${mb(dumpSize)} MB`,
      load: load(),
    });
  }
  console.log(`  full dump ${mb(dumpFull)} MB; Lifeboat stored ${mb(lifeboatFull)} MB for it, restic ${mb(resticFull)} MB`);
  fs.rmSync(dumpDir, { recursive: true, force: true });
  fs.rmSync(restic.repo, { recursive: true, force: true });
}

// ---------------------------------------------------------------- main

function machine(): string {
  const cpu = os.cpus()[0]?.model ?? "?";
  let distro = "";
  try {
    distro = /PRETTY_NAME="([^"]+)"/.exec(fs.readFileSync("/etc/os-release", "utf8"))?.[1] ?? "";
  } catch {
    // unknown
  }
  return `${os.cpus().length} cores (${cpu}), ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB RAM, Node ${process.versions.node}, ${distro}`;
}

async function main(): Promise<void> {
  const built = path.join(root, "dist");
  for (const file of ["controller.mjs", "agent.mjs"]) if (!fs.existsSync(path.join(built, file))) throw new Error(`dist/${file} is missing: run npm run build`);
  if (CASES.includes("restore") && !CASES.includes("files")) throw new Error("BENCH_DEDUP_CASES: restore needs files (it restores case 1's snapshot)");
  const resticVersion = (await timed("restic", ["version"])).stdout.trim();
  console.log(`${new Date().toISOString()}: ${machine()}; ${resticVersion}; load average ${os.loadavg().map((l) => l.toFixed(2)).join(" ")}`);
  console.log(`cases ${CASES.join(",")}; BENCH_DEDUP_MIB=${DEDUP_MIB}, BENCH_PG_MB=${PG_MB}`);
  console.log("restic: a local repository under bench/.data/dedup (same disk as the S3 server's directory); Lifeboat: s3 destination, the loopback S3 server (s3rver behind the enforcing front, in this process)");
  fs.rmSync(data, { recursive: true, force: true });
  fs.mkdirSync(data, { recursive: true, mode: 0o755 });
  fs.chmodSync(data, 0o755);
  fs.mkdirSync(path.dirname(bundle));
  for (const file of ["controller.mjs", "agent.mjs"]) fs.copyFileSync(path.join(built, file), path.join(path.dirname(bundle), file));
  const commit = execSync("git rev-parse --short HEAD", { cwd: root, encoding: "utf8" }).trim();
  const changed = execSync("git status --porcelain -- agent core controller plugins platform inventory", { cwd: root, encoding: "utf8" }).trim();
  const builtAt = fs.statSync(path.join(built, "agent.mjs")).mtime.toISOString();
  console.log(`code: commit ${commit}${changed ? ` with uncommitted changes to ${changed.split("\n").length} product files` : ""}; dist/ built ${builtAt}, copied to ${path.relative(root, path.dirname(bundle))}`);

  const names = [...(CASES.includes("files") ? ["tree"] : []), ...(CASES.includes("restore") ? ["whole"] : []), ...(CASES.includes("rewrite") ? ["big"] : []), ...(CASES.includes("postgres") ? ["pg"] : [])];
  let fleet: Fleet | undefined;
  let pg: PostgresServer | undefined;
  const cleanup = async () => {
    await Promise.allSettled([fleet?.stop(), pg?.stop()]);
    if (!process.env.BENCH_DEDUP_KEEP) fs.rmSync(data, { recursive: true, force: true });
  };
  const onSignal = () => {
    console.error("interrupted: stopping the fleet and PostgreSQL");
    void cleanup().finally(() => process.exit(130));
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    const tree = path.join(data, "tree");
    let treeBytes = 0;
    if (CASES.includes("files")) {
      const began = Date.now();
      treeBytes = writeTree(tree);
      console.log(`tree: ${mb(treeBytes)} MB (${BIG_BYTES / MiB} MiB file + ${SMALL_COUNT} × ${SMALL_SIZE} B) written in ${((Date.now() - began) / 1000).toFixed(1)} s`);
    }
    fleet = await startFleet(names);
    if (CASES.includes("postgres")) pg = await startPostgres();
    const plans: Record<string, HostPlan> = {};
    if (names.includes("tree")) plans.tree = { plugins: { files: { paths: [tree] } } };
    if (names.includes("whole")) plans.whole = { plugins: { files: { paths: [tree] } }, chunking: false };
    if (names.includes("big")) plans.big = { plugins: { files: { paths: [path.join(data, "big")] } } };
    if (pg) plans.pg = { plugins: { pg: { plugin: "postgres", host: "127.0.0.1", port: pg.port, user: "postgres", password: "${BENCH_PGPASSWORD}", databases: ["bench"], globals: false } } };
    writeInventory(fleet, plans);
    if (pg) fleet.env.BENCH_PGPASSWORD = pg.password; // every controller command reads the whole inventory
    const lifeboat = new Lifeboat(fleet);
    const init = await controllerTimed(fleet, ["init"], -1);
    if (init.code !== 0) throw new Error(`controller init: ${init.stderr}`);
    const install = await controllerTimed(fleet, ["install", "--all"], -1);
    if (install.code !== 0) throw new Error(`controller install --all: ${install.stdout}${install.stderr}`);

    if (CASES.includes("files")) {
      console.log("case 1: unchanged data");
      const restic = await filesCase(lifeboat, tree, treeBytes);
      if (CASES.includes("restore")) {
        console.log("case 4: restore");
        await restoreCase(fleet, lifeboat, restic, tree, treeBytes);
      }
      fs.rmSync(restic.repo, { recursive: true, force: true });
      fs.rmSync(tree, { recursive: true, force: true });
    }
    if (CASES.includes("rewrite")) {
      console.log("case 2: 1 MiB rewritten in the middle of a file");
      await rewriteCase(lifeboat);
    }
    if (CASES.includes("postgres") && pg) {
      console.log("case 3: postgres");
      await postgresCase(fleet, pg, lifeboat);
    }
  } finally {
    await cleanup();
    process.removeListener("SIGINT", onSignal);
    process.removeListener("SIGTERM", onSignal);
  }
  console.log(`\nload average at the end: ${os.loadavg().map((l) => l.toFixed(2)).join(" ")}\n`);
  console.log(table());
}

await main();
