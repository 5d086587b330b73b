/**
 * @module Ledger rows for tests of status and verification rotation: backups,
 * verifications and restores recorded through the real `Ledger` (as the jobs
 * record them), and, where a test needs a time other than now, written at that time.
 */
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import Database from "better-sqlite3";
import { loadFleet } from "../../controller/context";
import { Ledger } from "../../controller/ledger/ledger";
import type { Inventory } from "../../inventory/schema";

const hex = (n: number) => crypto.randomBytes(n).toString("hex");
let made = 0;

/** A plugin instance's artifact as a backup records it; `metadata` e.g. a letsencrypt instance's certificates. */
export function artifactOf(host: string, snapshotId: string, instance: string, plugin = instance, metadata: Record<string, unknown> = {}) {
  return { plugin, instance, name: `${instance}.tar`, key: `${host}/${snapshotId}/${instance}/${instance}.tar.age`, plainSize: 100, storedSize: 50, sha256: "ab".repeat(32), compression: "zstd" as const, metadata };
}

/**
 * Records a backup of `host` as `controller run` does: a run and a job, and,
 * when the agent got as far, a snapshot (complete with `ok`, failed otherwise).
 * @returns the snapshot id
 */
export function backUp(ledger: Ledger, host: string, instances: { instance: string; plugin?: string; metadata?: Record<string, unknown> }[], status: "ok" | "failed" = "ok", error = "the agent exited with code 1"): string {
  // Ids sort in the order they were made, as real ones do (two fixtures can finish within a millisecond).
  const snapshotId = `20260101T${String(++made).padStart(6, "0")}Z-${hex(2)}`;
  const jobId = `job-${hex(8)}`;
  const runId = ledger.startRun({ kind: "backup", trigger: "test", hosts: [host] });
  ledger.startJob({ runId, jobId, host, kind: "backup", snapshotId });
  ledger.startSnapshot({ host, snapshotId, jobId, destination: "local", destinationDescription: "local /tmp" });
  for (const i of instances) ledger.recordArtifact(host, snapshotId, artifactOf(host, snapshotId, i.instance, i.plugin, i.metadata));
  if (status === "ok") ledger.completeSnapshot(host, snapshotId, { manifestKey: `${host}/${snapshotId}/manifest.json.age`, manifestSha256: "cd".repeat(32), manifestSize: 10 });
  else ledger.failSnapshot(host, snapshotId);
  const err = status === "ok" ? undefined : { code: "SOURCE", message: error };
  ledger.finishJob(jobId, { host, kind: "backup", status, snapshotId, artifacts: instances.length, plainBytes: 100, storedBytes: 50, durationMs: 10, errors: err ? [err] : [], ...(err ? { error: err } : {}), warnings: [], restored: [], checks: [] });
  ledger.finishRun(runId, status);
  return snapshotId;
}

/** Records a deep verification of `instances` of a snapshot, as `controller verify` does (time: now). */
export function verifyDeep(ledger: Ledger, host: string, snapshotId: string, instances: Record<string, "ok" | "failed">): void {
  const all = Object.values(instances).every((r) => r === "ok");
  ledger.recordVerification({
    host,
    snapshotId,
    level: "deep",
    result: all ? "ok" : "failed",
    details: { on: host, plugins: Object.fromEntries(Object.entries(instances).map(([i, r]) => [i, { status: r, durationMs: 5 }])) },
    durationMs: 20,
    onHost: host,
    instances: Object.entries(instances).map(([instance, result]) => ({ instance, result, durationMs: 5 })),
  });
}

/** Writes a successful deep verification of `instances` at `time`, directly into the ledger file (for times other than now). */
export function verifiedAt(file: string, host: string, snapshotId: string, instances: string[], time: Date): void {
  const db = new Database(file);
  try {
    db.transaction(() => {
      const plugins = Object.fromEntries(instances.map((i) => [i, { status: "ok" }]));
      const { lastInsertRowid } = db.prepare("INSERT INTO verifications(host, snapshot_id, level, result, time, details, duration_ms, on_host) VALUES (?, ?, 'deep', 'ok', ?, ?, 20, ?)").run(host, snapshotId, time.toISOString(), JSON.stringify({ plugins }), host);
      for (const i of instances) db.prepare("INSERT INTO verification_instances(verification_id, host, snapshot_id, instance, level, result, time) VALUES (?, ?, ?, ?, 'deep', 'ok', ?)").run(lastInsertRowid, host, snapshotId, i, time.toISOString());
    })();
  } finally {
    db.close();
  }
}

/** A temporary state directory with a ledger and an inventory written from `yaml`; `cleanup()` removes it. */
export function ledgerFixture(yaml: string): { dir: string; state: string; ledgerFile: string; inventoryFile: string; ledger: Ledger; inventory: () => Inventory; writeInventory(yaml: string): void; cleanup(): void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lifeboat-status-"));
  const state = path.join(dir, "state");
  const ledgerFile = path.join(state, "ledger.db");
  const inventoryFile = path.join(dir, "fleet.yaml");
  fs.writeFileSync(inventoryFile, yaml);
  const ledger = Ledger.open(ledgerFile);
  return {
    dir,
    state,
    ledgerFile,
    inventoryFile,
    ledger,
    inventory: () => loadFleet(inventoryFile),
    writeInventory: (text) => fs.writeFileSync(inventoryFile, text),
    cleanup() {
      ledger.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** An inventory of hosts on a local destination; `hosts` maps a name to its YAML mapping (plugins, maxAge, ...). */
export function inventoryYaml(hosts: Record<string, Record<string, unknown>>, defaults: Record<string, unknown> = {}): string {
  const doc = {
    defaults: { destination: "local", ...defaults },
    destinations: { local: { type: "local", path: "/var/backups/lifeboat" } },
    hosts: Object.fromEntries(Object.entries(hosts).map(([name, h]) => [name, { ssh: { host: "127.0.0.1", user: "lifeboat", port: 22 }, plugins: {}, ...h }])),
  };
  return JSON.stringify(doc, null, 2);
}
