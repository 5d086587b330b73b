/** @module Jobs that read a stored snapshot (restore, verify): built from the ledger and the inventory, run on one host, recorded. */
import * as crypto from "node:crypto";
import { LifeboatError } from "../../core/errors";
import type { AgentEvent } from "../../core/events";
import type { ReadJob } from "../../core/spec";
import type { ArtifactRecord } from "../../core/records";
import { destinationSecrets } from "../../core/storage/destinations/registry";
import { chunkNameOf } from "../../core/storage-layout";
import { RESTORE_STAGES, restoreStageOf } from "../../plugins/registry";
import type { ControllerContext } from "../context";
import { BLOB_AREA } from "../host-keys";
import { runHostJob } from "./host-job";
import { recordAgentEvent } from "./ledger-recorder";
import type { HostOutcome, Reporter } from "../output/reporter";
import { freshness } from "./sign-spec";

/** Which snapshot, which of its plugin instances, and the host that reads it. */
export interface SnapshotSelection {
  from: string;
  /** A snapshot id, or `latest` (the newest complete one); ignored when `at` is given. */
  snapshot: string;
  /** The newest complete snapshot taken at or before this time. */
  at?: Date;
  /** The host that runs the job (default: `from`). */
  on?: string;
  plugins?: string[];
  /** Keeps only the artifacts this accepts (besides `plugins`); `keepDescription` names them in messages. */
  keep?: (artifact: ArtifactRecord) => boolean;
  keepDescription?: string;
  /**
   * The operator allows sending the master identity, for a snapshot encrypted to
   * the master key only (made before hosts had keys, or recorded by a ledger
   * rebuild that no host key opened). Never set by anything unattended.
   */
  masterKey?: boolean;
}

/**
 * The parts of a restore or verify spec that come from the ledger and the
 * inventory: the snapshot's artifacts, their plugin configuration, the
 * destination (read access to its objects, chunks included).
 * @throws LifeboatError (NOT_FOUND, USAGE, CONFIG; INTEGRITY when the ledger lacks chunks it references) before anything is contacted; `action` names the job in messages.
 */
