/**
 * @module A running job's lifeline to its controller. The controller keeps the
 * agent's stdin open for the whole job (`agent run --attached`); when it closes —
 * the controller died, or its SSH connection dropped — or when the agent is
 * asked to stop (SIGTERM, SIGHUP, SIGINT), the job stops within seconds: uploads
 * are aborted (multipart uploads included), the plugins' processes are stopped,
 * and the job unwinds through its normal cleanup (scratch space removed).
 */
import { LifeboatError } from "../core/errors";
import type { Platform } from "../core/platform";

/** How long an interrupted job may take to unwind before the agent cleans up and exits anyway. */
const GRACE_MS = 10_000;

/** Stops one job when its controller is gone. */
export class Lifeline {
  private readonly controller = new AbortController();
  /** Aborted when the job must stop; the reason is a LifeboatError("INTERRUPTED"). */
  readonly signal = this.controller.signal;

  /**
   * @param log a line for the agent's log (stderr)
   * @param lastResort cleanup when the job has not unwound within the grace period; the agent then exits 1
   */
  constructor(
    private readonly platform: Platform,
    private readonly log: (message: string) => void,
    private readonly lastResort: () => Promise<void>,
  ) {}

  /** Watches stdin (when `attached`) and stop requests for the rest of the job. */
  watch(attached: boolean): void {
    if (attached) void this.platform.stdinClosed().then(() => this.stop("its controller is gone (stdin closed)"));
    this.platform.onStopRequest((signal) => this.stop(`it received ${signal}`));
  }

  /** Stops the job (once): aborts its signal, stops child processes, and sets the deadline. */
  stop(why: string): void {
    if (this.signal.aborted) return;
    this.log(`lifeboat agent: stopping the job: ${why}`);
    this.controller.abort(new LifeboatError("INTERRUPTED", `The job was stopped: ${why}`, { hint: "run it again; nothing it left counts as a backup" }));
    this.platform.stopChildren();
    setTimeout(() => {
      this.log("lifeboat agent: the job did not stop in time; removing its scratch space and exiting");
      void this.lastResort().finally(() => this.platform.exit(1));
    }, GRACE_MS);
  }
}
