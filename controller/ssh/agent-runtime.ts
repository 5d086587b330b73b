/** @module The runtime that runs the agent on a host (Node.js or Deno), recognised by what `--version` prints. */

/** The oldest Node.js major the agent runs on. */
export const MIN_NODE_MAJOR = 20;
/** The oldest Deno major the agent runs on. */
export const MIN_DENO_MAJOR = 2;

/** A runtime's kind, from its `--version` output. */
export type RuntimeKind = "node" | "deno";

/** The runtime a host runs the agent with, as {@link ensureAgent} chose it. */
export interface AgentRuntime {
  /** What the host runs: an absolute path, or a command its PATH resolves. */
  command: string;
  kind: RuntimeKind;
  /** As the runtime reports itself in events: `v20.19.0` (Node.js), `2.9.6` (Deno). */
  version: string;
  /** True when it is the Deno binary this controller pushed into the agent directory. */
  pushed: boolean;
}

/** A recognised `--version` output. */
export interface RuntimeVersion {
  kind: RuntimeKind;
  version: string;
  major: number;
}

/**
 * Reads the first line of `--version` output: `deno 2.9.6 (stable, ...)` is
 * Deno, `v20.19.0` is Node.js; anything else is null. The file name plays no part.
 */
export function recogniseRuntime(versionLine: string): RuntimeVersion | null {
  const line = versionLine.trim();
  const deno = /^deno (\d+)\.(\d+)\.(\d+)\S*/.exec(line);
  if (deno) return { kind: "deno", version: deno[0].slice("deno ".length), major: Number(deno[1]) };
  const node = /^v(\d+)\.(\d+)\.(\d+)\S*$/.exec(line);
  if (node) return { kind: "node", version: node[0], major: Number(node[1]) };
  return null;
}

/** Whether the agent runs on this version. */
export function isNewEnough(found: RuntimeVersion): boolean {
  return found.major >= (found.kind === "deno" ? MIN_DENO_MAJOR : MIN_NODE_MAJOR);
}

/** `node v20.19.0` or `deno 2.9.6`: how events and the ledger name a runtime. */
export function runtimeLabel(runtime: { kind: RuntimeKind; version: string }): string {
  return `${runtime.kind} ${runtime.version}`;
}
