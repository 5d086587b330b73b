/** @module The fleet as Prometheus metrics (text exposition format 0.0.4), from the same status `controller status --json` gives. */
import type { HostStatus, StatusCounts } from "../fleet/status";

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
 * The metrics of `hosts` (as fleetStatus computed them) and their `counts`.
 * Hosts without a value (never backed up, never verified) have no sample in
 * that family, as Prometheus conventions want, rather than a made-up zero.
 */
export function fleetMetrics(hosts: HostStatus[], counts: StatusCounts): string {
  const perHost = (name: string, help: string, value: (h: HostStatus) => number | null): Family => ({
    name,
    help,
    type: "gauge",
    samples: hosts.flatMap((h) => {
      const v = value(h);
      return v === null ? [] : [{ labels: { host: h.host }, value: v }];
    }),
  });
  const families: Family[] = [
    perHost("lifeboat_last_success_timestamp_seconds", "When the host's newest complete, undamaged snapshot finished (Unix time).", (h) => (h.snapshot ? seconds(h.snapshot.finishedAt) : null)),
    perHost("lifeboat_snapshot_age_seconds", "Age of the host's newest complete snapshot.", (h) => (h.snapshot ? h.snapshot.ageMs / 1000 : null)),
    perHost("lifeboat_max_age_seconds", "The host's freshness target (maxAge).", (h) => h.maxAgeMs / 1000),
    perHost("lifeboat_stale", "1 when the host's newest complete snapshot is older than maxAge (or there is none).", (h) => (h.states.includes("STALE") ? 1 : 0)),
    perHost("lifeboat_last_run_failed", "1 when the host's last backup job failed or was partial.", (h) => (h.lastRun ? (h.lastRun.status === "ok" ? 0 : 1) : null)),
    perHost("lifeboat_last_run_timestamp_seconds", "When the host's last backup job finished (Unix time).", (h) => (h.lastRun ? seconds(h.lastRun.finishedAt) : null)),
    perHost("lifeboat_verification_age_seconds", "Age of the host's newest successful deep verification.", (h) => (h.verification.lastOk ? h.verification.lastOk.ageMs / 1000 : null)),
    perHost("lifeboat_verify_every_seconds", "The host's verification period (verifyEvery).", (h) => h.verifyEveryMs / 1000),
    perHost("lifeboat_unverified_instances", "Plugin instances of the host without a deep verification within verifyEvery.", (h) => h.verification.unverified.length),
    perHost("lifeboat_recovery_time_seconds", "The host's newest measured restore (a drill or a real restore), command to last check.", (h) => (h.rto ? h.rto.durationMs / 1000 : null)),
    perHost("lifeboat_certificate_warnings", "Certificates of the host's newest snapshot that expire soon.", (h) => h.certificates.length),
    perHost("lifeboat_debris_snapshots", "Failed snapshots of the host whose objects are still stored.", (h) => h.debris),
    perHost("lifeboat_host_ok", "1 when the host has no problem (fresh, or a restore target).", (h) => (h.ok ? 1 : 0)),
    {
      name: "lifeboat_hosts",
      help: "Hosts by state, over the fleet.",
      type: "gauge",
      samples: [
        ...(["fresh", "stale", "failed", "unverified", "cert"] as const).map((state) => ({ labels: { state: state as string }, value: counts[state] })),
        { labels: { state: "restore-target" }, value: counts.restoreTargets },
      ],
    },
  ];
  return render(families);
}
