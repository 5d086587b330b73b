/** @module `controller daemon`: the nightly loop in the foreground (systemd-friendly): schedules, retries, retention, due verifications, alerts. */
import { LifeboatError } from "../../core/errors";
import { parseDuration } from "../../core/durations";
import type { HostConfig } from "../../inventory/schema";
import { Alerter } from "../alerts/alerter";
import { Notifier } from "../alerts/notifier";
import { parseCommandArgs } from "../cli-args";
import { ControllerContext } from "../context";
import { FleetBackupRunner } from "../daemon/backup-runner";
import { FleetAlerts } from "../daemon/fleet-alerts";
import { daemonLog, type DaemonLog } from "../daemon/log";
import { dueVerifications, pruneRetention } from "../daemon/maintenance";
import { DEFAULT_RETRY, type RetryPolicy } from "../daemon/retry";
import { HostSchedule, missedRun } from "../daemon/schedule";
import { Scheduler, type SchedulerSteps } from "../daemon/scheduler";
import { EXIT_JOB_FAILED, EXIT_OK } from "../exit-codes";
import { ControllerActions } from "../web/actions";
import { dashboardToken, parseListen, startDashboard, type DashboardServer } from "../web/server";
import { formatDuration } from "../output/format";
import type { Command } from "./command";

const usage = `usage: controller daemon [--concurrency N] [--grace DURATION] [--attempts N] [--retry-after DURATION] [--job-timeout DURATION] [--once-at TIME|now]
                         [--serve HOST:PORT [--actions]] [--json]
Runs in the foreground until SIGTERM or SIGINT (run it under systemd: docs/operations.md).
Backs up each host with a schedule at its cron times (in its timezone, plus a random
jitter), at most --concurrency hosts at once (default 4), never two backups of one host;
a failed backup is tried again, --attempts in all (default 3), --retry-after (default 1m)
after the first failure and 5 times longer after each next one. A backup still running after
--job-timeout (default 6h) is stopped and fails: a hung host never holds its slot, the
verifications and its alerts forever. A run missed while no
daemon ran is caught up once at start. After a host's backup, its retention is applied
(as controller prune); after each wave, the verifications that are due run (as
controller verify --due). Alerts go to the inventory's notifiers (alerts:).
Hosts without plugins (restore targets) or without a schedule are skipped.
On SIGTERM/SIGINT: no new backups; running ones get --grace (default 5m) to finish,
then their jobs are stopped (their snapshots end failed); exit 0.
--once-at TIME: one pass instead of a loop: back up each host whose scheduled time
at or before TIME (ISO date, or now) has not been backed up since, then retention and
due verifications, and exit (0 all ok, 1 some host failed).
--serve HOST:PORT also serves the dashboard, its JSON API and /metrics there, as controller serve
does (a token in LIFEBOAT_DASHBOARD_TOKEN is required off loopback and for --actions; docs/dashboard.md).
Logs one line per event on stdout; --json: NDJSON {"time","event",host,...}.`;

/** How long a stop waits for jobs to unwind after they were told to stop (SSH connects and agent installs are not interruptible). */
const UNWIND_MS = 60_000;
/** How often every host's health (STALE, certificates, verifications) is checked for alerts. */
const SWEEP_MS = 10 * 60_000;

function durationOption(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const ms = parseDuration(value);
  if (ms === null || ms < 0) throw new LifeboatError("USAGE", `--${name}: expected a duration such as 30s, 5m or 1h, got "${value}"`);
  return ms;
}

function countOption(name: string, value: string | undefined, fallback: number): number {
  const n = Number(value ?? fallback);
  if (!Number.isInteger(n) || n < 1) throw new LifeboatError("USAGE", `--${name}: expected a whole number >= 1, got "${value}"`);
  return n;
}

