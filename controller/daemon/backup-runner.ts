/** @module The daemon's real backup runner: one host through `controller run`'s code path (`runFleetBackup`), recorded in the ledger. */
import { isLifeboatError, LifeboatError, messageOf, redact } from "../../core/errors";
import type { ControllerContext } from "../context";
import { runFleetBackup } from "../jobs/fleet-backup";
import type { Reporter } from "../output/reporter";
import type { BackupResult, BackupRunner } from "./scheduler";

/** The daemon logs results, not progress: the ledger keeps every event of the job. */
const quiet: Reporter = { step() {}, event() {}, hostDone() {}, close() {} };

/**
 * Backs up inventory hosts with the controller's context; host keys must be
 * known already (no prompt runs in a daemon). Nothing asks for `--rehash`
 * here: each backup reads every file again when its host's `rehashEvery` says
 * so (backupSpec decides, from the ledger).
 */
export class FleetBackupRunner implements BackupRunner {
  constructor(
    private readonly ctx: ControllerContext,
    /** A job still running after this long is stopped (it fails, its snapshot with it). */
    private readonly jobTimeoutMs: number,
  ) {}

  async backup(host: string, trigger: string, stop: AbortSignal): Promise<BackupResult> {
    const began = Date.now();
    const deadline = new AbortController();
    const timer = setTimeout(() => deadline.abort(new LifeboatError("INTERRUPTED", `the backup of "${host}" ran longer than --job-timeout ${Math.round(this.jobTimeoutMs / 60_000)}m and was stopped`)), this.jobTimeoutMs);
    const onStop = () => deadline.abort(stop.reason);
    if (stop.aborted) onStop();
    else stop.addEventListener("abort", onStop, { once: true });
    const signal = deadline.signal;
    try {
      const [outcome] = await runFleetBackup(this.ctx, [this.ctx.host(host)], { concurrency: 1, acceptNewHostKey: false, rehash: false, trigger, signal }, quiet);
      if (!outcome) throw new Error(`no outcome for "${host}"`);
      return {
        status: outcome.status,
        durationMs: outcome.durationMs,
        ...(outcome.snapshotId ? { snapshotId: outcome.snapshotId } : {}),
        storedBytes: outcome.storedBytes,
        ...(outcome.error ? { error: { code: outcome.error.code, message: outcome.error.message } } : {}),
      };
    } catch (err) {
      // Before the job started (keys, spec): the ledger has no job for it, the log and the alert say why.
      return { status: "failed", durationMs: Date.now() - began, error: { code: isLifeboatError(err) ? err.code : "INTERNAL", message: redact(messageOf(err), this.ctx.secrets) } };
    } finally {
      clearTimeout(timer);
      stop.removeEventListener("abort", onStop);
    }
  }
}
