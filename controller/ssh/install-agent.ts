/** @module Installing and upgrading the agent on a host over SFTP, and pinning the controller key there. */
import * as fs from "node:fs";
import { LifeboatError } from "../../core/errors";
import type { HostConfig } from "../../inventory/schema";
import { agentBundle } from "./agent-bundle";
import type { ControllerKeys } from "../keys";
import { runtimeLabel, type AgentRuntime } from "./agent-runtime";
import { carriedDeno, compressedRuntime } from "./carried-runtime";
import { probeHost, pushedRuntimePath } from "./host-probe";
import { pushRuntime, type RuntimePush } from "./push-runtime";
import { chooseRuntime } from "./runtime-choice";
import type { SshConnection } from "./session";

/** What {@link ensureAgent} did. */
export interface AgentStatus {
  installed: boolean;
  reason?: string;
  /** The runtime the agent runs with on the host. */
  runtime: AgentRuntime;
  /** The runtime in words, as events name it: `node v20.19.0`, `deno 2.9.6`. */
  runtimeVersion: string;
  /** Set when this call pushed the controller's Deno to the host. */
  pushed?: RuntimePush;
  /** Set when the machine was pinned under a name it was rebuilt as (see EnsureOptions.adoptFrom): that name, and why. */
  adopted?: { from: string; because: string };
  /** Set when `takeOver` replaced another pinning: what the host was pinned to before, and now. */
  takenOver?: { from: { controllerKey: string; host: string }; to: { controllerKey: string; host: string } };
}

/** How {@link ensureAgent} may change a host. */
export interface EnsureOptions {
  /** Upload the bundle even when the host has this one. */
  force?: boolean;
  /**
   * Replace a pinning to another controller key or another inventory name with
   * this controller's key and this name. The SSH login (host key checked
   * against known_hosts, the operator's credentials) is the authority.
   */
  takeOver?: boolean;
  /**
   * Inventory names this host's machine may be re-pinned from without
   * `takeOver`, each with why: machines the ledger records as rebuilt from
   * this host's snapshot (a whole restore of it succeeded there). Pinned to
   * this controller's key only.
   */
  adoptFrom?: Map<string, string>;
}

function otherKeyOf(pinnedKey: string | undefined, keys: ControllerKeys): boolean {
  return Boolean(pinnedKey) && pinnedKey !== keys.publicKey;
}

/** One line for a person: `pushed runtime deno 2.9.6 (x86_64-linux) to ~/.lifeboat/runtime/deno (41.2 MB in 1.3s)`. */
export function describePush(push: RuntimePush): string {
  const size = `${(push.bytesSent / 1e6).toFixed(1)} MB${push.compressed ? " gzip" : ""}`;
  return `pushed runtime deno ${push.version} (${push.target}) to ${push.path} (${size} in ${(push.durationMs / 1000).toFixed(1)}s)` + (push.replacing ? `, replacing it: ${push.replacing}` : "");
}

/**
 * Which runtime the agent would use on the host, in words, without changing
 * anything there (for a restore plan): `node v20.19.0 (/usr/bin/node)`, or
 * `push deno 2.9.6 (x86_64-linux)` with the bytes that push would send.
 * @throws LifeboatError("TOOL_MISSING") as {@link ensureAgent} would.
 */
export async function describeRuntime(conn: SshConnection, host: HostConfig): Promise<{ runtime: string; pushBytes?: number }> {
  const probe = await probeHost(conn, host);
  const choice = await chooseRuntime(host, probe, () => carriedDeno(probe));
  if ("use" in choice) return { runtime: `${runtimeLabel(choice.use)} (${choice.use.command})` };
  const bytes = probe.gzip ? fs.statSync(await compressedRuntime(choice.push)).size : choice.push.size;
  return { runtime: `push deno ${choice.push.version} (${choice.push.target}) to ${pushedRuntimePath(host)}`, pushBytes: bytes };
}

