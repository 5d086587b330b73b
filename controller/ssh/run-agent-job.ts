/** @module Running one signed job on a host's agent and reading its NDJSON events. */
import type { AgentEvent } from "../../core/events";
import type { SignedSpec } from "../../core/spec";
import type { HostConfig } from "../../inventory/schema";
import type { AgentRuntime } from "./agent-runtime";
import { agentCommand } from "./remote-shell";
import type { SshConnection } from "./session";

/** How an agent run ended. */
export interface AgentJobResult {
  /** The agent's exit code: 0 ok, 1 job failed, 2 usage, 3 spec refused. */
  exitCode: number;
  /** The final `done` event, absent when the agent died or refused the spec. */
  done?: Extract<AgentEvent, { type: "done" }>;
  /** The agent's stderr tail (its log). */
  log: string;
}

/**
 * Starts the agent with `runtime` (as {@link ensureAgent} chose it) and sends `signed` to it on stdin (never argv: it may hold credentials)
 * and calls `onEvent` for each event line, in order. Lines that are not
 * events are passed to `onNoise` (e.g. a runtime's own warnings). Aborting
 * `signal` stops the agent (SIGTERM, stdin closed) and rejects (LifeboatError SSH).
 */
export async function runAgentJob(
  conn: SshConnection,
  host: HostConfig,
  runtime: AgentRuntime,
  signed: SignedSpec,
  onEvent: (event: AgentEvent) => void,
  onNoise: (line: string) => void = () => {},
  signal?: AbortSignal,
): Promise<AgentJobResult> {
  let done: AgentJobResult["done"];
  // Attached: the spec is one line, and stdin stays open until the agent exits; if this
  // controller or its connection goes away, the agent sees stdin close and stops the job.
  const command = agentCommand(runtime, host.agentDir, ["run", "--dir", host.agentDir, "--attached"]);
  const result = await conn.exec(command, {
    stdin: `${JSON.stringify(signed)}\n`,
    keepStdinOpen: true,
    ...(signal ? { signal } : {}),
    onStdoutLine: (line) => {
      if (line.trim() === "") return;
      let event: AgentEvent;
      try {
        event = JSON.parse(line) as AgentEvent;
      } catch {
        onNoise(line);
        return;
      }
      if (typeof event !== "object" || event === null || typeof event.type !== "string") {
        onNoise(line);
        return;
      }
      if (event.type === "done") done = event;
      onEvent(event);
    },
  });
  return { exitCode: result.code, ...(done ? { done } : {}), log: result.stderr };
}
