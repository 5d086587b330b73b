/**
 * @module A simulated fleet for the benchmarks (bench/fleet-ops.ts, bench/dashboard.ts): an
 * inventory of HOSTS hosts and a ledger holding HOSTS × SNAPSHOTS snapshots, written as rows
 * straight into the ledger's tables (no host is contacted, nothing is stored).
 *
 * Snapshots are four hours apart, each with its run, job and 2–3 artifacts (a letsencrypt one
 * with certificates on every tenth host, expiring in 5 days on every twentieth), 2% failed
 * snapshots with their hook runs, a weekly deep verification per host with its instances, a
 * monthly drill per host, last backups failed on every twentieth host, and alerts: a closed one
 * per earlier failure, open ones for the last failed backups and the expiring certificates.
 * BENCH_FLEET_HOSTS and BENCH_FLEET_SNAPSHOTS shrink it (default 200 × 400).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import Database from "better-sqlite3";
import { Ledger } from "../controller/ledger/ledger";

/** Hosts in the inventory (BENCH_FLEET_HOSTS, default 200). */
export const HOSTS = Number(process.env.BENCH_FLEET_HOSTS ?? 200);
/** Snapshots per host (BENCH_FLEET_SNAPSHOTS, default 400). */
export const SNAPSHOTS = Number(process.env.BENCH_FLEET_SNAPSHOTS ?? 400);
const HOUR = 3_600_000;

/** The name of host number `h`: `host-007`. */
export const hostName = (h: number) => `host-${String(h).padStart(3, "0")}`;

/** Writes the fleet's inventory (JSON, which the YAML loader reads) to `dir`/fleet.yaml; returns its path. */
export function inventory(dir: string): string {
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

/** How many rows of each kind `fill` wrote. */
export interface FillCounts {
  snapshots: number;
  artifacts: number;
  jobs: number;
  verifications: number;
  /** Alert rows, open and closed. */
  alerts: number;
  openAlerts: number;
  hookRuns: number;
}

/**
 * Writes the simulated history into the ledger `ledgerFile` (made or migrated first), in one
 * transaction.
 */
export function fill(ledgerFile: string): FillCounts {
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
    hook: db.prepare("INSERT INTO hook_runs(time, run_id, job_id, host, plugin, phase, command, exit_code, output) VALUES (?, ?, ?, ?, 'db', ?, ?, 0, ?)"),
    alert: db.prepare("INSERT INTO alerts(host, event, subject, message, opened_at, last_sent_at, sent_count, closed_at) VALUES (?, ?, ?, ?, ?, ?, 1, ?)"),
  };
  const counts: FillCounts = { snapshots: 0, artifacts: 0, jobs: 0, verifications: 0, alerts: 0, openAlerts: 0, hookRuns: 0 };
  const alert = (host: string, event: string, subject: string, message: string, openedAt: number, closedAt: number | null) => {
    stmt.alert.run(host, event, subject, message, iso(openedAt), iso(openedAt), closedAt === null ? null : iso(closedAt));
    counts.alerts++;
    if (closedAt === null) counts.openAlerts++;
  };
  const sha = "ab".repeat(32);
  const locked = 'Cannot back up "/srv/app/webui.db": database is locked';
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
        stmt.job.run(jobId, runId, host, id, iso(t), iso(t + 60_000), failed ? "failed" : "ok", failed ? "SOURCE" : null, failed ? locked : null);
        stmt.snapshot.run(host, id, jobId, iso(t), iso(t + 60_000), failed ? "failed" : "complete", failed ? null : `${host}/${id}/manifest.json.age`, failed ? null : sha);
        if (failed) {
          // The hooks around the dump ran (and passed); the dump itself failed.
          stmt.hook.run(iso(t + 1000), runId, jobId, host, "before", "systemctl stop open-webui", "");
          stmt.hook.run(iso(t + 50_000), runId, jobId, host, "after", "systemctl start open-webui", "Started open-webui.service");
          counts.hookRuns += 2;
          // Open until the next backup succeeds (4 hours later), or still open after the last one.
          alert(host, "failure", "", `the backup of ${host} failed: [SOURCE] ${locked}`, t + 60_000, s === SNAPSHOTS - 1 ? null : t + 4 * HOUR + 60_000);
        }
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
    // The certificates that expire in 5 days have been warned about for 9 days.
    for (let h = 0; h < HOSTS; h += 20) alert(hostName(h), "cert-expiring", "site", `${hostName(h)}: certificate "site" (site.example) expires in 5 days`, now - 9 * 86_400_000, null);
  })();
  db.close();
  return counts;
}
