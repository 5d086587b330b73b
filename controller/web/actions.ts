/**
 * @module The dashboard's actions: back up a host now, verify its newest
 * snapshot now. Each goes through the same code as `controller run --host H`
 * and `controller verify --host H`, runs in the background, and is recorded
 * in the ledger like any run (a backup's run has the trigger `dashboard`).
 * Never two jobs of one host at once from here; none ever deletes or restores.
 */
import { isLifeboatError, messageOf, redact } from "../../core/errors";
import type { ControllerContext } from "../context";
import { runFleetBackup } from "../jobs/fleet-backup";
import { runVerify, verifySpec } from "../jobs/verify-run";
import { silentReporter } from "../output/reporter";

/** What an action can be. */
export type ActionKind = "backup" | "verify";

/** Whether the action started, and if not, why. */
export type ActionStart = { started: true } | { started: false; status: 404 | 409 | 422; reason: string };

/** Starts actions; the dashboard's app calls it. */
export interface FleetActions {
  start(kind: ActionKind, host: string): Promise<ActionStart>;
  /** Resolves once every action started so far has ended (tests, shutdown). */
  settle(): Promise<void>;
}

/** Actions over an opened controller. */
export class ControllerActions implements FleetActions {
  private readonly busyHosts = new Map<string, Promise<void>>();

  constructor(
    private readonly ctx: ControllerContext,
    /** A line for the operator's log per action started and ended. */
    private readonly log: (line: string) => void,
    /** Whether something else in this process (the daemon's scheduler) is running a job of the host. */
    private readonly elsewhere: (host: string) => boolean = () => false,
  ) {}

  async start(kind: ActionKind, host: string): Promise<ActionStart> {
    const config = this.ctx.inventory.hosts.get(host);
    if (!config) return { started: false, status: 404, reason: `no host "${host}" in the inventory` };
    if (config.plugins.length === 0) return { started: false, status: 422, reason: `"${host}" has no plugins: nothing to ${kind === "backup" ? "back up" : "verify"} (a restore target)` };
    const running = this.ctx.ledger.dashboard.running(host);
    if (this.busyHosts.has(host) || this.elsewhere(host) || running) {
      return { started: false, status: 409, reason: `a ${running?.kind ?? "job"} of "${host}" is running: try again when it has finished` };
    }
    // Claimed before the first await: two requests at once (a double click) start one job.
    let release: () => void = () => {};
    const claim = new Promise<void>((resolve) => (release = resolve));
    this.busyHosts.set(host, claim);
    let job: () => Promise<string>;
    if (kind === "backup") {
      job = async () => {
        const [outcome] = await runFleetBackup(this.ctx, [config], { concurrency: 1, acceptNewHostKey: false, rehash: false, trigger: "dashboard" }, silentReporter);
        return outcome ? `${outcome.status}${outcome.snapshotId ? ` (snapshot ${outcome.snapshotId})` : ""}${outcome.error ? `: ${outcome.error.message}` : ""}` : "no outcome";
      };
    } else {
      let spec: Awaited<ReturnType<typeof verifySpec>>;
      try {
        spec = await verifySpec(this.ctx, { from: host, snapshot: "latest", masterKey: false });
      } catch (err) {
        this.busyHosts.delete(host);
        release();
        return { started: false, status: 422, reason: redact(messageOf(err), this.ctx.secrets) };
      }
      job = async () => {
        const outcome = await runVerify(this.ctx, spec, false, silentReporter);
        return `${outcome.status} (snapshot ${spec.snapshotId})${outcome.error ? `: ${outcome.error.message}` : ""}`;
      };
    }
    this.log(`${kind} of ${host} started`);
    const done = job()
      .then(
        (result) => this.log(`${kind} of ${host} ${result}`),
        (err: unknown) => this.log(`${kind} of ${host} failed: ${isLifeboatError(err) ? `${err.code} ` : ""}${redact(messageOf(err), this.ctx.secrets)}`),
      )
      .finally(() => {
        this.busyHosts.delete(host);
        release();
      });
    this.busyHosts.set(host, done);
    return { started: true };
  }

  /** Whether an action of `host` is running. */
  busy(host: string): boolean {
    return this.busyHosts.has(host);
  }

  async settle(): Promise<void> {
    await Promise.all([...this.busyHosts.values()]);
  }
}
