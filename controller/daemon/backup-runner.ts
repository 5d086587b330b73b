/** @module The daemon's real backup runner: one host through `controller run`'s code path (`runFleetBackup`), recorded in the ledger. */
import { isLifeboatError, LifeboatError, messageOf, redact } from "../../core/errors";
import type { ControllerContext } from "../context";
import { runFleetBackup } from "../jobs/fleet-backup";
import { silentReporter } from "../output/reporter";
import type { BackupResult, BackupRunner } from "./scheduler";

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
    /** Whether something else in this process (the dashboard's actions) runs a job of the host now. */
    private readonly busyElsewhere: (host: string) => boolean = () => false,
  ) {}

  async backup(host: string, trigger: string, stop: AbortSignal): Promise<BackupResult> {
    const began = Date.now();
    const running = this.ctx.ledger.dashboard.running(host);
    if (running || this.busyElsewhere(host)) {
      return { status: "failed", durationMs: 0, error: { code: "BUSY", message: `a ${running?.kind ?? "dashboard"} job of "${host}" is running${running ? ` since ${running.startedAt}` : ""}: never two jobs of one host at once` } };
    }
    const deadline = new AbortController();
    const timer = setTimeout(() => deadline.abort(new LifeboatError("INTERRUPTED", `the backup of "${host}" ran longer than --job-timeout ${Math.round(this.jobTimeoutMs / 60_000)}m and was stopped`)), this.jobTimeoutMs);
    const onStop = () => deadline.abort(stop.reason);
    if (stop.aborted) onStop();
    else stop.addEventListener("abort", onStop, { once: true });
    const signal = deadline.signal;
    try {
      const [outcome] = await runFleetBackup(this.ctx, [this.ctx.host(host)], { concurrency: 1, acceptNewHostKey: false, rehash: false, trigger, signal }, silentReporter);
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
