/** @module `controller restore`: restore a stored snapshot onto the same or another inventory host. */
import { LifeboatError } from "../../core/errors";
import type { ArtifactRecord } from "../../core/records";
import type { RestoreJob } from "../../core/spec";
import type { ControllerContext } from "../context";
import type { HostOutcome, Reporter } from "../output/reporter";
import { RecoveryLog, type RecoveryReport } from "../restore/recovery-report";
import { InstanceTimes, recordRestoreTime } from "./restore-times";
import { runSnapshotJob, snapshotJob } from "./snapshot-job";

/** What to restore where. */
export interface RestoreRequest {
  from: string;
  /** A snapshot id, or `latest` (the newest complete one); ignored when `at` is given. */
  snapshot: string;
  /** The newest complete snapshot taken at or before this time. */
  at?: Date;
  to?: string;
  plugins?: string[];
  into?: string;
  /** Replace existing databases and files whatever the plugin configuration says. */
  replace?: boolean;
  /** Only files matching these patterns, of the snapshot's `files` instances whose paths they fall under. */
  paths?: string[];
  acceptNewHostKey: boolean;
  /** Allow sending the master identity for a snapshot encrypted to the master key only (see SnapshotSelection.masterKey). */
  masterKey?: boolean;
}

/** The plugins whose instances `--path` can restore single files of. */
const PATH_PLUGINS = ["files"];

/**
 * Builds the restore spec from the ledger and the inventory; what the operator
 * should know before it runs (e.g. a target without its own configuration) goes to `notes`.
 * @throws LifeboatError (NOT_FOUND, USAGE, CONFIG) before anything is contacted.
 */
export async function restoreSpec(ctx: ControllerContext, req: RestoreRequest, notes: string[] = []): Promise<RestoreJob> {
  const keep = req.paths ? (a: ArtifactRecord) => PATH_PLUGINS.includes(a.plugin) && underAny(a.metadata.paths, req.paths!) : undefined;
  if (req.paths) {
    for (const p of req.paths) {
      if (!p.startsWith("/")) throw new LifeboatError("USAGE", `--path "${p}" must be an absolute path (a pattern of the original paths, e.g. /srv/app/data/webui.db or /srv/app/data/uploads/**)`);
    }
  }
  const base = await snapshotJob(
    ctx,
    {
      from: req.from,
      snapshot: req.snapshot,
      ...(req.at ? { at: req.at } : {}),
      ...(req.to ? { on: req.to } : {}),
      ...(req.plugins ? { plugins: req.plugins } : {}),
      ...(keep ? { keep, keepDescription: `files of plugin ${PATH_PLUGINS.join("/")} under ${req.paths!.join(", ")}` } : {}),
      masterKey: req.masterKey === true,
    },
    "restore",
    notes,
  );
  return { ...base, kind: "restore", ...(req.into ? { into: req.into } : {}), ...(req.replace ? { replace: true } : {}), ...(req.paths ? { paths: req.paths } : {}) };
}

/** Whether a pattern's fixed part (before its first wildcard) and one of the recorded paths lie one under the other. */
function underAny(recorded: unknown, patterns: string[]): boolean {
  const paths = Array.isArray(recorded) ? recorded.filter((p): p is string => typeof p === "string") : [];
  const within = (a: string, b: string) => a === b || a.startsWith(b.endsWith("/") ? b : `${b}/`);
  return patterns.some((pattern) => {
    const wildcard = pattern.search(/[*?[]/);
    const fixed = wildcard < 0 ? pattern : pattern.slice(0, pattern.lastIndexOf("/", wildcard)) || "/";
    return paths.some((p) => within(fixed, p) || within(p, fixed));
  });
}

/**
 * Runs a restore job built by {@link restoreSpec}; never throws once the job has
 * started. A restore that succeeded for every plugin instance is recorded as a
 * measured restore time (kind `restore`): the whole of it from `began` (the
 * command's start) to the last check, and each instance's part; `controller
 * status` and `controller hosts` show it.
 */
export async function runRestore(ctx: ControllerContext, spec: RestoreJob, acceptNewHostKey: boolean, reporter: Reporter, began = Date.now()): Promise<{ outcome: HostOutcome; report: RecoveryReport }> {
  const times = new InstanceTimes();
  const log = new RecoveryLog();
  const outcome = await runSnapshotJob(ctx, spec, acceptNewHostKey, reporter, (event) => {
    times.see(event);
    log.see(event);
  });
  const totalMs = Date.now() - began;
  const recorded = recordRestoreTime(ctx.ledger, "restore", spec, { ...outcome, durationMs: totalMs }, times);
  reporter.hostDone(outcome);
  return { outcome, report: log.report(spec, outcome, totalMs, recorded) };
}
