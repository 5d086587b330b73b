// `npm run bench:fleet`: fleet operations on a big ledger, timed as whole commands (the built
// `dist/controller.mjs`, process start included): `controller status --all` (text and --json)
// and, when `controller prune` exists, `controller prune --all --dry-run`.
//
// It simulates the fleet by writing ledger rows directly (no host is contacted, nothing is
// stored): 200 hosts (BENCH_FLEET_HOSTS) × 400 snapshots (BENCH_FLEET_SNAPSHOTS) four hours
// apart, each with its run, job and 2–3 artifacts (a letsencrypt one with certificates on every
// tenth host), 2% failed snapshots, a weekly deep verification per host with its instances, a
// monthly drill per host, and last backups failed on every twentieth host. Five runs of each
// command; the median, fastest and slowest are reported (on a busy machine the fastest is the
// command's own cost). BENCH_FLEET_KEEP=1 keeps the state directory.
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import Database from "better-sqlite3";
import { Ledger } from "../controller/ledger/ledger";
import { describeTimes, root, timeController, type RunTimes } from "./bench-agent";
import { benchDaemonTicks } from "./daemon";

const HOSTS = Number(process.env.BENCH_FLEET_HOSTS ?? 200);
const SNAPSHOTS = Number(process.env.BENCH_FLEET_SNAPSHOTS ?? 400);
const RUNS = 5;
const bundle = path.join(root, "dist", "controller.mjs");
const HOUR = 3_600_000;

const hostName = (h: number) => `host-${String(h).padStart(3, "0")}`;

function inventory(dir: string): string {
  const hosts: Record<string, unknown> = {};
  for (let h = 0; h < HOSTS; h++) {
    hosts[hostName(h)] = {
      ssh: { host: `10.0.${h >> 8}.${h & 255}`, user: "root" },
      plugins: {
        files: { paths: ["/srv/app/data"] },
        db: { plugin: "sqlite", databases: ["/srv/app/webui.db"] },
        ...(h % 10 === 0 ? { le: { plugin: "letsencrypt" } } : {}),
      },
    };
  }
  const doc = {
    defaults: { destination: "b2", maxAge: "25h", verifyEvery: "7d", retention: { keepDaily: 14, keepWeekly: 8, keepMonthly: 6 } },
    destinations: { b2: { type: "s3", endpoint: "http://127.0.0.1:9", bucket: "fleet", accessKeyId: "bench", secretAccessKey: "bench-secret" } },
    groups: { web: Array.from({ length: Math.min(HOSTS, 20) }, (_, h) => hostName(h)) },
    hosts,
  };
  const file = path.join(dir, "fleet.yaml");
  fs.writeFileSync(file, JSON.stringify(doc, null, 1));
  return file;
}