export async function snapshotJob(ctx: ControllerContext, sel: SnapshotSelection, action: "restore" | "verify", notes: string[] = []): Promise<Omit<ReadJob, "kind">> {
  const source = ctx.host(sel.from);
  const target = ctx.host(sel.on ?? sel.from);
  const snapshot = sel.at ? ctx.ledger.snapshotAt(source.name, sel.at) : ctx.ledger.getSnapshot(source.name, sel.snapshot);
  if (!snapshot) {
    const which = sel.at ? `complete snapshot taken at or before ${sel.at.toISOString()}` : sel.snapshot === "latest" ? "complete snapshot" : `complete snapshot "${sel.snapshot}"`;
    throw new LifeboatError("NOT_FOUND", `Cannot ${action} from "${source.name}": no ${which} in the ledger`, {
      hint: `list what is stored with: controller snapshots --host ${source.name}`,
    });
  }
  const selected = snapshot.artifacts.filter((a) => (!sel.plugins || sel.plugins.includes(a.instance) || sel.plugins.includes(a.plugin)) && (!sel.keep || sel.keep(a)));
  // A restore goes in dependency order (files and configuration, certificates, the web server, service data, models).
  const artifacts = action === "restore" ? inRestoreOrder(selected) : selected;
  if (artifacts.length === 0) {
    const wanted = [...(sel.plugins ? [`plugins ${sel.plugins.join(",")}`] : []), ...(sel.keep ? [sel.keepDescription ?? "the selection"] : [])].join(" and ");
    throw new LifeboatError("USAGE", `Cannot ${action} snapshot "${snapshot.id}": it has no artifacts of ${wanted}`, {
      hint: `it holds: ${[...new Set(snapshot.artifacts.map((a) => a.instance))].join(", ")}`,
    });
  }
  if (!snapshot.manifestKey || !snapshot.manifestSha256 || snapshot.manifestSize === null) {
    throw new LifeboatError("INTERNAL", `Cannot ${action} snapshot "${snapshot.id}": the ledger has no manifest for it`);
  }
  if (!ctx.inventory.destinations.get(snapshot.destination)) {
    throw new LifeboatError("CONFIG", `Cannot ${action} snapshot "${snapshot.id}": its destination "${snapshot.destination}" is no longer in the inventory`, {
      hint: "add the destination back under `destinations:` in the inventory",
    });
  }
  const instances = [...new Set(artifacts.map((a) => a.instance))];
  // The target's inventory entry says where things go; one that declares no plugins at all takes the source's layout.
  const targetDeclaresNothing = target.plugins.length === 0;
  if (action === "restore" && targetDeclaresNothing && target.name !== source.name) {
    notes.push(`"${target.name}" declares no plugins: the snapshot is restored with "${source.name}"'s layout (its paths, databases and hooks)`);
  }
  const plugins = instances.map((instance) => {
    const plugin = artifacts.find((a) => a.instance === instance)!.plugin;
    // A restore writes where the target host's inventory says (paths, databases) and runs its
    // hooks; the snapshot's manifest only selects among those. Verify checks the source's data.
    const onTarget = action === "restore" ? target.plugins.find((p) => p.instance === instance) : undefined;
    if (onTarget && onTarget.plugin !== plugin) {
      throw new LifeboatError("CONFIG", `Cannot restore "${instance}" onto "${target.name}": there it is a ${onTarget.plugin} plugin, the snapshot holds ${plugin} data`, { hint: `rename one of the two instances in the inventory` });
    }
    const configured = onTarget ?? source.plugins.find((p) => p.instance === instance);
    if (!configured) {
      throw new LifeboatError("CONFIG", `Cannot ${action} "${instance}" of "${source.name}": the inventory no longer configures that plugin instance`, {
        hint: `add hosts.${source.name}.plugins.${instance} back to the inventory`,
      });
    }
    if (action === "restore" && !onTarget && target.name !== source.name && !targetDeclaresNothing) {
      throw new LifeboatError("CONFIG", `Cannot restore "${instance}" onto "${target.name}": its inventory entry declares plugins, but not "${instance}", so Lifeboat does not know where it goes there`, {
        hint: `add hosts.${target.name}.plugins.${instance} (where its data goes on "${target.name}"), leave out the instance with --plugins, or declare no plugins on "${target.name}" to restore with "${source.name}"'s layout`,
      });
    }
    return { instance, plugin: configured.plugin, config: configured.config };
  });
  const manifest = { key: snapshot.manifestKey, sha256: snapshot.manifestSha256, size: snapshot.manifestSize };
  return {
    version: 1,
    host: target.name,
    sourceHost: source.name,
    jobId: `job-${crypto.randomBytes(8).toString("hex")}`,
    ...freshness(),
    snapshotId: snapshot.id,
    destination: await ctx.readAccessFor(snapshot.destination, [manifest.key, ...artifacts.map((a) => a.key), ...blobKeysOf(artifacts), ...chunkKeysOf(ctx, source.name, snapshot.id, artifacts)]),
    plugins,
    artifacts,
    manifest,
    ...(await identitiesFor(ctx, snapshot, artifacts, { action, on: target.name, masterKey: sel.masterKey === true })),
  };
}

/** `artifacts` ordered by their plugins' restore stages (see RESTORE_STAGES); within a stage, as recorded. */
function inRestoreOrder<T extends { plugin: string }>(artifacts: T[]): T[] {
  const rank = (plugin: string) => RESTORE_STAGES.indexOf(restoreStageOf(plugin));
  return artifacts.map((a, i) => ({ a, i })).sort((x, y) => rank(x.a.plugin) - rank(y.a.plugin) || x.i - y.i).map(({ a }) => a);
}

/** The object keys of the blobs that `artifacts` reference. */
function blobKeysOf(artifacts: { metadata: Record<string, unknown> }[]): string[] {
  // Only the blob area: links are never issued for another host's snapshot objects, whatever metadata says.
  return artifacts.flatMap((a) => (Array.isArray(a.metadata.blobs) ? (a.metadata.blobs as { key?: unknown }[]).map((b) => b.key).filter((k): k is string => typeof k === "string" && k.startsWith("blobs/")) : []));
}

/**
 * The object keys of the chunks that the chunked ones of `artifacts` (of
 * snapshot `snapshotId` of `host`) reference, as the ledger recorded them:
 * those of the selected plugin instances only.
 */
