/** @module What one job carries through the agent: platform, events, scratch space, errors. */
import { runHooks } from "./hooks";
import { type HookRun, type Hooks } from "../core/hooks";
import type { PluginContext } from "../plugins/contract";
import type { BlobStore } from "../core/storage/blob-store";
import { isLifeboatError, LifeboatError, messageOf, redact } from "../core/errors";
import { explainSystemError } from "../core/system-errors";
import type { EventSink } from "./event-sink";
import type { Platform } from "../core/platform";

/** State shared by the parts of one running job. */
export class JobContext {
  /** Set by a backup once its manifest is stored. */
  manifest?: { key: string; sha256: string; size: number };
  constructor(
    readonly platform: Platform,
    readonly events: EventSink,
    readonly jobId: string,
    /** Private scratch directory of this job; removed at the end. */
    readonly scratchDir: string,
    private readonly secrets: string[],
    /** Aborted when the job must stop (its controller is gone): uploads abort, plugins see it in their context. */
    readonly signal?: AbortSignal,
    /** The kind of job, for the codes of the errors it reports. */
    readonly kind: "backup" | "restore" | "verify" | "prune" = "backup",
  ) {}

  /** Content-addressed storage for plugins that use it; set once the destination is open. */
  blobs: BlobStore = {
    put: () => Promise.reject(new LifeboatError("INTERNAL", "no blob store in this job")),
    get: () => {
      throw new LifeboatError("INTERNAL", "no blob store in this job");
    },
  };

  /** The context handed to one plugin instance. */
  pluginContext(instance: string): PluginContext {
    return {
      platform: this.platform,
      blobs: this.blobs,
      ...(this.signal ? { signal: this.signal } : {}),
      jobId: this.jobId,
      scratchDir: this.scratchDir,
      log: (message) => this.events.log(`[${instance}] ${message}`),
      warn: (message) => this.events.emit({ type: "warning", plugin: instance, message: redact(message, this.secrets) }),
    };
  }

  /**
   * Runs `work` between the instance's `before` and `after` hooks. `after`
   * always runs, also when `before` or `work` failed; the first failure is thrown.
   */
  async withHooks<T>(instance: string, hooks: Hooks, work: () => Promise<T>): Promise<T> {
    const report = (run: HookRun) => this.reportHook(instance, run);
    let failure: unknown;
    let result: T | undefined;
    try {
      await runHooks(this.platform, hooks, "before", report);
      result = await work();
    } catch (err) {
      failure = err;
    }
    try {
      await runHooks(this.platform, hooks, "after", report);
    } catch (err) {
      if (failure === undefined) failure = err;
      else this.reportError(err, instance);
    }
    if (failure !== undefined) throw failure;
    return result as T;
  }

  /** Reports a hook command that ran: a `hook` event (secrets removed) and its output in the log. */
  reportHook(instance: string, run: HookRun): void {
    this.events.emit({ type: "hook", plugin: instance, ...run, command: redact(run.command, this.secrets), output: redact(run.output, this.secrets) });
    this.events.log(`[${instance}] ${run.phase} hook "${run.command}" exited ${run.code}${run.output ? `:\n${run.output}` : ""}`);
  }

  /** Emits an `error` event for `err` (code, message, hint, the stored object at fault), secrets removed; `subject` marks what it is about (see ErrorEvent). */
  reportError(failure: unknown, plugin?: string, subject?: "manifest"): void {
    // A raw file-system error (ENOSPC, EBUSY, EACCES, ...) is told with its path and what to do.
    const err = isLifeboatError(failure) ? failure : (explainSystemError(failure, this.kind === "backup" ? "SOURCE" : "RESTORE") ?? failure);
    const code = isLifeboatError(err) ? err.code : "INTERNAL";
    const message = redact(messageOf(err), this.secrets);
    const hint = isLifeboatError(err) && err.hint ? redact(err.hint, this.secrets) : undefined;
    const object = isLifeboatError(err) && err.object ? err.object : undefined;
    this.events.emit({ type: "error", code, message, ...(hint ? { hint } : {}), ...(plugin ? { plugin } : {}), ...(subject ? { subject } : {}), ...(object ? { object } : {}) });
    if (!isLifeboatError(err) && err instanceof Error && err.stack) this.events.log(redact(err.stack, this.secrets));
  }
}
