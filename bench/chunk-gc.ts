// `npm run bench:gc`: retention over one host with 400 snapshots (BENCH_GC_SNAPSHOTS) of ~250,000
// chunks each (BENCH_GC_LIVE) out of 10^6 chunks (BENCH_GC_CHUNKS), "in seconds, not minutes".
//
// The ledger is written directly (no host is contacted): the host's data is LIVE chunks; before
// each snapshot a few thousand of them, at pseudo-random places, are replaced by new chunks (ids
// given in upload order, as backups give them), so each snapshot shares all but those with the one
// before, and the sets fragment as real ones do. Snapshots are six hours apart; the host keeps
// keepDaily 14, keepWeekly 8, keepMonthly 6, so a prune deletes most of them and most chunks.
//
// Timed: `controller prune --dry-run` as a whole command (the built dist/controller.mjs, process start
// included; three runs); in-process, the garbage collection's computation (marking the live chunks,
// listing the others) for that plan; then one real `controller prune` against the loopback S3 server
// (s3rver behind the test harness's front; the chunk objects are not there, so the deletions cost
// S3 requests and the ledger's work, not storage), and the S3 server's own share of that time.
// BENCH_GC_SKIP_REAL=1 skips the real prune, BENCH_GC_KEEP=1 keeps the state directory.
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import Database from "better-sqlite3";
import { chunkObjectKey } from "../core/storage-layout";
import { s3Destination } from "../core/storage/destinations/s3";
import { currentPlatform } from "../platform/current";
import { encodeIdSet, countIds } from "../controller/ledger/id-set";
import { Ledger } from "../controller/ledger/ledger";
import { startS3Server, type S3Server } from "../test/harness/s3-server";
import { describeTimes, root, timeController, timed } from "./bench-agent";

const SNAPSHOTS = Number(process.env.BENCH_GC_SNAPSHOTS ?? 400);
const LIVE = Number(process.env.BENCH_GC_LIVE ?? 250_000);
const CHUNKS = Number(process.env.BENCH_GC_CHUNKS ?? 1_000_000);
const HOST = "bench-host";
const DESTINATION = "offsite";
const RECIPIENT = "age1benchbenchbenchbenchbenchbenchbenchbenchbenchbenchbenchbenc";
const HOUR = 3_600_000;
const bundle = path.join(root, "dist", "controller.mjs");

/** A small deterministic generator (xorshift32): the same ledger every run. */
function random(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 2 ** 32;
  };
}

function inventory(dir: string, s3: S3Server | null): string {
  const doc = {
    destinations: {
      [DESTINATION]: s3
        ? { type: "s3", endpoint: s3.endpoint, region: s3.region, bucket: s3.bucket, prefix: "bench", accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey }
        : { type: "s3", endpoint: "http://127.0.0.1:9", bucket: "bench", accessKeyId: "bench", secretAccessKey: "bench-secret" },
    },
    hosts: { [HOST]: { ssh: { host: "10.0.0.1", user: "root" }, destination: DESTINATION, plugins: { files: { paths: ["/srv"] } }, retention: { keepDaily: 14, keepWeekly: 8, keepMonthly: 6 } } },
  };
  const file = path.join(dir, "fleet.yaml");
  fs.writeFileSync(file, JSON.stringify(doc, null, 1));
  return file;
}

