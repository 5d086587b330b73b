/** @module `controller run`: back up a selection of hosts concurrently and record everything in the ledger. */
import * as crypto from "node:crypto";
import type { BackupJob, ChunkingSpec } from "../../core/spec";
import { LifeboatError, messageOf, redact } from "../../core/errors";
import { describeDestination } from "../../core/storage/destinations/registry";
import { newSnapshotId } from "../../core/storage-layout";
import type { HostConfig } from "../../inventory/schema";
import type { ControllerContext } from "../context";
import { BLOB_AREA } from "../host-keys";
import { chunkNamingKey } from "../keys";
import type { Ledger } from "../ledger/ledger";
import { checkNewBlobs } from "./blob-check";
import { runHostJob } from "./host-job";
import { recordAgentEvent } from "./ledger-recorder";
import type { HostOutcome, Reporter } from "../output/reporter";
import { forEachConcurrent } from "./pool";
import { freshness } from "./sign-spec";

/** Options of a fleet backup run. */
export interface BackupRunOptions {
  /** Only these plugin instances (or plugin names). */
  plugins?: string[];
  concurrency: number;
  acceptNewHostKey: boolean;
  trigger: string;
  /** Every file is read again, whatever its metadata says (`controller run --rehash`); else as each host's `rehashEvery` says. */
  rehash?: boolean;
  /** Aborting stops the running jobs (they end failed, INTERRUPTED) and starts no more. */
  signal?: AbortSignal;
}

/** The plugin instances of `host` selected by `names` (instance or plugin names; all when absent). */
export function selectPlugins(host: HostConfig, names: string[] | undefined): HostConfig["plugins"] {
  if (!names) return host.plugins;
  return host.plugins.filter((p) => names.includes(p.instance) || names.includes(p.plugin));
}

/**
 * Whether a backup of `host` at `now` must read every file again: the host's
 * `rehashEvery` has passed since its newest complete snapshot made so (or
 * none was ever made so); never with `rehashEvery: never`.
 */
export function rehashDue(ledger: Ledger, host: HostConfig, now: Date): boolean {
  const every = host.operations.rehashEveryMs;
  if (every === null) return false;
  const last = ledger.chunks.lastRehash(host.name);
  return last === undefined || now.getTime() - last.getTime() >= every;
}

/**
 * How a backup of `host` encrypting to `hostRecipient` stores chunked
 * artifacts: the host's chunk naming key for that recipient; per plugin
 * instance, the snapshot whose chunks it may reference (see
 * ChunkLedger.parents); the damaged chunks it must upload again; and whether it
 * reads every file again (`rehash`: asked for, or {@link rehashDue}).
 */
export function chunkingFor(ctx: Pick<ControllerContext, "ledger" | "keys">, host: HostConfig, plugins: HostConfig["plugins"], hostRecipient: string, options: { rehash?: boolean; now: Date }): ChunkingSpec {
  return {
    key: chunkNamingKey(ctx.keys.blobKey, host.name, hostRecipient),
    parents: ctx.ledger.chunks.parents(host.name, host.destination, hostRecipient, plugins.map((p) => p.instance)),
    exclude: ctx.ledger.chunks.damagedNames(host.destination, host.name, hostRecipient),
    rehash: options.rehash === true || rehashDue(ctx.ledger, host, options.now),
  };
}

/**
 * The backup spec for one host (unsigned): its snapshot is encrypted to the
 * host's own key (created on first use) with the master and escrow
 * recipients, its blobs to the blob area's key with the same; its chunked
 * artifacts as {@link chunkingFor} says (`rehash`: `controller run --rehash`).
 */
export async function backupSpec(ctx: ControllerContext, host: HostConfig, plugins: HostConfig["plugins"], options: { rehash?: boolean } = {}): Promise<BackupJob> {
  const now = new Date();
  const [hostKey, blobArea] = [await ctx.hostKeys.current(host.name), await ctx.hostKeys.current(BLOB_AREA)];
  return {
    version: 1,
    kind: "backup",
    host: host.name,
    jobId: `job-${crypto.randomBytes(8).toString("hex")}`,
    ...freshness(now),
    snapshotId: newSnapshotId(now, crypto.randomBytes(2).toString("hex")),
    destination: ctx.destinationFor(host),
    plugins: plugins.map(({ instance, plugin, config }) => ({ instance, plugin, config })),
    recipients: [hostKey.recipient, ctx.keys.ageRecipient, ...ctx.inventory.recipients],
    blobKey: ctx.keys.blobKey,
    blobRecipients: [blobArea.recipient, ctx.keys.ageRecipient, ...ctx.inventory.recipients],
    knownBlobs: ctx.ledger.blobs.known(host.destination, blobArea.recipient),
    ...(host.operations.chunking ? { chunking: chunkingFor(ctx, host, plugins, hostKey.recipient, { rehash: options.rehash, now }) } : {}),
  };
}

