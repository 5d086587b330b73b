/** @module `controller status`: every host's state against its targets, usable as a monitoring check. */
import { selectHosts } from "../../inventory/resolve";
import { hostSelection, parseCommandArgs } from "../cli-args";
import { loadFleet, openLedger } from "../context";
import { EXIT_JOB_FAILED, EXIT_OK } from "../exit-codes";
import { fleetStatus, type HostStatus, type StatusCounts } from "../fleet/status";
import { formatDuration } from "../output/format";
import { table } from "../output/table";
import { oldestVerification, problemLines, span } from "../fleet/status-text";
import { emit, type Command } from "./command";

const usage = `usage: controller status [--host H[,H2] | --group G | --all] [--json]
One line per host (default: all) with its state, worst first:
  STALE       the newest complete, undamaged snapshot is older than maxAge (default 25h), or there is none
  FAILED      the host's last backup job failed
  UNVERIFIED  a plugin instance has no successful deep verification within verifyEvery (default 7d)
  CERT        a certificate in the newest snapshot expires within the plugin's warnDays (default 14 days)
  fresh       none of these
and the newest snapshot's age against maxAge, the last backup run, the oldest of the plugin
instances' last deep verifications against verifyEvery, the last measured restore time (RTO: a
drill with controller verify --drill, or a real restore), and failed-snapshot debris. Hosts without
plugins are restore targets: shown, never a problem.
With --json: {"type":"status","hosts":[{host, states, ok, plugins, maxAgeMs, verifyEveryMs,
snapshot:{id, finishedAt, ageMs}|null, lastRun:{status, finishedAt, ageMs, runId, jobId, error}|null,
verification:{lastOk:{time, snapshotId, ageMs}|null, instances:{NAME:{time, snapshotId, ageMs}|null}, unverified},
rto:{kind, snapshotId, onHost, durationMs, time, ageMs, instances:{NAME:ms}}|null, certificates, debris}],
"counts":{hosts, ok, problems, fresh, restoreTargets, stale, failed, unverified, cert}}
Exit code: 0 every host fresh (or a restore target), 1 some host has a problem, 2 usage or configuration error.`;

function stateText(s: HostStatus): string {
  return s.states[0] === "restore-target" ? "no plugins (restore target)" : s.states.join(" ");
}

/** The age of the least recently verified plugin instance (what UNVERIFIED is about). */
function oldestVerificationAge(s: HostStatus): string {
  const v = oldestVerification(s);
  return v === undefined ? "-" : v === null ? "never" : span(v.ageMs);
}

function row(s: HostStatus): string[] {
  if (s.states[0] === "restore-target") return [s.host, stateText(s), "-", "-", "-", "-", "-", String(s.debris)];
  return [
    s.host,
    stateText(s),
    s.snapshot?.id ?? "never",
    `${s.snapshot ? span(s.snapshot.ageMs) : "-"}/${span(s.maxAgeMs)}`,
    s.lastRun ? `${s.lastRun.status} ${span(s.lastRun.ageMs)} ago` : "never",
    `${oldestVerificationAge(s)}/${span(s.verifyEveryMs)}`,
    s.rto ? `${formatDuration(s.rto.durationMs)} (${s.rto.kind} ${span(s.rto.ageMs)} ago)` : "-",
    String(s.debris),
  ];
}

function summary(c: StatusCounts): string {
  const kinds = [c.stale && `${c.stale} STALE`, c.failed && `${c.failed} FAILED`, c.unverified && `${c.unverified} UNVERIFIED`, c.cert && `${c.cert} CERT`].filter(Boolean).join(", ");
  return [`${c.hosts} host${c.hosts === 1 ? "" : "s"}: ${c.fresh} fresh`, c.problems ? `${c.problems} with problems (${kinds})` : "", c.restoreTargets ? `${c.restoreTargets} restore target${c.restoreTargets === 1 ? "" : "s"}` : ""].filter(Boolean).join(", ");
}

export const statusCommand: Command = {
  name: "status",
  summary: "every host's state (fresh, STALE, FAILED, UNVERIFIED, CERT); exit 1 when any has a problem",
  usage,
  async run(argv) {
    const { globals, values } = parseCommandArgs(argv, { host: { type: "string", multiple: true }, group: { type: "string", multiple: true }, all: { type: "boolean" } }, usage);
    const inventory = loadFleet(globals.inventory);
    const selection = hostSelection(values);
    const hosts = selectHosts(inventory, selection.host || selection.group ? selection : { all: true });
    const ledger = openLedger(globals.state);
    try {
      const { hosts: statuses, counts } = fleetStatus(ledger, hosts, new Date());
      emit(
        globals,
        () =>
          [
            table(["HOST", "STATE", "SNAPSHOT", "AGE/MAX", "LAST RUN", "VERIFIED/EVERY", "RTO", "DEBRIS"], statuses.map(row)),
            ...statuses.flatMap((s) => (s.ok ? [] : problemLines(s).map((l) => `  ${s.host}: ${l}`))),
            summary(counts),
          ].join("\n"),
        () => ({ type: "status", hosts: statuses, counts }),
      );
      return counts.problems === 0 ? EXIT_OK : EXIT_JOB_FAILED;
    } finally {
      ledger.close();
    }
  },
};