function chunkKeysOf(ctx: ControllerContext, host: string, snapshotId: string, artifacts: { instance: string; compression: string }[]): string[] {
  const instances = [...new Set(artifacts.filter((a) => a.compression === "chunked").map((a) => a.instance))];
  if (instances.length === 0) return [];
  // Only the host's own chunk area: links are never issued for another host's objects, whatever the ledger says.
  return ctx.ledger.chunks.snapshotChunkKeys(host, snapshotId, instances).filter((key) => chunkNameOf(host, key) !== null);
}

/**
 * The identities a job opening the snapshot needs, and no others: the key of
 * the host it was encrypted to (which opens its chunks too), and, when it
 * references blobs, the blob area key they are encrypted to (as the ledger
 * recorded it; the current one for blobs recorded before). A snapshot made
 * before hosts had keys needs the master identity.
 */
export async function identitiesFor(
  ctx: ControllerContext,
  snapshot: { id?: string; host?: string; destination: string; recipient: string | null },
  artifacts: { metadata: Record<string, unknown> }[],
  use: { action: string; on: string; masterKey: boolean },
): Promise<{ identity: string; blobIdentity?: string }> {
  if (snapshot.recipient === null) {
    // The master identity opens every host's snapshots: it leaves the controller only when the operator says so.
    if (!use.masterKey) {
      throw new LifeboatError("KEYS", `Cannot ${use.action} snapshot "${snapshot.id ?? "?"}" of "${snapshot.host ?? "?"}" on "${use.on}": it is encrypted to the master key only (made before hosts had keys of their own, or recorded by a ledger rebuild that no host key opened), and a job carrying the master identity could open every host's snapshots`, {
        hint: `check it on the controller instead (controller verify --level stored, controller fetch), or, if you trust "${use.on}" with every host's data, pass --master-key`,
      });
    }
    return { identity: ctx.keys.ageIdentity };
  }
  const identity = (await ctx.hostKeys.byRecipient(snapshot.recipient)).identity;
  const keys = blobKeysOf(artifacts);
  if (keys.length === 0) return { identity };
  const recipient = keys.map((k) => ctx.ledger.blobs.get(snapshot.destination, k)?.recipient).find((r) => r);
  const blobArea = recipient ? await ctx.hostKeys.byRecipient(recipient) : await ctx.hostKeys.current(BLOB_AREA);
  return { identity, blobIdentity: blobArea.identity };
}

/**
 * Runs a restore or verify job on its host, recording run, job and events in
 * the ledger; never throws once the job has started. `onEvent` sees every event too.
 * A missing or altered manifest marks the snapshot damaged, and so does a
 * missing or damaged chunk of it (the chunk is marked damaged too).
 */
export async function runSnapshotJob(ctx: ControllerContext, spec: ReadJob, acceptNewHostKey: boolean, reporter: Reporter, onEvent: (event: AgentEvent) => void = () => {}): Promise<HostOutcome> {
  const target = ctx.host(spec.host);
  const runId = ctx.ledger.startRun({ kind: spec.kind, trigger: `${spec.kind} ${spec.sourceHost}/${spec.snapshotId}${spec.host === spec.sourceHost ? "" : ` on ${spec.host}`}`, hosts: [spec.host] });
  ctx.ledger.startJob({ runId, jobId: spec.jobId, host: spec.host, kind: spec.kind, snapshotId: spec.snapshotId });
  const ids = { runId, jobId: spec.jobId, host: spec.host, snapshotId: spec.snapshotId, kind: spec.kind };
  let damage: string | undefined;
  const secrets = [...ctx.secrets, ...destinationSecrets(spec.destination), spec.identity, ...(spec.blobIdentity ? [spec.blobIdentity] : [])];
  const outcome = await runHostJob({ keys: ctx.keys, reporter, acceptNewHostKey, secrets }, target, spec, (event) => {
    if (event.type === "error" && event.subject === "manifest") damage ??= event.message;
    // A chunk the snapshot references, missing or altered: damaged, and stored again by the next backup.
    if (event.type === "error" && typeof event.object === "string" && ctx.ledger.chunks.markSnapshotChunkDamaged(spec.sourceHost, spec.snapshotId, event.object, event.message)) damage ??= event.message;
    recordAgentEvent(ctx.ledger, ids, event);
    onEvent(event);
  }, spec.sourceHost);
  outcome.target = spec.host;
  if (damage) ctx.ledger.markSnapshotDamaged(spec.sourceHost, spec.snapshotId, damage);
  ctx.ledger.finishJob(spec.jobId, outcome);
  ctx.ledger.finishRun(runId, outcome.status);
  return outcome;
}
