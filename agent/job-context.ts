/** @module What one job carries through the agent: platform, events, scratch space, errors. */
import type { PluginContext } from "../plugins/types";
import { isLifeboatError, messageOf, redact } from "./errors";
import type { EventSink } from "./event-sink";
import type { Platform } from "./platform";

/** State shared by the parts of one running job. */
export class JobContext {
  /** Set by a backup once its manifest is stored. */
  manifest?: { key: string; sha256: string; size: number };
  readonly signal?: AbortSignal;

  constructor(
    readonly platform: Platform,
    readonly events: EventSink,
    readonly jobId: string,
    /** Private scratch directory of this job; removed at the end. */
    readonly scratchDir: string,
    private readonly secrets: string[],
  ) {}

  /** The context handed to one plugin instance. */
  pluginContext(instance: string): PluginContext {
    return {
      platform: this.platform,
      jobId: this.jobId,
      scratchDir: this.scratchDir,
      log: (message) => this.events.log(`[${instance}] ${message}`),
      warn: (message) => this.events.emit({ type: "warning", plugin: instance, message: redact(message, this.secrets) }),
    };
  }

  /** Emits an `error` event for `err` (code, message, hint), secrets removed. */
  reportError(err: unknown, plugin?: string): void {
    const code = isLifeboatError(err) ? err.code : "INTERNAL";
    const message = redact(messageOf(err), this.secrets);
    const hint = isLifeboatError(err) && err.hint ? redact(err.hint, this.secrets) : undefined;
    this.events.emit({ type: "error", code, message, ...(hint ? { hint } : {}), ...(plugin ? { plugin } : {}) });
    if (!isLifeboatError(err) && err instanceof Error && err.stack) this.events.log(redact(err.stack, this.secrets));
  }
}
