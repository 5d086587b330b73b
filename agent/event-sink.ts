/** @module Writes agent events as NDJSON, in order, with secrets removed. */
import { redact } from "../core/errors";
import type { AgentEvent } from "../core/events";
import type { Platform } from "../core/platform";

/** An ordered NDJSON writer. `flush()` waits for everything emitted so far. */
export class EventSink {
  private queue: Promise<void> = Promise.resolve();

  constructor(
    private readonly platform: Platform,
    /** Values that must never leave the agent (credentials, identities). */
    private readonly secrets: string[] = [],
  ) {}

  emit(event: AgentEvent): void {
    const line = `${redact(JSON.stringify(event), this.secrets)}\n`;
    this.queue = this.queue.then(() => this.platform.writeStdout(line));
  }

  /** A log line on stderr (not an event), redacted likewise. */
  log(message: string): void {
    this.platform.writeStderr(`${redact(message, this.secrets)}\n`);
  }

  flush(): Promise<void> {
    return this.queue;
  }
}