/** Writes the host's history into the ledger: snapshots, their runs, jobs, artifacts, chunks and chunk sets. */
function fill(ledgerFile: string): { chunks: number; references: number; setBytes: number } {
  Ledger.open(ledgerFile).close();
  const db = new Database(ledgerFile);
  const now = Date.now();
  const iso = (t: number) => new Date(t).toISOString();
  const stmt = {
    run: db.prepare("INSERT INTO runs(id, kind, trigger, hosts, started_at, finished_at, status, owner) VALUES (?, 'backup', 'schedule', '[]', ?, ?, 'ok', 'bench:1')"),
    job: db.prepare("INSERT INTO jobs(id, run_id, host, kind, snapshot_id, started_at, finished_at, status, duration_ms, bytes_plain, bytes_stored) VALUES (?, ?, ?, 'backup', ?, ?, ?, 'ok', 60000, 0, 0)"),
    snapshot: db.prepare(
      "INSERT INTO snapshots(host, id, job_id, started_at, finished_at, status, destination, destination_description, manifest_key, manifest_sha256, manifest_size, recipient) VALUES (?, ?, ?, ?, ?, 'complete', ?, 's3 bench', ?, ?, 900, ?)",
    ),
    artifact: db.prepare("INSERT INTO artifacts(host, snapshot_id, plugin, instance, name, object_key, plain_size, stored_size, sha256, compression, metadata) VALUES (?, ?, 'files', 'files', 'files.tar', ?, ?, 2000000, ?, 'chunked', '{}')"),
    chunk: db.prepare("INSERT INTO chunks(id, destination, host, name, object_key, size, sha256, stored_size, recipient, snapshot_id, recorded_at) VALUES (?, ?, ?, ?, ?, 1048576, ?, 700000, ?, ?, ?)"),
    set: db.prepare("INSERT INTO snapshot_chunks(host, snapshot_id, seq, instance, ids, count) VALUES (?, ?, 0, 'files', ?, ?)"),
  };
  const sha = "ab".repeat(32);
  const next = random(2026);
  // Chunks replaced before each snapshot but the first, so that CHUNKS are made in all.
  const perSnapshot = Math.max(1, Math.round((CHUNKS - LIVE) / Math.max(1, SNAPSHOTS - 1)));
  const data = new Float64Array(LIVE);
  let made = 0;
  let references = 0;
  let setBytes = 0;
  db.transaction(() => {
    for (let s = 0; s < SNAPSHOTS; s++) {
      const started = now - (SNAPSHOTS - s) * 6 * HOUR;
      const id = `${iso(started).replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z")}-${String(s).padStart(4, "0")}`;
      const jobId = `job-${s}`;
      const runId = `run-${s}`;
      stmt.run.run(runId, iso(started), iso(started + HOUR));
      stmt.job.run(jobId, runId, HOST, id, iso(started), iso(started + HOUR));
      stmt.snapshot.run(HOST, id, jobId, iso(started), iso(started + HOUR), DESTINATION, `${HOST}/${id}/manifest.json.age`, sha, RECIPIENT);
      stmt.artifact.run(HOST, id, `${HOST}/${id}/files/files.tar.age`, LIVE * 1048576, sha);
      const upload = (at: number) => {
        const chunkId = ++made;
        const name = chunkId.toString(16).padStart(64, "0");
        stmt.chunk.run(chunkId, DESTINATION, HOST, name, chunkObjectKey(HOST, name), sha, RECIPIENT, id, iso(started));
        data[at] = chunkId;
      };
      if (s === 0) for (let at = 0; at < LIVE; at++) upload(at);
      else for (let n = 0; n < perSnapshot; n++) upload(Math.floor(next() * LIVE));
      const set = encodeIdSet(data);
      stmt.set.run(HOST, id, set, countIds(set));
      references += LIVE;
      setBytes += set.length;
    }
  })();
  db.close();
  return { chunks: made, references, setBytes };
}

/** Median, fastest and slowest of `runs` calls of `fn`, in ms. */
function timeInProcess<T>(runs: number, fn: () => T): { ms: string; result: T } {
  const ms: number[] = [];
  let result!: T;
  for (let i = 0; i < runs; i++) {
    const began = process.hrtime.bigint();
    result = fn();
    ms.push(Number(process.hrtime.bigint() - began) / 1e6);
  }
  ms.sort((a, b) => a - b);
  return { ms: `median ${ms[Math.floor(ms.length / 2)]!.toFixed(0)} ms, fastest ${ms[0]!.toFixed(0)}, slowest ${ms.at(-1)!.toFixed(0)} of ${runs}`, result };
}