/**
 * The hosts a run backs up, and those it skips: with nothing to back up (no
 * plugins, e.g. a spare restore target, or none matching `--plugins`), a host of
 * a group or of the fleet is skipped; a host named on its own is refused.
 * @throws LifeboatError("USAGE") when a named host, or every selected host, has nothing to back up.
 */
export function hostsToBackUp(hosts: HostConfig[], plugins: string[] | undefined, named: boolean): { run: HostConfig[]; skipped: HostConfig[] } {
  const run = hosts.filter((h) => selectPlugins(h, plugins).length > 0);
  const skipped = hosts.filter((h) => !run.includes(h));
  if (skipped.length > 0 && (named || run.length === 0)) {
    const what = plugins ? `none of ${skipped.length === 1 ? "its" : "their"} plugins match --plugins ${plugins.join(",")}` : `${skipped.length === 1 ? "it has" : "they have"} no plugins`;
    throw new LifeboatError("USAGE", `Cannot back up ${skipped.map((h) => `"${h.name}"`).join(", ")}: ${what}`, { hint: "list the hosts' plugins with: controller hosts" });
  }
  return { run, skipped };
}

/**
 * Reads through the blobs the job uploaded (see {@link checkNewBlobs}); one
 * that fails damages the snapshot, and the outcome fails with it.
 */
async function checkUploadedBlobs(ctx: ControllerContext, host: HostConfig, snapshotId: string, outcome: HostOutcome, reporter: Reporter): Promise<void> {
  try {
    const check = await checkNewBlobs(ctx, host.name, snapshotId, host.destination);
    if (check.checked > 0) reporter.step(host.name, `read through the ${check.checked} blob(s) it uploaded on the controller: ${check.checked - check.problems.length} ok`);
    if (check.skipped) reporter.step(host.name, `the blobs it uploaded are not read through on the controller: ${check.skipped}`);
    if (check.problems.length === 0) return;
    ctx.ledger.markSnapshotDamaged(host.name, snapshotId, check.problems[0]!);
    for (const message of check.problems) outcome.errors.push({ code: "INTEGRITY", message, hint: "the host stored something other than what it reported: check the host; the blob is never referenced again" });
  } catch (err) {
    outcome.errors.push({ code: "DESTINATION", message: `Cannot read through the blobs it uploaded: ${redact(messageOf(err), ctx.secrets)}`, hint: "until they are read through, later backups upload them again" });
  }
  outcome.error ??= outcome.errors[0];
  outcome.status = "failed";
}

/** Backs up `hosts`; returns one outcome per host, in the order they finished. */
export async function runFleetBackup(ctx: ControllerContext, hosts: HostConfig[], options: BackupRunOptions, reporter: Reporter): Promise<HostOutcome[]> {
  const runId = ctx.ledger.startRun({ kind: "backup", trigger: options.trigger, hosts: hosts.map((h) => h.name) });
  const outcomes: HostOutcome[] = [];
  await forEachConcurrent(hosts, options.concurrency, async (host) => {
    const plugins = selectPlugins(host, options.plugins);
    const spec = await backupSpec(ctx, host, plugins, { rehash: options.rehash });
    const destination = ctx.inventory.destinations.get(host.destination)!;
    ctx.ledger.startJob({ runId, jobId: spec.jobId, host: host.name, kind: "backup", snapshotId: spec.snapshotId });
    const outcome = await runHostJob(
        { keys: ctx.keys, reporter, acceptNewHostKey: options.acceptNewHostKey, secrets: ctx.secrets, ...(options.signal ? { signal: options.signal } : {}) },
        host,
        spec,
        (event) => {
          // A snapshot exists once an agent accepted the job and starts writing it; a host that
          // could not be reached leaves a failed job in the ledger, not an empty snapshot.
          if (event.type === "start") ctx.ledger.startSnapshot({ host: host.name, snapshotId: spec.snapshotId, jobId: spec.jobId, destination: host.destination, destinationDescription: describeDestination(destination), recipient: spec.recipients[0]!, rehash: spec.chunking?.rehash === true });
          const ids = { runId, jobId: spec.jobId, host: host.name, snapshotId: spec.snapshotId, kind: "backup" as const, blobKey: ctx.keys.blobKey, destination: host.destination, blobRecipient: spec.blobRecipients![0]!, hostRecipient: spec.recipients[0]! };
          recordAgentEvent(ctx.ledger, ids, event);
        },
      );
    if (outcome.status !== "failed") await checkUploadedBlobs(ctx, host, spec.snapshotId, outcome, reporter);
    ctx.ledger.finishJob(spec.jobId, outcome);
    if (outcome.status !== "ok") ctx.ledger.failSnapshot(host.name, spec.snapshotId);
    reporter.hostDone(outcome);
    outcomes.push(outcome);
  });
  ctx.ledger.finishRun(runId, outcomes.every((o) => o.status === "ok") ? "ok" : outcomes.some((o) => o.status !== "failed") ? "partial" : "failed");
  return outcomes;
}