/**
 * Makes sure the host runs this controller's agent bundle with a runtime that
 * fits (pushing the controller's Deno when `runtime: auto` finds none; see
 * ./runtime-choice) and has this controller's public key pinned. Installs or upgrades when the bundle differs
 * (or `force`). Refuses a host pinned to another controller key, or to another
 * inventory name (never re-pinned silently) — unless `takeOver`, which re-pins
 * it to this key and this name and says what it replaced.
 */
export async function ensureAgent(conn: SshConnection, host: HostConfig, keys: ControllerKeys, options: boolean | EnsureOptions = false): Promise<AgentStatus> {
  const { force = false, takeOver = false, adoptFrom } = typeof options === "boolean" ? { force: options } : options;
  const bundle = agentBundle();
  const found = await probeHost(conn, host);
  const choice = await chooseRuntime(host, found, () => carriedDeno(found));
  const pinnedKey = found.pinned?.controllerKey;
  const pinnedHost = found.pinned?.host;
  const otherKey = otherKeyOf(pinnedKey, keys);
  const nameMismatch = Boolean(pinnedKey) && Boolean(pinnedHost) && pinnedHost !== host.name;
  // A machine rebuilt from this host's snapshot under another name becomes this host: the ledger says so, and the key is ours.
  const adopting = nameMismatch && !otherKeyOf(pinnedKey, keys) && adoptFrom?.has(pinnedHost!) === true;
  const otherName = nameMismatch && !adopting;
  if (otherKey && !takeOver) {
    throw new LifeboatError("KEYS", `Cannot install the agent on "${host.name}": the host is pinned to another controller's key`, {
      hint: `if this controller should take over the host (e.g. the old controller's signing key is lost), run: controller install --host ${host.name} --take-over  (it replaces ${host.agentDir}/pinned.json; or import the old controller's keys: controller keys import FILE)`,
    });
  }
  if (otherName && !takeOver) {
    // Re-pinning would let the host take the other name's jobs (and snapshots, and restores).
    throw new LifeboatError("KEYS", `Cannot use "${host.name}": the machine behind it is pinned as "${pinnedHost}"`, {
      hint: `two inventory names reach one machine; fix the inventory, or if it was renamed on purpose, run: controller install --host ${host.name} --take-over  (it re-pins ${host.agentDir}/pinned.json to this name)`,
    });
  }
  const takingOver = otherKey || otherName;
  const needsPin = !pinnedKey || takingOver || adopting;
  const needsBundle = force || found.bundleSha256 !== bundle.sha256;
  let pushed: RuntimePush | undefined;
  let runtime: AgentRuntime;
  if ("use" in choice) {
    runtime = choice.use;
  } else {
    pushed = await pushRuntime(conn, host, choice.push, found, choice.replacing);
    runtime = { command: pushed.path, kind: "deno", version: pushed.version, pushed: true };
  }
  const used = { runtime, runtimeVersion: runtimeLabel(runtime), ...(pushed ? { pushed } : {}) };
  if (!needsPin && !needsBundle) return { installed: false, ...used };

  if (needsBundle) {
    await conn.sftpPut(bundle.bytes, `${host.agentDir}/agent.mjs`, 0o700);
    await conn.sftpPut(Buffer.from(`${bundle.sha256}\n`), `${host.agentDir}/agent.sha256`, 0o600);
  }
  if (needsPin) {
    // The agent's replay journal (nonces/) holds only nonces, not keys: it stays valid across a take-over.
    const pinning = { host: host.name, controllerKey: keys.publicKey, pinnedAt: new Date().toISOString() };
    await conn.sftpPut(Buffer.from(`${JSON.stringify(pinning)}\n`), `${host.agentDir}/pinned.json`, 0o600);
  }
  const reason = !found.bundleSha256 ? "new install" : needsBundle ? "upgrade" : takingOver ? "taken over" : adopting ? "re-pinned" : "pinned";
  return {
    installed: true,
    reason,
    ...used,
    ...(adopting ? { adopted: { from: pinnedHost!, because: adoptFrom!.get(pinnedHost!)! } } : {}),
    ...(takingOver ? { takenOver: { from: { controllerKey: pinnedKey!, host: pinnedHost ?? "" }, to: { controllerKey: keys.publicKey, host: host.name } } } : {}),
  };
}
