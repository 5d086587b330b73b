/** @module Reporter for a terminal: one live line per busy host (plugin, bytes, rate), then its summary. */
import type { AgentEvent } from "../../core/events";
import { formatBytes, formatRate } from "./format";
import type { HostOutcome, Reporter } from "./reporter";
import { summaryLine } from "./summary-line";

interface LiveHost {
  text: string;
  artifactStarted: number;
  artifact: string;
}

const REDRAW_MS = 100;

/** Redraws a block of live lines below the finished summaries. */
export class TtyReporter implements Reporter {
  private readonly live = new Map<string, LiveHost>();
  private drawn = 0;
  private lastDraw = 0;

  constructor(private readonly stream: NodeJS.WriteStream = process.stdout) {}

  step(host: string, message: string): void {
    this.update(host, message);
  }

  event(host: string, event: AgentEvent): void {
    const entry = this.live.get(host);
    if (event.type === "progress") {
      if (!entry || entry.artifact !== `${event.plugin}/${event.artifact}`) {
        this.live.set(host, { text: "", artifactStarted: Date.now(), artifact: `${event.plugin}/${event.artifact}` });
      }
      const current = this.live.get(host)!;
      const elapsed = Date.now() - current.artifactStarted;
      this.update(host, `${event.plugin} ${event.artifact}  ${formatBytes(event.bytes)}  ${formatRate(event.bytes, elapsed)}`);
    } else if (event.type === "start") {
      this.update(host, `${event.kind} ${event.snapshotId} started (agent ${event.agentVersion}, ${event.runtime})`);
    } else if (event.type === "hook") {
      this.update(host, `${event.plugin} ${event.phase} hook \`${event.command}\` exited ${event.code}`);
    } else if (event.type === "plugin-done") {
      this.update(host, `${event.plugin} ${event.status}`);
    }
  }

  hostDone(outcome: HostOutcome): void {
    this.live.delete(outcome.host);
    this.clear();
    this.stream.write(`${summaryLine(outcome, true)}\n`);
    this.draw(true);
  }

  close(): void {
    this.clear();
    this.live.clear();
  }

  private update(host: string, text: string): void {
    const entry = this.live.get(host) ?? { text, artifactStarted: Date.now(), artifact: "" };
    entry.text = text;
    this.live.set(host, entry);
    this.draw(false);
  }

  private clear(): void {
    if (this.drawn > 0) this.stream.write(`\x1b[${this.drawn}A\x1b[0J`);
    this.drawn = 0;
  }

  private draw(force: boolean): void {
    const now = Date.now();
    if (!force && now - this.lastDraw < REDRAW_MS) return;
    this.lastDraw = now;
    this.clear();
    const width = Math.max(40, (this.stream.columns || 100) - 1);
    const lines = [...this.live].map(([host, l]) => `  \x1b[36m${host}\x1b[0m ${l.text}`.slice(0, width + 9));
    if (lines.length > 0) this.stream.write(`${lines.join("\n")}\n`);
    this.drawn = lines.length;
  }
}
