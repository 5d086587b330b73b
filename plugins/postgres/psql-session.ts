/** @module A long-lived psql session: holds an exported snapshot open while pg_dump uses it, and answers queries in it. */
import { LifeboatError } from "../../core/errors";
import type { ChildProcess } from "../../core/platform";
import type { ServiceTool } from "../common/service-tool";
import { conninfoDbname, postgresHint } from "./connection";

const END = "__lifeboat_end__";

/** One psql process; queries are answered in order, in the same transaction. */
export class PsqlSession {
  private readonly pending: string[] = [];
  private wake?: () => void;
  private closed = false;
  private readonly lines: string[] = [];
  private waiter?: () => void;
  private readonly child: ChildProcess;
  private stdoutDone = false;

  constructor(tool: ServiceTool, psql: string, database: string, env: Record<string, string>) {
    const self = this;
    async function* input(): AsyncIterable<Uint8Array> {
      for (;;) {
        while (self.pending.length > 0) yield new TextEncoder().encode(self.pending.shift()!);
        if (self.closed) return;
        await new Promise<void>((resolve) => (self.wake = resolve));
      }
    }
    const child = tool.spawn(psql, ["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", conninfoDbname(database)], { env, stdin: input() });
    this.child = child;
    void (async () => {
      let partial = "";
      for await (const chunk of child.stdout) {
        partial += new TextDecoder().decode(chunk);
        const parts = partial.split("\n");
        partial = parts.pop()!;
        this.lines.push(...parts);
        this.waiter?.();
      }
      this.stdoutDone = true;
      this.waiter?.();
    })();
  }

  /** Runs `sql` (one or more statements) and returns its output lines. @throws SOURCE when psql stopped (its stderr says why). */
  async query(sql: string): Promise<string[]> {
    this.pending.push(`${sql}\n\\echo ${END}\n`);
    this.wake?.();
    const out: string[] = [];
    for (;;) {
      while (this.lines.length > 0) {
        const line = this.lines.shift()!;
        if (line === END) return out;
        out.push(line);
      }
      if (this.stdoutDone) {
        const { stderr } = await this.child.exited.catch((e: Error) => ({ stderr: e.message }));
        const detail = stderr.trim().split("\n").slice(-2).join(" | ") || "psql ended";
        const hint = postgresHint(detail);
        throw new LifeboatError("SOURCE", `Cannot query PostgreSQL: ${detail}`, hint ? { hint } : {});
      }
      await new Promise<void>((resolve) => (this.waiter = resolve));
    }
  }

  /** Ends the session (and its transaction). */
  async close(): Promise<void> {
    this.closed = true;
    this.wake?.();
    await this.child.exited.catch(() => undefined);
  }
}
