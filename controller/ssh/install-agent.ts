/** @module Installing and upgrading the agent on a host over SFTP, and pinning the controller key there. */
import { LifeboatError } from "../../core/errors";
import type { HostConfig } from "../../inventory/schema";
import { agentBundle } from "./agent-bundle";
import type { ControllerKeys } from "../keys";
import { remotePathWord, shellQuote } from "./remote-shell";
import type { SshConnection } from "./session";

const MIN_NODE_MAJOR = 20;
const MIN_DENO_MAJOR = 2;

/** What the host has now. */
interface HostProbe {
  bundleSha256: string;
  pinned?: { host?: string; controllerKey?: string };
  runtimeVersion: string;
}

/** What {@link ensureAgent} did. */
export interface AgentStatus {
  installed: boolean;
  reason?: string;
  runtimeVersion: string;
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
}

async function probe(conn: SshConnection, host: HostConfig): Promise<HostProbe> {
  const dir = remotePathWord(host.agentDir);
  const script = [
    `printf 'bundle=%s\\n' "$(cat ${dir}/agent.sha256 2>/dev/null)"`,
    `printf 'pinned=%s\\n' "$(tr -d '\\n' < ${dir}/pinned.json 2>/dev/null)"`,
    `printf 'runtime=%s\\n' "$(${shellQuote(host.runtime)} --version 2>/dev/null | head -n 1)"`,
  ].join("; ");
  const result = await conn.exec(script, {});
  const fields = new Map<string, string>();
  for (const line of result.stdout.split("\n")) {
    const eq = line.indexOf("=");
    if (eq > 0) fields.set(line.slice(0, eq), line.slice(eq + 1));
  }
  let pinned: HostProbe["pinned"];
  try {
    pinned = fields.get("pinned") ? (JSON.parse(fields.get("pinned")!) as HostProbe["pinned"]) : undefined;
  } catch {
    pinned = {};
  }
  return { bundleSha256: fields.get("bundle") ?? "", pinned, runtimeVersion: fields.get("runtime") ?? "" };
}

function checkRuntime(host: HostConfig, version: string): void {
  const isDeno = /(^|\/)deno$/.test(host.runtime);
  const match = isDeno ? /^deno (\d+)\./.exec(version) : /^v(\d+)\./.exec(version);
  const minimum = isDeno ? MIN_DENO_MAJOR : MIN_NODE_MAJOR;
  if (!match) {
    throw new LifeboatError("TOOL_MISSING", `Cannot run the agent on "${host.name}": runtime "${host.runtime}" was not found there`, {
      hint: `install Node.js >= ${MIN_NODE_MAJOR} (or Deno >= ${MIN_DENO_MAJOR}) on the host, or set runtime: /path/to/node in the inventory`,
    });
  }
  if (Number(match[1]) < minimum) {
    throw new LifeboatError("TOOL_MISSING", `Cannot run the agent on "${host.name}": ${host.runtime} is ${version}, the agent needs ${isDeno ? "Deno" : "Node.js"} >= ${minimum}`, {
      hint: "upgrade the runtime on the host, or set runtime: /path/to/a/newer/node in the inventory",
    });
  }
}

/**
 * Makes sure the host runs this controller's agent bundle and has this
 * controller's public key pinned. Installs or upgrades when the bundle differs
 * (or `force`). Refuses a host pinned to another controller key, or to another
 * inventory name (never re-pinned silently) — unless `takeOver`, which re-pins
 * it to this key and this name and says what it replaced.
 */
export async function ensureAgent(conn: SshConnection, host: HostConfig, keys: ControllerKeys, options: boolean | EnsureOptions = false): Promise<AgentStatus> {
  const { force = false, takeOver = false } = typeof options === "boolean" ? { force: options } : options;
  const bundle = agentBundle();
  const found = await probe(conn, host);
  checkRuntime(host, found.runtimeVersion);
  const pinnedKey = found.pinned?.controllerKey;
  const pinnedHost = found.pinned?.host;
  const otherKey = Boolean(pinnedKey) && pinnedKey !== keys.publicKey;
  const otherName = Boolean(pinnedKey) && Boolean(pinnedHost) && pinnedHost !== host.name;
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
  const needsPin = !pinnedKey || takingOver;
  const needsBundle = force || found.bundleSha256 !== bundle.sha256;
  if (!needsPin && !needsBundle) return { installed: false, runtimeVersion: found.runtimeVersion };

  if (needsBundle) {
    await conn.sftpPut(bundle.bytes, `${host.agentDir}/agent.mjs`, 0o700);
    await conn.sftpPut(Buffer.from(`${bundle.sha256}\n`), `${host.agentDir}/agent.sha256`, 0o600);
  }
  if (needsPin) {
    // The agent's replay journal (nonces/) holds only nonces, not keys: it stays valid across a take-over.
    const pinning = { host: host.name, controllerKey: keys.publicKey, pinnedAt: new Date().toISOString() };
    await conn.sftpPut(Buffer.from(`${JSON.stringify(pinning)}\n`), `${host.agentDir}/pinned.json`, 0o600);
  }
  const reason = !found.bundleSha256 ? "new install" : needsBundle ? "upgrade" : takingOver ? "taken over" : "pinned";
  return {
    installed: true,
    reason,
    runtimeVersion: found.runtimeVersion,
    ...(takingOver ? { takenOver: { from: { controllerKey: pinnedKey!, host: pinnedHost ?? "" }, to: { controllerKey: keys.publicKey, host: host.name } } } : {}),
  };
}
