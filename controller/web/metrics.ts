/**
 * @module The fleet as Prometheus metrics (text exposition format 0.0.4): per
 * host the same status `controller status --json` gives, per plugin instance
 * its newest complete snapshot and deep verification, and fleet totals.
 */
import type { StatusCounts } from "../fleet/status";
import type { InstanceFigures } from "./fleet-view";
import type { HostSummary } from "./views";

/** One metric family: its help, its type, and its samples. */
interface Family {
  name: string;
  help: string;
  type: "gauge";
  samples: { labels: Record<string, string>; value: number }[];
}

/** A label value as the format wants it: backslash, double quote and newline escaped. */
function labelValue(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

function render(families: Family[]): string {
  const lines: string[] = [];
  for (const f of families) {
    lines.push(`# HELP ${f.name} ${f.help}`, `# TYPE ${f.name} ${f.type}`);
    for (const s of f.samples) {
      const labels = Object.entries(s.labels).map(([k, v]) => `${k}="${labelValue(v)}"`).join(",");
      lines.push(`${f.name}${labels ? `{${labels}}` : ""} ${Number.isFinite(s.value) ? s.value : "NaN"}`);
    }
  }
  return `${lines.join("\n")}\n`;
}

const seconds = (iso: string) => Date.parse(iso) / 1000;

/**
 * The metrics of `hosts` (the overview's summaries), their plugin `instances`
 * and `counts`. Hosts and instances without a value (never backed up, never
 * verified) have no sample in that family, as Prometheus conventions want,
 * rather than a made-up zero.
 */
export function fleetMetrics(hosts: HostSummary[], counts: StatusCounts, instances: InstanceFigures[]): string {
  /** A gauge family over `items`, labelled by `labels`; an item whose value is null has no sample. */
  const gauges =
    <T>(items: T[], labels: (item: T) => Record<string, string>) =>
    (name: string, help: string, value: (item: T) => number | null): Family => ({
      name,
      help,
      type: "gauge",
      samples: items.flatMap((item) => {
        const v = value(item);
        return v === null ? [] : [{ labels: labels(item), value: v }];
      }),
    });
  const perHost = gauges(hosts, (h) => ({ host: h.host }));
  const perInstance = gauges(instances, (i) => ({ host: i.host, instance: i.instance, plugin: i.plugin }));
  const total = (name: string, help: string, value: number): Family => ({ name, help, type: "gauge", samples: [{ labels: {}, value }] });
  const families: Family[] = [
    perHost("lifeboat_last_success_timestamp_seconds", "When the host's newest complete, undamaged snapshot finished (Unix time).", (h) => (h.snapshot ? seconds(h.snapshot.finishedAt) : null)),
    perHost("lifeboat_snapshot_age_seconds", "Age of the host's newest complete snapshot.", (h) => (h.snapshot ? h.snapshot.ageMs / 1000 : null)),
    perHost("lifeboat_max_age_seconds", "The host's freshness target (maxAge).", (h) => h.maxAgeMs / 1000),
    perHost("lifeboat_stale", "1 when the host's newest complete snapshot is older than maxAge (or there is none).", (h) => (h.states.includes("STALE") ? 1 : 0)),
    perHost("lifeboat_last_run_failed", "1 when the host's last backup job failed or was partial.", (h) => (h.lastRun ? (h.lastRun.status === "ok" ? 0 : 1) : null)),
    perHost("lifeboat_last_run_timestamp_seconds", "When the host's last backup job finished (Unix time).", (h) => (h.lastRun ? seconds(h.lastRun.finishedAt) : null)),
    perHost("lifeboat_last_run_duration_seconds", "How long the host's last backup job took.", (h) => (h.lastRunDurationMs === null ? null : h.lastRunDurationMs / 1000)),
    perHost("lifeboat_verification_age_seconds", "Age of the host's newest successful deep verification.", (h) => (h.verification.lastOk ? h.verification.lastOk.ageMs / 1000 : null)),
    perHost("lifeboat_verify_every_seconds", "The host's verification period (verifyEvery).", (h) => h.verifyEveryMs / 1000),
    perHost("lifeboat_unverified_instances", "Plugin instances of the host without a deep verification within verifyEvery.", (h) => h.verification.unverified.length),
    perHost("lifeboat_recovery_time_seconds", "The host's newest measured restore (a drill or a real restore), command to last check.", (h) => (h.rto ? h.rto.durationMs / 1000 : null)),
    perHost("lifeboat_certificate_warnings", "Certificates of the host's newest snapshot that expire soon.", (h) => h.certificates.length),
    perHost("lifeboat_debris_snapshots", "Failed snapshots of the host whose objects are still stored.", (h) => h.debris),
    perHost("lifeboat_open_alerts", "Open alerts of the host (problems notifiers were told about, not yet recovered).", (h) => h.alerts.length),
    perHost("lifeboat_stored_bytes", "Bytes the host's snapshots keep in storage (objects and uploaded chunks).", (h) => h.storage.storedBytes),
    perHost("lifeboat_snapshots", "Snapshots of the host the ledger knows (complete, failed and being written).", (h) => h.storage.snapshots),
    perHost("lifeboat_host_ok", "1 when the host has no problem (fresh, or a restore target).", (h) => (h.ok ? 1 : 0)),
    perInstance("lifeboat_instance_last_success_timestamp_seconds", "When the newest complete, undamaged snapshot holding the plugin instance finished (Unix time).", (i) => (i.lastSuccess ? seconds(i.lastSuccess.finishedAt) : null)),
    perInstance("lifeboat_instance_last_snapshot_bytes", "Bytes of the plugin instance's artifacts in that snapshot, as the plugin produced them.", (i) => (i.lastSuccess ? i.plainBytes : null)),
    perInstance("lifeboat_instance_last_snapshot_stored_bytes", "Bytes that snapshot stored for the plugin instance (objects and uploaded chunks).", (i) => (i.lastSuccess ? i.storedBytes : null)),
    perInstance("lifeboat_instance_last_run_duration_seconds", "How long the plugin instance took in the host's last backup job.", (i) => (i.lastRun ? i.lastRun.durationMs / 1000 : null)),
    perInstance("lifeboat_instance_last_run_failed", "1 when the plugin instance failed in the host's last backup job.", (i) => (i.lastRun ? (i.lastRun.status === "ok" ? 0 : 1) : null)),
    perInstance("lifeboat_instance_verification_age_seconds", "Age of the plugin instance's newest successful deep verification.", (i) => (i.verification ? i.verification.ageMs / 1000 : null)),
    perInstance("lifeboat_instance_stale", "1 when no complete snapshot within the host's maxAge holds the plugin instance.", (i) => (i.stale ? 1 : 0)),
    {
      name: "lifeboat_hosts",
      help: "Hosts by state, over the fleet.",
      type: "gauge",
      samples: [
        ...(["fresh", "stale", "failed", "unverified", "cert"] as const).map((state) => ({ labels: { state: state as string }, value: counts[state] })),
        { labels: { state: "restore-target" }, value: counts.restoreTargets },
      ],
    },
    total("lifeboat_fleet_stored_bytes", "Bytes the fleet's snapshots keep in storage.", hosts.reduce((n, h) => n + h.storage.storedBytes, 0)),
    total("lifeboat_fleet_open_alerts", "Open alerts over the fleet.", hosts.reduce((n, h) => n + h.alerts.length, 0)),
    total("lifeboat_fleet_problem_hosts", "Hosts with at least one problem (STALE, FAILED, UNVERIFIED or CERT).", counts.problems),
  ];
  return render(families);
}
