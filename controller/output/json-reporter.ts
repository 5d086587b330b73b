/** @module Reporter for scripts (`--json`): NDJSON, one `type` field per line. */
import type { AgentEvent } from "../../core/events";
import type { HostOutcome, Reporter } from "./reporter";

/**
 * Lines: `{"type":"step",host,message}`, every agent event with its `host`
 * added (type `progress`, `artifact`, `warning`, `error`, ...), and
 * `{"type":"host-summary",...HostOutcome}` per host.
 */
export class JsonReporter implements Reporter {
  constructor(private readonly out: (line: string) => void = (l) => process.stdout.write(`${l}\n`)) {}

  step(host: string, message: string): void {
    this.out(JSON.stringify({ type: "step", host, message }));
  }

  event(host: string, event: AgentEvent): void {
    this.out(JSON.stringify({ ...event, host }));
  }

  hostDone(outcome: HostOutcome): void {
    this.out(JSON.stringify({ ...outcome, type: "host-summary" }));
  }

  close(): void {}
}
