/**
 * @module Pruning a destination only its host reaches (`local`: a directory on
 * the host): the controller names exactly the objects and snapshot folders to
 * delete in a signed prune job, and the host's agent deletes them under its
 * job lock. Such a destination cannot protect history from its own host, which
 * can delete it anyway (docs/security.md); the ledger still decides what is kept.
 */
import * as crypto from "node:crypto";
import type { PruneJob } from "../../core/spec";
import type { HostConfig } from "../../inventory/schema";
import type { ControllerContext } from "../context";
import { runHostJob } from "../jobs/host-job";
import { recordAgentEvent } from "../jobs/ledger-recorder";
import { freshness } from "../jobs/sign-spec";
import type { Reporter } from "../output/reporter";

/** A snapshot to delete on its host: its id, its destination (inventory name) and the rule that deletes it. */
export interface HostDeletion {
  id: string;
  destination: string;
  rule: string;
}

const quiet: Reporter = { step() {}, event() {}, hostDone() {}, close() {} };

/**
 * Runs one prune job on `host`: its agent deletes `keys` and every object
 * under `prefixes` (snapshot folders) in `destination`, recorded as a job of
 * prune run `runId`.
 * @returns null when everything named is gone, else why not.
 */
export async function deleteOnHost(ctx: ControllerContext, host: HostConfig, destination: string, what: { keys: string[]; prefixes: string[] }, runId: string): Promise<string | null> {
  const spec: PruneJob = {
    version: 1,
    kind: "prune",
    host: host.name,
    jobId: `job-${crypto.randomBytes(8).toString("hex")}`,
    ...freshness(),
    snapshotId: runId,
    destination: ctx.destinationSpec(destination),
    plugins: [],
    keys: what.keys,
    prefixes: what.prefixes,
  };
  ctx.ledger.startJob({ runId, jobId: spec.jobId, host: host.name, kind: "prune", snapshotId: runId });
  const outcome = await runHostJob({ keys: ctx.keys, reporter: quiet, acceptNewHostKey: false, secrets: ctx.secrets }, host, spec, (event) =>
    recordAgentEvent(ctx.ledger, { runId, jobId: spec.jobId, host: host.name, snapshotId: runId, kind: "prune" }, event),
  );
  ctx.ledger.finishJob(spec.jobId, outcome);
  return outcome.status === "ok" ? null : `the prune job on "${host.name}" failed: ${outcome.error?.message ?? "no reason given"}`;
}

/**
 * Deletes `deletions` of `host` through one prune job per destination: each
 * snapshot is marked first (it stops counting as a backup), its rows go only
 * once the agent reports every object deleted; else it stays marked and the
 * next prune finishes it.
 * @returns per snapshot id, the number of objects named, or the reason it failed.
 */
export async function pruneOnHost(ctx: ControllerContext, host: HostConfig, deletions: HostDeletion[], runId: string): Promise<Map<string, { objects: number } | { error: string }>> {
  const results = new Map<string, { objects: number } | { error: string }>();
  const byDestination = new Map<string, HostDeletion[]>();
  for (const d of deletions) byDestination.set(d.destination, [...(byDestination.get(d.destination) ?? []), d]);
  for (const [destination, group] of byDestination) {
    const keysOf = new Map(group.map((d) => [d.id, ctx.ledger.retention.objectKeys(host.name, d.id)]));
    for (const d of group) ctx.ledger.retention.markDeleting(host.name, d.id, d.rule, runId);
    const error = await deleteOnHost(ctx, host, destination, { keys: [...keysOf.values()].flat().sort(), prefixes: group.map((d) => `${host.name}/${d.id}/`) }, runId);
    for (const d of group) {
      if (error === null) {
        const objectKeys = keysOf.get(d.id)!;
        ctx.ledger.retention.forgetSnapshot(host.name, d.id, { destination, rule: d.rule, runId, objectKeys });
        results.set(d.id, { objects: objectKeys.length });
      } else {
        results.set(d.id, { error });
      }
    }
  }
  return results;
}
