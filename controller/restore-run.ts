/** @module `controller restore`: restore a stored snapshot onto the same or another inventory host. */
import * as crypto from "node:crypto";
import { LifeboatError } from "../agent/errors";
import type { RestoreJob } from "../agent/spec/types";
import type { ControllerContext } from "./context";
import { runHostJob } from "./host-job";
import { recordAgentEvent } from "./ledger-recorder";
import type { HostOutcome, Reporter } from "./output/reporter";
import { freshness } from "./signing";

/** What to restore where. */
export interface RestoreRequest {
  from: string;
  /** A snapshot id, or `latest` (the newest complete one). */
  snapshot: string;
  to?: string;
  plugins?: string[];
  into?: string;
  acceptNewHostKey: boolean;
}

/**
 * Builds the restore spec from the ledger and the inventory.
 * @throws LifeboatError (NOT_FOUND, USAGE, CONFIG) before anything is contacted.
 */
export function restoreSpec(ctx: ControllerContext, req: RestoreRequest): RestoreJob {
  const source = ctx.host(req.from);
  const target = ctx.host(req.to ?? req.from);
  const snapshot = ctx.ledger.getSnapshot(source.name, req.snapshot);
  if (!snapshot) {
    throw new LifeboatError("NOT_FOUND", `Cannot restore from "${source.name}": no ${req.snapshot === "latest" ? "complete snapshot" : `complete snapshot "${req.snapshot}"`} in the ledger`, {
      hint: `list what is stored with: controller snapshots --host ${source.name}`,
    });
  }
  const artifacts = snapshot.artifacts.filter((a) => !req.plugins || req.plugins.includes(a.instance) || req.plugins.includes(a.plugin));
  if (artifacts.length === 0) {
    throw new LifeboatError("USAGE", `Cannot restore snapshot "${snapshot.id}": it has no artifacts of plugins ${req.plugins?.join(",")}`, {
      hint: `it holds: ${[...new Set(snapshot.artifacts.map((a) => a.instance))].join(", ")}`,
    });
  }
  const destination = ctx.inventory.destinations.get(snapshot.destination);
  if (!destination) {
    throw new LifeboatError("CONFIG", `Cannot restore snapshot "${snapshot.id}": its destination "${snapshot.destination}" is no longer in the inventory`, {
      hint: "add the destination back under `destinations:` in the inventory",
    });
  }
  const instances = [...new Set(artifacts.map((a) => a.instance))];
  const plugins = instances.map((instance) => {
    const configured = source.plugins.find((p) => p.instance === instance);
    if (!configured) {
      throw new LifeboatError("CONFIG", `Cannot restore "${instance}" of "${source.name}": the inventory no longer configures that plugin instance`, {
        hint: `add hosts.${source.name}.plugins.${instance} back to the inventory`,
      });
    }
    return { instance, plugin: configured.plugin, config: configured.config };
  });
  return {
    version: 1,
    kind: "restore",
    host: target.name,
    sourceHost: source.name,
    jobId: `job-${crypto.randomBytes(8).toString("hex")}`,
    ...freshness(),
    snapshotId: snapshot.id,
    destination: ctx.destinationSpec(snapshot.destination),
    plugins,
    artifacts,
    identity: ctx.keys.ageIdentity,
    ...(req.into ? { into: req.into } : {}),
  };
}

/** Runs a restore job built by {@link restoreSpec}; never throws once the job has started. */
export async function runRestore(ctx: ControllerContext, spec: RestoreJob, acceptNewHostKey: boolean, reporter: Reporter): Promise<HostOutcome> {
  const target = ctx.host(spec.host);
  const runId = ctx.ledger.startRun({ kind: "restore", trigger: `restore ${spec.sourceHost}/${spec.snapshotId} to ${spec.host}`, hosts: [spec.host] });
  ctx.ledger.startJob({ runId, jobId: spec.jobId, host: spec.host, kind: "restore", snapshotId: spec.snapshotId });
  const outcome = await runHostJob(
    { keys: ctx.keys, reporter, acceptNewHostKey, secrets: ctx.secrets },
    target,
    spec,
    (event) => recordAgentEvent(ctx.ledger, { runId, jobId: spec.jobId, host: spec.host, snapshotId: spec.snapshotId, kind: "restore" }, event),
    spec.sourceHost,
  );
  outcome.target = spec.host;
  ctx.ledger.finishJob(spec.jobId, outcome);
  ctx.ledger.finishRun(runId, outcome.status);
  reporter.hostDone(outcome);
  return outcome;
}