async function main(): Promise<void> {
  if (!fs.existsSync(bundle)) throw new Error(`${bundle} is missing: run npm run build`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lifeboat-bench-gc-"));
  const s3 = process.env.BENCH_GC_SKIP_REAL ? null : await startS3Server();
  try {
    const state = path.join(dir, "state");
    const env = { ...process.env, LIFEBOAT_STATE: state, LIFEBOAT_INVENTORY: inventory(dir, s3), NO_COLOR: "1" };
    const init = spawnSync(process.execPath, [bundle, "init"], { env, encoding: "utf8" });
    if (init.status !== 0) throw new Error(`controller init failed: ${init.stderr}`);
    const ledgerFile = path.join(state, "ledger.db");
    const began = Date.now();
    const filled = fill(ledgerFile);
    console.log(
      `ledger: 1 host, ${SNAPSHOTS} snapshots × ${LIVE} chunk references (${filled.references} in all, ${(filled.setBytes / 1048576).toFixed(1)} MiB of sets), ${filled.chunks} chunks; ${(fs.statSync(ledgerFile).size / 1048576).toFixed(0)} MiB, written in ${((Date.now() - began) / 1000).toFixed(1)} s`,
    );

    const dry = timeController(bundle, ["prune", "--host", HOST, "--dry-run", "--json"], env, 3);
    const planned = spawnSync(process.execPath, [bundle, "prune", "--host", HOST, "--dry-run", "--json"], { env, encoding: "utf8", maxBuffer: 256 * 1024 * 1024 });
    const lines = planned.stdout.trim().split("\n").map((l) => JSON.parse(l) as { type: string; snapshots: unknown; chunks: unknown; chunkBytes?: number });
    const host = lines.find((l) => l.type === "prune-host") as { snapshots: { id: string; action: string }[]; chunks: { chunks: number }[] };
    const deleting = host.snapshots.filter((s) => s.action === "delete").map((s) => s.id);
    console.log(`${"controller prune --dry-run".padEnd(44)} ${describeTimes(dry)}: deletes ${deleting.length} of ${SNAPSHOTS} snapshots and ${host.chunks[0]?.chunks ?? 0} of ${filled.chunks} chunks`);

    const ledger = Ledger.open(ledgerFile);
    try {
      const live = timeInProcess(3, () => ledger.chunks.liveChunks(HOST, DESTINATION, deleting));
      console.log(`${"  marking the live chunks (liveChunks)".padEnd(44)} ${live.ms}: ${live.result.snapshots} snapshots' sets`);
      const garbage = timeInProcess(3, () => ledger.chunks.unreferenced(HOST, DESTINATION, live.result));
      console.log(`${"  listing the garbage (unreferenced)".padEnd(44)} ${garbage.ms}: ${garbage.result.length} chunks`);
    } finally {
      ledger.close();
    }

    if (s3) {
      // Not spawnSync: the S3 server answers from this process's event loop.
      const real = await timed(process.execPath, [bundle, "prune", "--host", HOST, "--json"], { env });
      const summary = JSON.parse(real.stdout.trim().split("\n").at(-1)!) as { snapshots: number; chunks: number; failed: number };
      const requests = (action: string) => s3.requests.filter((r) => r.action === action).length;
      console.log(
        `${"controller prune (S3 on loopback)".padEnd(44)} ${real.seconds.toFixed(1)} s, peak RSS ${(real.peakKiB / 1024).toFixed(0)} MiB: deleted ${summary.snapshots} snapshots and ${summary.chunks} chunks, ${summary.failed} failed; ${requests("DeleteObjects")} DeleteObjects, ${requests("DeleteObject")} DeleteObject, ${requests("ListObjects")} ListObjects requests`,
      );
      const db = new Database(ledgerFile, { readonly: true });
      try {
        console.log(`  ledger after: ${db.prepare("SELECT count(*) FROM chunks").pluck().get()} chunks, ${db.prepare("SELECT count(*) FROM deletions WHERE rule = 'unreferenced chunk'").pluck().get()} chunk deletions recorded`);
      } finally {
        db.close();
      }
      // What of that is the loopback S3 server's own time: the same requests without the controller.
      const destination = await s3Destination.open(currentPlatform(), { type: "s3", endpoint: s3.endpoint, region: s3.region, bucket: s3.bucket, prefix: "bench", accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey });
      try {
        const keys = Array.from({ length: 20_000 }, (_, i) => chunkObjectKey(HOST, i.toString(16).padStart(64, "f")));
        const at = Date.now();
        await destination.deleteMany!(keys);
        console.log(`  the S3 server alone: DeleteObjects of ${keys.length} absent keys in ${((Date.now() - at) / 1000).toFixed(1)} s`);
      } finally {
        await destination.close();
      }
    }
  } finally {
    await s3?.stop();
    if (process.env.BENCH_GC_KEEP) console.log(`kept ${dir} (BENCH_GC_KEEP)`);
    else fs.rmSync(dir, { recursive: true, force: true });
  }
}

await main();