/** Writes the simulated history straight into the ledger's tables, in one transaction. */
function fill(ledgerFile: string): { snapshots: number; artifacts: number; jobs: number; verifications: number } {
  Ledger.open(ledgerFile).close();
  const db = new Database(ledgerFile);
  const now = Date.now();
  const iso = (t: number) => new Date(t).toISOString();
  const cert = (days: number) => ({ name: "site", names: ["site.example"], notAfter: iso(now + days * 86_400_000), fingerprint: "00", keyMatches: true });
  const stmt = {
    run: db.prepare("INSERT INTO runs(id, kind, trigger, hosts, started_at, finished_at, status, owner) VALUES (?, 'backup', 'schedule', '[]', ?, ?, ?, 'bench:1')"),
    job: db.prepare("INSERT INTO jobs(id, run_id, host, kind, snapshot_id, started_at, finished_at, status, duration_ms, bytes_plain, bytes_stored, error_code, error_message) VALUES (?, ?, ?, 'backup', ?, ?, ?, ?, 60000, 1000000, 400000, ?, ?)"),
    snapshot: db.prepare("INSERT INTO snapshots(host, id, job_id, started_at, finished_at, status, destination, destination_description, manifest_key, manifest_sha256, manifest_size) VALUES (?, ?, ?, ?, ?, ?, 'b2', 's3 http://127.0.0.1:9/fleet', ?, ?, 900)"),
    artifact: db.prepare("INSERT INTO artifacts(host, snapshot_id, plugin, instance, name, object_key, plain_size, stored_size, sha256, compression, metadata) VALUES (?, ?, ?, ?, ?, ?, 1000000, 400000, ?, 'zstd', ?)"),
    verification: db.prepare("INSERT INTO verifications(host, snapshot_id, level, result, time, details, duration_ms, on_host) VALUES (?, ?, 'deep', 'ok', ?, ?, 30000, ?)"),
    instance: db.prepare("INSERT INTO verification_instances(verification_id, host, snapshot_id, instance, level, result, time, duration_ms) VALUES (?, ?, ?, ?, 'deep', 'ok', ?, 10000)"),
    restore: db.prepare("INSERT INTO restore_times(host, snapshot_id, instance, kind, on_host, duration_ms, time, job_id) VALUES (?, ?, ?, 'drill', ?, ?, ?, ?)"),
  };
  const counts = { snapshots: 0, artifacts: 0, jobs: 0, verifications: 0 };
  const sha = "ab".repeat(32);
  db.transaction(() => {
    for (let s = 0; s < SNAPSHOTS; s++) {
      const started = now - (SNAPSHOTS - s) * 4 * HOUR;
      const runId = `run-${String(s).padStart(6, "0")}`;
      stmt.run.run(runId, iso(started), iso(started + HOUR), "ok");
      for (let h = 0; h < HOSTS; h++) {
        const host = hostName(h);
        const t = started + (h % 60) * 1000;
        const id = `${iso(t).replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z")}-${String(h).padStart(4, "0")}`;
        const lastFails = s === SNAPSHOTS - 1 && h % 20 === 7;
        const failed = lastFails || (s * 31 + h) % 50 === 0;
        const jobId = `job-${s}-${h}`;
        stmt.job.run(jobId, runId, host, id, iso(t), iso(t + 60_000), failed ? "failed" : "ok", failed ? "SOURCE" : null, failed ? 'Cannot back up "/srv/app/webui.db": database is locked' : null);
        stmt.snapshot.run(host, id, jobId, iso(t), iso(t + 60_000), failed ? "failed" : "complete", failed ? null : `${host}/${id}/manifest.json.age`, failed ? null : sha);
        const instances: [string, string, Record<string, unknown>][] = [
          ["files", "files", { files: 1200, directories: 80, symlinks: 2 }],
          ["db", "sqlite", { tables: { chat: 20000 + s, "user settings": 2 } }],
          ...(h % 10 === 0 ? [["le", "letsencrypt", { root: "/etc/letsencrypt", warnDays: 14, certificates: [cert(h % 20 === 0 ? 5 : 60)] }] as [string, string, Record<string, unknown>]] : []),
        ];
        for (const [instance, plugin, metadata] of instances) {
          stmt.artifact.run(host, id, plugin, instance, `${instance}.tar`, `${host}/${id}/${instance}/${instance}.tar.age`, sha, JSON.stringify(metadata));
          counts.artifacts++;
        }
        counts.snapshots++;
        counts.jobs++;
        if (!failed && s % 42 === h % 42) {
          const vt = iso(t + 2 * HOUR);
          const { lastInsertRowid } = stmt.verification.run(host, id, vt, JSON.stringify({ on: host, plugins: Object.fromEntries(instances.map(([i]) => [i, { status: "ok" }])) }), host);
          for (const [instance] of instances) stmt.instance.run(lastInsertRowid, host, id, instance, vt);
          counts.verifications++;
          if (s % 168 === h % 168) {
            const job = `job-drill-${s}-${h}`;
            for (const [instance] of instances) stmt.restore.run(host, id, instance, "spare", 20_000, vt, job);
            stmt.restore.run(host, id, null, "spare", 65_000, vt, job);
          }
        }
      }
    }
  })();
  db.close();
  return counts;
}

function main(): void {
  if (!fs.existsSync(bundle)) throw new Error(`${bundle} is missing: run npm run build`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lifeboat-bench-fleet-"));
  try {
    const state = path.join(dir, "state");
    const env = { ...process.env, LIFEBOAT_STATE: state, LIFEBOAT_INVENTORY: inventory(dir), NO_COLOR: "1" };
    const init = spawnSync(process.execPath, [bundle, "init"], { env, encoding: "utf8" });
    if (init.status !== 0) throw new Error(`controller init failed: ${init.stderr}`);
    const began = Date.now();
    const counts = fill(path.join(state, "ledger.db"));
    const mib = fs.statSync(path.join(state, "ledger.db")).size / 1048576;
    console.log(`ledger: ${HOSTS} hosts × ${SNAPSHOTS} snapshots = ${counts.snapshots} snapshots, ${counts.artifacts} artifacts, ${counts.jobs} jobs, ${counts.verifications} verifications (${mib.toFixed(0)} MiB, written in ${((Date.now() - began) / 1000).toFixed(1)} s)`);
    const report = (label: string, t: RunTimes) => console.log(`${label.padEnd(40)} ${describeTimes(t)}`);
    const time = (args: string[], env: NodeJS.ProcessEnv) => timeController(bundle, args, env, RUNS);
    report("controller --version (process start)", time(["--version"], env));
    report("controller status --all", time(["status", "--all"], env));
    report("controller status --all --json", time(["status", "--all", "--json"], env));
    report("controller status --host host-007", time(["status", "--host", "host-007"], env));
    if (process.env.BENCH_FLEET_SKIP_PRUNE) {
      console.log("controller prune: skipped (BENCH_FLEET_SKIP_PRUNE)");
    } else if (fs.existsSync(path.join(root, "controller", "commands", "prune.ts"))) {
      report("controller prune --all --dry-run", time(["prune", "--all", "--dry-run"], env));
    } else {
      console.log("controller prune: not there yet (controller/commands/prune.ts), not timed");
    }
  } finally {
    if (process.env.BENCH_FLEET_KEEP) console.log(`kept ${dir} (BENCH_FLEET_KEEP)`);
    else fs.rmSync(dir, { recursive: true, force: true });
  }
}

main();
// The daemon's scheduler over 10,000 ticks with simulated agents, heap before and after (bench/daemon.ts).
if (!process.env.BENCH_FLEET_SKIP_DAEMON) await benchDaemonTicks();
