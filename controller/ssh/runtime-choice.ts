/**
 * @module Which runtime runs the agent on a host: the inventory's pinned one,
 * or for `runtime: auto` Node.js or Deno from the host's PATH, else the Deno
 * this controller pushed there earlier, else a push of the Deno it carries.
 */
import { LifeboatError } from "../../core/errors";
import type { HostConfig } from "../../inventory/schema";
import { isNewEnough, MIN_DENO_MAJOR, MIN_NODE_MAJOR, recogniseRuntime, type AgentRuntime } from "./agent-runtime";
import type { CarriedLookup, CarriedRuntime } from "./carried-runtime";
import { pushedRuntimePath, type HostProbe, type ProbedRuntime } from "./host-probe";

/** Use a runtime the host has, or push the carried one. */
export type RuntimeChoice =
  | { use: AgentRuntime }
  | {
      push: CarriedRuntime;
      /** Why nothing on the host would do, e.g. `node v18.19.0 at /usr/bin/node is too old`. */
      why: string;
      /** Set when a pushed copy is there but is not the carried binary (changed on the host, or an older Deno). */
      replacing?: string;
    };

const NEEDS = `Node.js >= ${MIN_NODE_MAJOR} or Deno >= ${MIN_DENO_MAJOR}`;

/** What a probed runtime is, or why it does not do. */
function judge(found: ProbedRuntime): { runtime: AgentRuntime } | { unfit: string } {
  if (!found.path) return { unfit: `${found.asked}: not found` };
  const version = recogniseRuntime(found.versionLine);
  if (!version) {
    return { unfit: found.versionLine ? `${found.path}: its --version printed "${found.versionLine.slice(0, 80)}", which is neither Node.js nor Deno` : `${found.path}: does not run (its --version printed nothing)` };
  }
  const name = version.kind === "deno" ? "Deno" : "Node.js";
  if (!isNewEnough(version)) return { unfit: `${found.path}: ${name} ${version.version} is too old` };
  return { runtime: { command: found.path, kind: version.kind, version: version.version, pushed: false } };
}

function pinned(host: HostConfig, found: ProbedRuntime | undefined): AgentRuntime {
  const fix = `install ${NEEDS} on the host and point runtime: at it in the inventory, or set runtime: auto (the controller then pushes Deno when the host has no runtime)`;
  if (!found?.path) {
    throw new LifeboatError("TOOL_MISSING", `Cannot run the agent on "${host.name}": the runtime "${host.runtime}" set in the inventory was not found there`, { hint: fix });
  }
  const version = recogniseRuntime(found.versionLine);
  if (!version) {
    const printed = found.versionLine ? `its --version printed "${found.versionLine.slice(0, 80)}"` : "its --version printed nothing";
    throw new LifeboatError("TOOL_MISSING", `Cannot run the agent on "${host.name}": the runtime "${host.runtime}" is neither Node.js nor Deno, or does not run there (${printed})`, { hint: fix });
  }
  if (!isNewEnough(version)) {
    const name = version.kind === "deno" ? "Deno" : "Node.js";
    const minimum = version.kind === "deno" ? MIN_DENO_MAJOR : MIN_NODE_MAJOR;
    throw new LifeboatError("TOOL_MISSING", `Cannot run the agent on "${host.name}": the runtime "${host.runtime}" is ${name} ${version.version}; the agent needs ${name} >= ${minimum}`, {
      hint: `upgrade it, point runtime: at ${NEEDS}, or set runtime: auto (the controller then pushes Deno when the host has no runtime)`,
    });
  }
  return { command: found.path, kind: version.kind, version: version.version, pushed: false };
}

/**
 * Chooses the runtime. `carried` is asked only when the host has no runtime of
 * its own that fits (it hashes a ~100 MB binary).
 * @throws LifeboatError("TOOL_MISSING") for a pinned runtime that is missing,
 *   unrecognised or too old, and when `auto` finds nothing and cannot push.
 */
export async function chooseRuntime(host: HostConfig, probe: HostProbe, carried: () => Promise<CarriedLookup>): Promise<RuntimeChoice> {
  if (host.runtime !== "auto") return { use: pinned(host, probe.runtimes[0]) };
  const unfit: string[] = [];
  for (const found of probe.runtimes) {
    const verdict = judge(found);
    if ("runtime" in verdict) return { use: verdict.runtime };
    unfit.push(verdict.unfit);
  }
  const why = `the host has no ${NEEDS} on its PATH (${unfit.join("; ")})`;
  const lookup = await carried();
  if ("missing" in lookup) {
    throw new LifeboatError("TOOL_MISSING", `Cannot run the agent on "${host.name}": ${why}, and this controller has no Deno to push there: ${lookup.missing}`, {
      hint: `install ${NEEDS} on the host (e.g. apt-get install nodejs on a distribution that ships Node.js >= ${MIN_NODE_MAJOR}), then leave runtime: auto or point runtime: at it in the inventory`,
    });
  }
  const runtime = lookup.runtime;
  if (probe.pushedSha256 === runtime.sha256) {
    return { use: { command: pushedRuntimePath(host), kind: "deno", version: runtime.version, pushed: true } };
  }
  if (probe.pushedSha256 !== undefined) {
    const replacing = probe.pushedSha256 ? `the Deno pushed there earlier is not the one this controller carries (sha256 ${probe.pushedSha256.slice(0, 12)}…, expected ${runtime.sha256.slice(0, 12)}…): changed on the host, or an older push` : "the Deno pushed there earlier could not be hashed";
    return { push: runtime, why, replacing };
  }
  return { push: runtime, why };
}