/** The hosts the daemon backs up; each host it leaves out gets one `skipped` line. */
function scheduledHosts(hosts: Iterable<HostConfig>, log: DaemonLog): HostConfig[] {
  const scheduled: HostConfig[] = [];
  for (const host of hosts) {
    if (host.plugins.length === 0) log({ event: "skipped", host: host.name, reason: "no plugins: nothing to back up (a restore target)" });
    else if (!host.operations.schedule) log({ event: "skipped", host: host.name, reason: "no schedule: set schedule: under defaults: or on the host" });
    else scheduled.push(host);
  }
  return scheduled;
}

/** Resolves with the name of the first SIGTERM or SIGINT; later ones call `again`. */
function onStopSignal(again: () => void): { signal: Promise<string>; dispose(): void } {
  let seen = false;
  let resolve: (name: string) => void = () => {};
  const signal = new Promise<string>((r) => (resolve = r));
  const handler = (name: NodeJS.Signals) => {
    if (seen) return again();
    seen = true;
    resolve(name);
  };
  process.on("SIGTERM", handler);
  process.on("SIGINT", handler);
  return {
    signal,
    dispose: () => {
      process.off("SIGTERM", handler);
      process.off("SIGINT", handler);
    },
  };
}

export const daemonCommand: Command = {
  name: "daemon",
  summary: "run the nightly loop in the foreground: scheduled backups, retries, retention, due verifications, alerts",
  usage,
  async run(argv) {
    const { globals, values } = parseCommandArgs(
      argv,
      {
        concurrency: { type: "string" },
        grace: { type: "string" },
        "job-timeout": { type: "string" },
        attempts: { type: "string" },
        "retry-after": { type: "string" },
        "once-at": { type: "string" },
        serve: { type: "string" },
        actions: { type: "boolean" },
      },
      usage,
    );
    const concurrency = countOption("concurrency", values.concurrency, 4);
    const graceMs = durationOption("grace", values.grace, 5 * 60_000);
    const jobTimeoutMs = durationOption("job-timeout", values["job-timeout"], 6 * 3_600_000);
    const retry: RetryPolicy = { ...DEFAULT_RETRY, attempts: countOption("attempts", values.attempts, DEFAULT_RETRY.attempts), firstDelayMs: durationOption("retry-after", values["retry-after"], DEFAULT_RETRY.firstDelayMs) };
    const onceAt = values["once-at"] === undefined ? undefined : values["once-at"] === "now" ? new Date() : new Date(values["once-at"]);
    if (onceAt && Number.isNaN(onceAt.getTime())) throw new LifeboatError("USAGE", `--once-at: expected an ISO date and time (2025-01-31T02:30:00Z) or now, got "${values["once-at"]}"`);
    if (values.actions && !values.serve) throw new LifeboatError("USAGE", "--actions goes with --serve HOST:PORT");
    if (values.serve && onceAt) throw new LifeboatError("USAGE", "--serve runs with the daemon's loop: it takes no --once-at");
    const listen = values.serve === undefined ? undefined : parseListen(values.serve, "--serve");
    const token = listen ? dashboardToken(listen, values.actions === true) : undefined;

    const log = daemonLog(globals.json);
    const ctx = await ControllerContext.open(globals);
    try {
      let hosts = scheduledHosts(ctx.inventory.hosts.values(), log);
      if (hosts.length === 0) {
        throw new LifeboatError("CONFIG", `Cannot run the daemon: no host of the inventory "${ctx.inventory.file}" has both plugins and a schedule`, { hint: 'add schedule: "30 2 * * *" under defaults: (cron, in the controller\'s time zone unless timezone: says otherwise)' });
      }
      if (onceAt) {
        hosts = hosts.filter((h) => {
          const schedule = new HostSchedule(h.operations.schedule!);
          const last = ctx.ledger.lastJobStart(h.name, "backup");
          if (missedRun(schedule, onceAt, last)) return true;
          const previous = schedule.previous(onceAt);
          log({ event: "skipped", host: h.name, reason: previous ? `its last backup started at ${last?.toISOString()}, after its scheduled time ${previous.toISOString()}` : `no scheduled time at or before ${onceAt.toISOString()}` });
          return false;
        });
        if (hosts.length === 0) return EXIT_OK;
      }

      const alerter = new Alerter(
        ctx.inventory.alerts.map((n) => new Notifier(n)),
        ctx.ledger.alerts,
        { secrets: ctx.secrets, log: (e) => log({ event: "alert", ...e }) },
      );
      const alerts = new FleetAlerts(alerter, ctx.ledger, ctx.inventory.hosts);
      const retention = pruneRetention(ctx);
      const verification = dueVerifications(ctx, concurrency);
      let failedForGood = 0;
      const steps: SchedulerSteps = {
        started: (host, attempt) => alerts.started(host, attempt),
        finished: (host, result, final) => {
          if (final && result.status !== "ok") failedForGood++;
          alerts.finished(host, result, final);
        },
        async afterHost(host) {
          const pruned = await retention.prune(host);
          if (pruned) log({ event: "prune", host, ...pruned });
        },
        async afterWave(signal, claim) {
          const reports = await verification.runDue(signal, claim);
          if (reports.length === 0) log({ event: "verify", status: "ok", message: "nothing is due" });
          for (const report of reports) {
            log({ event: "verify", ...(report.host ? { host: report.host } : {}), status: report.status === "ok" ? "ok" : "failed", message: report.message });
            if (report.host) alerts.check(report.host);
          }
        },
      };
      let actions: ControllerActions | undefined;
      const scheduler: Scheduler = new Scheduler({
        hosts: hosts.map((h) => ({ name: h.name, schedule: h.operations.schedule! })),
        runner: new FleetBackupRunner(ctx, jobTimeoutMs, (host) => actions?.busy(host) === true),
        concurrency,
        retry,
        log,
        steps,
        lastBackupStart: (host) => ctx.ledger.lastJobStart(host, "backup"),
        ...(onceAt ? { once: true } : {}),
      });

      let dashboard: DashboardServer | undefined;
      if (listen) {
        if (values.actions) actions = new ControllerActions(ctx, (message) => log({ event: "dashboard", message }), (host) => scheduler.busy(host));
        dashboard = await startDashboard({ ledger: ctx.ledger, hosts: [...ctx.inventory.hosts.values()], globals, listen, token, actions, logError: (err) => log({ event: "dashboard", message: `error: ${err instanceof Error ? err.message : String(err)}` }) });
        log({ event: "dashboard", message: `serving on ${dashboard.url}${token ? ", token required" : ""}${actions ? ", actions on" : ""}` });
      }
      const stop = onStopSignal(() => void scheduler.stop("a second signal", 0));
      let sweep: NodeJS.Timeout | undefined;
      try {
        scheduler.start();
        const checkAll = () => {
          for (const h of hosts) if (!scheduler.busy(h.name)) alerts.check(h.name);
        };
        if (!onceAt) {
          checkAll();
          sweep = setInterval(checkAll, SWEEP_MS);
        }
        const ended = await Promise.race([stop.signal, scheduler.idle().then(() => undefined)]);
        clearInterval(sweep);
        let stoppedJobs: string[] = [];
        if (ended === undefined) {
          scheduler.dispose();
        } else {
          // Jobs told to stop end within their SSH timeouts; a verification cannot be interrupted yet.
          const late = await Promise.race([scheduler.stop(ended, graceMs).then((hosts) => void (stoppedJobs = hosts)), new Promise<true>((r) => setTimeout(r, graceMs + UNWIND_MS, true).unref())]);
          if (late) {
            process.stderr.write(`controller daemon: some jobs did not end ${formatDuration(UNWIND_MS)} after they were told to stop; exiting (the next controller start records them as interrupted)\n`);
            // Their SSH connections would keep the process alive.
            setTimeout(() => process.exit(), 1000).unref();
          }
        }
        await dashboard?.close();
        await actions?.settle();
        // Alerts in flight end within their tries (at most about 40 s).
        await alerter.settle();
        if (ended !== undefined) log({ event: "stopped", stoppedJobs });
        return ended || failedForGood === 0 ? EXIT_OK : EXIT_JOB_FAILED;
      } finally {
        clearInterval(sweep);
        stop.dispose();
        await dashboard?.close();
      }
    } finally {
      ctx.close();
    }
  },
};
