/**
 * @module Opening SSH connections with ssh2: strict host-key checking against
 * known_hosts, identity files and ssh-agent, connect and idle timeouts. Every
 * failure is a LifeboatError ("SSH" or "HOST_KEY") that names the inventory host.
 */
import ssh2, { type ConnectConfig, type ServerHostKeyAlgorithm } from "ssh2";
import { LifeboatError, messageOf } from "../../core/errors";
import { planAuthentication, type AuthPlan } from "./auth";
import { checkHostKey, preferredHostKeyAlgorithms } from "./host-key";
import type { SshSettings } from "../../inventory/schema";
import { SshConnection } from "./session";

/** Where and how to connect: a host's resolved SSH settings (see inventory/schema.ts), who it is, and whether a new key may be recorded. */
export interface SshTarget extends SshSettings {
  /** The inventory name, used in every message. */
  host: string;
  /** Record an unknown host key instead of refusing it (a changed key is refused regardless). */
  acceptNewHostKey: boolean;
}

/** Unanswered keepalives before the connection counts as dead; with the interval below this spans `idleTimeoutMs`. */
const KEEPALIVE_COUNT_MAX = 3;

function keepaliveIntervalMs(idleTimeoutMs: number): number {
  return Math.max(100, Math.floor(idleTimeoutMs / (KEEPALIVE_COUNT_MAX + 1)));
}

/** `12s`, or `800 ms` below a second. */
function humanDuration(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${Math.round(ms / 1000)}s`;
}

type Ssh2Error = Error & { code?: string; level?: string };

function describeFailure(target: SshTarget, err: Ssh2Error, auth: AuthPlan): LifeboatError {
  const base = `Cannot connect to "${target.host}" (${target.user}@${target.hostname}:${target.port})`;
  const fail = (details: string, hint: string) => new LifeboatError("SSH", `${base}: ${details}`, { hint, cause: err });
  if (err.level === "client-authentication") {
    return fail(`authentication failed (${auth.describe()})`, `check ssh.user, and that one of these keys is in ~${target.user}/.ssh/authorized_keys on the host`);
  }
  if (err.level === "client-timeout" || err.code === "ETIMEDOUT") {
    return fail(`timed out after ${humanDuration(target.connectTimeoutMs)}`, "check that the host is up and its SSH port is reachable (firewall?); raise ssh.connectTimeout if the link is slow");
  }
  switch (err.code) {
    case "ECONNREFUSED":
      return fail("connection refused", "check that sshd is running on the host and that ssh.port is right");
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return fail(`the name "${target.hostname}" does not resolve (${err.code})`, "fix ssh.host in the inventory or HostName in ~/.ssh/config, or check DNS");
    case "EHOSTUNREACH":
    case "ENETUNREACH":
      return fail(`the host is unreachable (${err.code})`, "check the network route to the host");
    case "ECONNRESET":
      return fail("the connection was reset during the SSH handshake", "check the host's sshd log (MaxStartups, firewall, fail2ban)");
  }
  if (err.level === "handshake" || err.level === "protocol") {
    return fail(`the SSH handshake failed: ${messageOf(err)}`, "check that the port belongs to an OpenSSH server with current algorithms");
  }
  return fail(messageOf(err), "check the host's sshd log");
}

/**
 * Connects and authenticates to `target`. Unknown host keys are refused unless
 * `acceptNewHostKey` (then recorded in the first known_hosts file); changed or
 * revoked keys are always refused. Keepalives detect a connection that dies
 * while idle (after about `idleTimeoutMs`).
 * @throws LifeboatError "HOST_KEY" for host-key problems, "SSH" for everything
 *   else (refused, timeout, DNS, authentication, ...); messages name `target.host`.
 */
export function connectSsh(target: SshTarget): Promise<SshConnection> {
  let auth: AuthPlan;
  try {
    auth = planAuthentication(target);
  } catch (err) {
    return Promise.reject(err);
  }
  return new Promise((resolve, reject) => {
    const client = new ssh2.Client();
    let hostKeyProblem: LifeboatError | undefined;
    let settled = false;
    const fail = (err: LifeboatError) => {
      if (settled) return;
      settled = true;
      client.end();
      reject(err);
    };
    client.on("ready", () => {
      if (settled) return;
      settled = true;
      resolve(new SshConnection(client, target.host));
    });
    client.on("error", (err: Ssh2Error) => {
      // ssh2 reports a failing agent and goes on with the next method.
      if (err.level === "agent") return auth.noteAgentError(err);
      fail(hostKeyProblem ?? describeFailure(target, err, auth));
    });
    client.on("close", () => {
      fail(hostKeyProblem ?? new LifeboatError("SSH", `Cannot connect to "${target.host}": the connection closed during the SSH handshake`, { hint: "check the host's sshd log" }));
    });
    const preferred = preferredHostKeyAlgorithms(target) as ServerHostKeyAlgorithm[];
    const config: ConnectConfig = {
      host: target.hostname,
      port: target.port,
      username: target.user,
      readyTimeout: target.connectTimeoutMs,
      keepaliveInterval: keepaliveIntervalMs(target.idleTimeoutMs),
      keepaliveCountMax: KEEPALIVE_COUNT_MAX,
      hostVerifier: (blob: Buffer) => {
        hostKeyProblem = checkHostKey(target, blob);
        return hostKeyProblem === undefined;
      },
      authHandler: auth.handler,
      ...(preferred.length ? { algorithms: { serverHostKey: { remove: preferred, prepend: preferred, append: [] } } } : {}),
    };
    try {
      client.connect(config);
    } catch (err) {
      fail(new LifeboatError("SSH", `Cannot connect to "${target.host}": ${messageOf(err)}`, { cause: err }));
    }
  });
}
