/** @module The recovery report of a restore: per plugin instance what was restored, how big, how long, which checks passed; and the measured recovery time. */
import type { AgentEvent } from "../../core/events";
import type { RestoreJob } from "../../core/spec";
import { formatBytes, formatDuration } from "../output/format";
import type { HostOutcome } from "../output/reporter";
import { table } from "../output/table";

/** One plugin instance in the report. */
export interface RecoveredInstance {
  instance: string;
  plugin: string;
  status: "ok" | "failed" | "not restored";
  plainBytes: number;
  durationMs: number | null;
  restored: string[];
  checks: string[];
}

/** What a restore did, for the operator and the record. */
export interface RecoveryReport {
  type: "recovery-report";
  source: string;
  target: string;
  snapshotId: string;
  status: HostOutcome["status"];
  /** From the command to the last check: the host's measured recovery time when every instance was restored. */
  totalMs: number;
  /** Whether the ledger recorded it as the host's recovery time (only a restore that succeeded everywhere counts). */
  recorded: boolean;
  instances: RecoveredInstance[];
}

/** Collects each instance's `plugin-done` event of a restore job. */
export class RecoveryLog {
  private readonly done = new Map<string, Extract<AgentEvent, { type: "plugin-done" }>>();

  see(event: AgentEvent): void {
    if (event.type === "plugin-done") this.done.set(event.plugin, event);
  }

  /** The report of `spec`'s restore, which ended with `outcome` `totalMs` after the command began. */
  report(spec: RestoreJob, outcome: HostOutcome, totalMs: number, recorded: boolean): RecoveryReport {
    return {
      type: "recovery-report",
      source: spec.sourceHost,
      target: spec.host,
      snapshotId: spec.snapshotId,
      status: outcome.status,
      totalMs,
      recorded,
      instances: spec.plugins.map((p) => {
        const event = this.done.get(p.instance);
        return {
          instance: p.instance,
          plugin: p.plugin,
          status: event ? event.status : "not restored",
          plainBytes: spec.artifacts.filter((a) => a.instance === p.instance).reduce((n, a) => n + a.plainSize, 0),
          durationMs: event ? event.durationMs : null,
          restored: event?.restored ?? [],
          checks: event?.checks ?? [],
        };
      }),
    };
  }
}

/** The report as text. */
export function recoveryReportText(r: RecoveryReport): string {
  const lines = [`Recovery report: snapshot ${r.snapshotId} of "${r.source}" onto "${r.target}"`, ""];
  lines.push(
    table(
      ["INSTANCE", "PLUGIN", "STATUS", "SIZE", "TIME", "CHECKS"],
      r.instances.map((i) => [i.instance, i.plugin, i.status, formatBytes(i.plainBytes), i.durationMs === null ? "-" : formatDuration(i.durationMs), String(i.checks.length)]),
    ).replace(/^/gm, "  "),
  );
  for (const i of r.instances) {
    if (i.restored.length === 0 && i.checks.length === 0) continue;
    lines.push("", `  ${i.instance}:`);
    for (const place of i.restored) lines.push(`    restored ${place}`);
    for (const check of i.checks) lines.push(`    checked ${check}`);
  }
  const total = formatDuration(r.totalMs);
  lines.push(
    "",
    r.recorded
      ? `  recovery time: ${total} from command to last check (recorded as "${r.source}"'s measured recovery time; controller hosts shows it)`
      : `  took ${total}; not recorded as a recovery time: the restore did not succeed for every instance`,
  );
  return lines.join("\n");
}
