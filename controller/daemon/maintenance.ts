/**
 * @module What the daemon does after backups, behind two small interfaces so
 * each can be replaced: retention for a host after its backup
 * (`controller/retention/prune.ts`, as `controller prune`), and the
 * verifications the rotation says are due after a wave
 * (`controller/jobs/verify-due.ts`, as `controller verify --due`).
 */
import { isLifeboatError, messageOf, redact } from "../../core/errors";
import type { ControllerContext } from "../context";
import { runDueVerifications } from "../jobs/verify-due";
import type { HostOutcome, Reporter } from "../output/reporter";
import { DEFAULT_GRACE_MS, pruneHosts } from "../retention/prune";

/** Retention for one host. */
export interface RetentionStep {
  /** Applies `host`'s retention; resolves with a one-line summary (never rejects), or undefined when the host has no retention policy. */
  prune(host: string): Promise<{ status: "ok" | "failed"; message: string } | undefined>;
}

/** One host's verification in a due round. */
export interface VerificationReport {
  host: string;
  status: "ok" | "partial" | "failed";
  message: string;
}

/** The rotation's due verifications. */
export interface VerificationStep {
  /**
   * Runs what is due now; resolves with one report per host verified (never
   * rejects). Calls `claim` with those hosts before any job starts (their
   * backups wait). `signal` asks it to stop.
   */
  runDue(signal: AbortSignal, claim: (hosts: string[]) => void): Promise<VerificationReport[]>;
}

const failureOf = (err: unknown, secrets: string[]) => `${isLifeboatError(err) ? `[${err.code}] ` : ""}${redact(messageOf(err), secrets)}`;

/** Retention through `pruneHosts`, as `controller prune --host H` runs it. */
export function pruneRetention(ctx: ControllerContext): RetentionStep {
  return {
    async prune(host) {
      const config = ctx.host(host);
      if (!config.operations.retention) return undefined;
      try {
        const result = await pruneHosts(ctx, [config], { dryRun: false, graceMs: DEFAULT_GRACE_MS, trigger: "daemon" });
        const plan = result.hosts[0];
        if (plan && plan.status !== "pruned") return { status: "ok", message: plan.message ?? plan.status };
        const deleted = plan?.snapshots.filter((s) => s.result === "deleted").length ?? 0;
        const kept = plan?.snapshots.filter((s) => s.result === "kept").length ?? 0;
        const blobs = result.blobs.filter((b) => b.result === "deleted").length;
        const chunks = plan?.chunks.reduce((n, c) => n + c.deleted, 0) ?? 0;
        const message = `deleted ${deleted} snapshot(s), kept ${kept}${chunks ? `, deleted ${chunks} unreferenced chunk(s)` : ""}${blobs ? `, deleted ${blobs} unreferenced blob(s)` : ""}${result.failed ? `; ${result.failed} deletion(s) failed (the next prune finishes them)` : ""}`;
        return { status: result.failed ? "failed" : "ok", message };
      } catch (err) {
        return { status: "failed", message: failureOf(err, ctx.secrets) };
      }
    },
  };
}

/** The daemon logs results, not progress. */
const quiet: Reporter = { step() {}, event() {}, hostDone() {}, close() {} };

/** What the rotation also takes: what falls due within a day (as `verify --due --ahead 1d` from a daily cron). */
const AHEAD_MS = 86_400_000;

/**
 * Due verifications through `runDueVerifications`, as `controller verify --due
 * --ahead 1d` runs them, `concurrency` hosts at a time.
 * Integration point left open: `runDueVerifications` takes no AbortSignal yet,
 * so a stop cannot interrupt a verification; the daemon waits a bounded time
 * and exits, and the next controller start records the job as abandoned.
 */
export function dueVerifications(ctx: ControllerContext, concurrency: number): VerificationStep {
  return {
    async runDue(_signal, claim) {
      try {
        const { outcomes } = await runDueVerifications(ctx, quiet, { concurrency, aheadMs: AHEAD_MS, onDue: (due) => claim(due.map((d) => d.host)) });
        return outcomes.map((o: HostOutcome) => ({
          host: o.host,
          status: o.status,
          message: o.status === "ok" ? `verified snapshot ${o.snapshotId ?? ""}: ${o.checks.length} check(s) passed` : `verification of snapshot ${o.snapshotId ?? ""} failed: ${o.error ? `[${o.error.code}] ${o.error.message}` : "see controller snapshots"}`,
        }));
      } catch (err) {
        return [{ host: "", status: "failed" as const, message: failureOf(err, ctx.secrets) }];
      }
    },
  };
}
