/**
 * @module What the daemon alerts about, and when: a host's backup failing for
 * good (after its retries) and working again, healthchecks-style run pings,
 * and what `controller status` finds (STALE, certificates about to expire)
 * plus the host's newest verification failing, checked after each backup and
 * verification and on a periodic sweep.
 */
import type { HostConfig } from "../../inventory/schema";
import type { Alerter, Problem } from "../alerts/alerter";
import { gatherFacts, hostStatus, warningPlugins } from "../fleet/status";
import type { Ledger } from "../ledger/ledger";
import { formatDuration } from "../output/format";
import type { BackupResult } from "./scheduler";

/** Turns what the daemon sees into alerts. Every method returns at once; deliveries run in the background. */
export class FleetAlerts {
  private readonly warnPlugins = warningPlugins();

  constructor(
    private readonly alerter: Alerter,
    private readonly ledger: Ledger,
    private readonly hosts: Map<string, HostConfig>,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** A backup attempt of `host` started: healthchecks `/start`. */
  started(host: string, attempt: number): void {
    void this.alerter.ping(host, "start", `backup of ${host} started${attempt > 1 ? ` (attempt ${attempt})` : ""}`);
  }

  /**
   * A backup attempt ended. Ok: success ping, an open failure recovers, the
   * host's health is checked. Failed for good (`final`): fail ping and a
   * `failure` alert (sent again only after the notifier's `repeat`).
   */
  finished(host: string, result: BackupResult, final: boolean): void {
    if (result.status === "ok") {
      void this.alerter.ping(host, "success", `backup of ${host} ok: snapshot ${result.snapshotId ?? ""} in ${formatDuration(result.durationMs)}`);
      void this.alerter.update(host, "failure", [], `the backup of ${host} works again: snapshot ${result.snapshotId ?? ""}`);
      this.check(host);
      return;
    }
    if (!final) return;
    const why = result.error ? `[${result.error.code}] ${result.error.message}` : `it ended ${result.status}`;
    void this.alerter.ping(host, "fail", `backup of ${host} ${result.status}: ${why}`);
    // A partial backup's snapshot exists (failed, with what was stored); a failed one may never have reached the agent.
    void this.alerter.update(host, "failure", [{ message: `the backup of ${host} ${result.status === "partial" ? "was partial" : "failed"}: ${why}`, ...(result.status === "partial" && result.snapshotId ? { snapshot: result.snapshotId } : {}) }]);
  }

  /** Checks `host`'s health now: STALE, expiring certificates, its newest verification. */
  check(host: string): void {
    const config = this.hosts.get(host);
    if (!config || config.plugins.length === 0) return;
    const now = this.now();
    const status = hostStatus(config, gatherFacts(this.ledger, host, this.warnPlugins), now);
    // A host never backed up is not stale yet: its first backup's failure is the alert.
    const stale: Problem[] =
      status.states.includes("STALE") && status.lastRun !== null
        ? [{ message: status.snapshot ? `the newest complete snapshot of ${host} (${status.snapshot.id}) is ${formatDuration(status.snapshot.ageMs)} old, more than maxAge ${formatDuration(status.maxAgeMs)}` : `${host} has no complete snapshot`, ...(status.snapshot ? { snapshot: status.snapshot.id } : {}) }]
        : [];
    void this.alerter.update(host, "stale", stale, `${host} is fresh again${status.snapshot ? `: snapshot ${status.snapshot.id}` : ""}`);
    const certs: Problem[] = status.certificates.map((warning) => ({ subject: /certificate "([^"]+)"/.exec(warning)?.[1] ?? warning, message: `${host}: ${warning}` }));
    void this.alerter.update(host, "cert-expiring", certs, `the certificates of ${host} are renewed`);
    const verification = this.ledger.lastVerification(host);
    if (verification) {
      const failed: Problem[] = verification.result === "failed" ? [{ message: `the newest verification of ${host} (snapshot ${verification.snapshotId}, ${verification.time}) failed: see controller snapshots --host ${host}`, snapshot: verification.snapshotId }] : [];
      void this.alerter.update(host, "verify-failed", failed, `snapshot ${verification.snapshotId} of ${host} verified ok`);
    }
  }
}
