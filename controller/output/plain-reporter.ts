/** @module Reporter for logs and pipes: a line per step and a summary line per host. */
import type { AgentEvent } from "../../core/events";
import type { HostOutcome, Reporter } from "./reporter";
import { summaryLine } from "./summary-line";

/** Writes plain lines to `out` (default stdout); no live progress. */
export class PlainReporter implements Reporter {
  constructor(private readonly out: (line: string) => void = (l) => process.stdout.write(`${l}\n`)) {}

  step(host: string, message: string): void {
    this.out(`  ${host}: ${message}`);
  }

  event(host: string, event: AgentEvent): void {
    if (event.type === "plugin-done" && event.status === "ok") this.out(`  ${host}: ${event.plugin} done`);
    if (event.type === "hook") this.out(`  ${host}: ${event.plugin} ${event.phase} hook \`${event.command}\` exited ${event.code}`);
  }

  hostDone(outcome: HostOutcome): void {
    this.out(summaryLine(outcome, false));
  }

  close(): void {}
}
