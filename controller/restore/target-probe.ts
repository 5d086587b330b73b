/**
 * @module What a restore's target has, found over SSH without changing
 * anything there: the programs the plugins will run, and the runtime the
 * agent would use (or that the controller would have to push).
 */
import { LifeboatError } from "../../core/errors";
import type { HostConfig } from "../../inventory/schema";
import { connectSsh } from "../ssh/connect";
import { shellQuote } from "../ssh/remote-shell";
import type { SshConnection } from "../ssh/session";
import { sshTargetFor } from "../ssh/target";

/** What the target has. */
export interface TargetFacts {
  /** Each tool asked about → whether the target's shell finds it. */
  tools: Map<string, boolean>;
  /** The runtime the agent would use there, in words. */
  runtime?: string;
  /** Bytes the controller would upload to give the host a runtime; absent when it has one. */
  runtimePushBytes?: number;
}

/** Looks for `tools` on the host over an open connection (as the agent's sessions would find them: the login's PATH). */
export async function findTools(conn: SshConnection, tools: string[]): Promise<Map<string, boolean>> {
  const found = new Map<string, boolean>();
  if (tools.length === 0) return found;
  const script = tools.map((t, i) => `if command -v ${shellQuote(t)} >/dev/null 2>&1; then echo "${i}=yes"; else echo "${i}=no"; fi`).join("; ");
  const result = await conn.exec(script, {});
  for (const line of result.stdout.split("\n")) {
    const m = /^(\d+)=(yes|no)$/.exec(line.trim());
    if (m) found.set(tools[Number(m[1])]!, m[2] === "yes");
  }
  if (found.size !== tools.length) throw new LifeboatError("SSH", `Cannot check the tools on the target: its shell answered ${JSON.stringify(result.stdout.slice(0, 200))}`, { hint: "the host's login shell must be a POSIX shell" });
  return found;
}

/**
 * Connects to `host` and finds what a restore needs there; `describeRuntime`
 * (given the open connection) says which runtime the agent would use.
 * @throws LifeboatError (SSH, HOST_KEY) when the host cannot be reached.
 */
export async function probeTarget(
  host: HostConfig,
  acceptNewHostKey: boolean,
  tools: string[],
  describeRuntime?: (conn: SshConnection) => Promise<{ runtime: string; pushBytes?: number }>,
): Promise<TargetFacts> {
  const conn = await connectSsh(sshTargetFor(host, acceptNewHostKey));
  try {
    const facts: TargetFacts = { tools: await findTools(conn, [...new Set(tools)]) };
    if (describeRuntime) {
      const r = await describeRuntime(conn);
      facts.runtime = r.runtime;
      if (r.pushBytes !== undefined) facts.runtimePushBytes = r.pushBytes;
    }
    return facts;
  } finally {
    conn.close();
  }
}
