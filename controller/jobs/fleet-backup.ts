/** @module `controller run`: back up a selection of hosts concurrently and record everything in the ledger. */
import * as crypto from "node:crypto";
import type { BackupJob } from "../../core/spec";
import { describeDestination } from "../../core/storage/destinations/registry";
import { newSnapshotId } from "../../core/storage-layout";
import type { HostConfig } from "../../inventory/schema";
import type { ControllerContext } from "../context";
import { runHostJob } from "./host-job";
import { recordAgentEvent } from "./ledger-recorder";
import { failedOutcome, type HostOutcome, type Reporter } from "../output/reporter";
import { forEachConcurrent } from "./pool";
import { freshness } from "./sign-spec";

/** Options of a fleet backup run. */
export interface BackupRunOptions {
  /** Only these plugin instances (or plugin names). */
  plugins?: string[];
  concurrency: number;
  acceptNewHostKey: boolean;
  trigger: string;
}

/** The plugin instances of `host` selected by `names` (instance or plugin names; all when absent). */
export function selectPlugins(host: HostConfig, names: string[] | undefined): HostConfig["plugins"] {
  if (!names) return host.plugins;
  return host.plugins.filter((p) => names.includes(p.instance) || names.includes(p.plugin));
}

/** The backup spec for one host (unsigned). */
export function backupSpec(ctx: ControllerContext, host: HostConfig, plugins: HostConfig["plugins"]): BackupJob {
  const now = new Date();
  return {
    version: 1,
    kind: "backup",
    host: host.name,
    jobId: `job-${crypto.randomBytes(8).toString("hex")}`,
    ...freshness(now),
    snapshotId: newSnapshotId(now, crypto.randomBytes(2).toString("hex")),
    destination: ctx.destinationFor(host),
    plugins: plugins.map(({ instance, plugin, config }) => ({ instance, plugin, config })),
    recipients: [ctx.keys.ageRecipient, ...ctx.inventory.recipients],
    blobKey: ctx.keys.blobKey,
  };
}

/** Backs up `hosts`; returns one outcome per host, in the order they finished. */
export async function runFleetBackup(ctx: ControllerContext, hosts: HostConfig[], options: BackupRunOptions, reporter: Reporter): Promise<HostOutcome[]> {
  const runId = ctx.ledger.startRun({ kind: "backup", trigger: options.trigger, hosts: hosts.map((h) => h.name) });
  const outcomes: HostOutcome[] = [];
  await forEachConcurrent(hosts, options.concurrency, async (host) => {
    const plugins = selectPlugins(host, options.plugins);
    const spec = backupSpec(ctx, host, plugins);
    const destination = ctx.inventory.destinations.get(host.destination)!;
    ctx.ledger.startJob({ runId, jobId: spec.jobId, host: host.name, kind: "backup", snapshotId: spec.snapshotId });
    ctx.ledger.startSnapshot({ host: host.name, snapshotId: spec.snapshotId, jobId: spec.jobId, destination: host.destination, destinationDescription: describeDestination(destination) });
    let outcome: HostOutcome;
    if (plugins.length === 0) {
      outcome = emptyOutcome(host.name, spec.snapshotId, options.plugins);
    } else {
      outcome = await runHostJob(
        { keys: ctx.keys, reporter, acceptNewHostKey: options.acceptNewHostKey, secrets: ctx.secrets },
        host,
        spec,
        (event) => recordAgentEvent(ctx.ledger, { runId, jobId: spec.jobId, host: host.name, snapshotId: spec.snapshotId, kind: "backup" }, event),
      );
    }
    ctx.ledger.finishJob(spec.jobId, outcome);
    if (outcome.status !== "ok") ctx.ledger.failSnapshot(host.name, spec.snapshotId);
    reporter.hostDone(outcome);
    outcomes.push(outcome);
  });
  ctx.ledger.finishRun(runId, outcomes.every((o) => o.status === "ok") ? "ok" : outcomes.some((o) => o.status !== "failed") ? "partial" : "failed");
  return outcomes;
}

function emptyOutcome(host: string, snapshotId: string, wanted: string[] | undefined): HostOutcome {
  return failedOutcome(host, "backup", { code: "USAGE", message: `Cannot back up "${host}": none of its plugins match --plugins ${wanted?.join(",")}`, hint: "list the host's plugins with: controller hosts" }, snapshotId);
}
