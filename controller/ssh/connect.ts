/** @module Opening SSH connections with ssh2: strict host-key checking, identity files and ssh-agent, timeouts; every error names the host. */
import * as fs from "node:fs";
import ssh2, { type AuthenticationType, type ConnectConfig } from "ssh2";
import { LifeboatError, messageOf } from "../../agent/errors";
import type { SshSettings } from "../../inventory/schema";
import { addKnownHost, checkKnownHost, fingerprint, hostPattern, keyTypeOf } from "./known-hosts";
import { SshConnection } from "./session";

/** Where and how to connect: a host's resolved SSH settings plus who it is and whether a new key may be recorded. */
export interface SshTarget extends SshSettings {
  /** The inventory name, used in every message. */
  host: string;
  /** Record an unknown host key instead of refusing it (never a changed one). */
  acceptNewHostKey: boolean;
}

const { Client, utils } = ssh2;

type AuthMethod = { type: "agent"; username: string; agent: string } | { type: "publickey"; username: string; key: ReturnType<typeof utils.parseKey> };

function authMethods(target: SshTarget): { methods: AuthMethod[]; tried: string[] } {
  const methods: AuthMethod[] = [];
  const tried: string[] = [];
  const sock = process.env.SSH_AUTH_SOCK;
  if (target.useAgent && sock) {
    methods.push({ type: "agent", username: target.user, agent: sock });
    tried.push("ssh-agent");
  }
  for (const file of target.identityFiles) {
    if (!fs.existsSync(file)) continue;
    const key = utils.parseKey(fs.readFileSync(file));
    if (key instanceof Error) {
      const encrypted = /encrypted|passphrase/i.test(key.message);
      throw new LifeboatError("SSH", `Cannot use identity file "${file}" for "${target.host}": ${encrypted ? "it is protected by a passphrase" : key.message}`, {
        hint: encrypted ? `load it into ssh-agent (ssh-add ${file}) and keep useAgent on` : "check that the file is an OpenSSH private key",
      });
    }
    methods.push({ type: "publickey", username: target.user, key });
    tried.push(file);
  }
  return { methods, tried };
}

function describeFailure(target: SshTarget, err: Error & { code?: string; level?: string }, tried: string[]): LifeboatError {
  const where = `${target.user}@${target.hostname}:${target.port}`;
  const base = `Cannot connect to "${target.host}" (${where})`;
  if (err.level === "client-authentication") {
    return new LifeboatError("SSH", `${base}: authentication failed (tried ${tried.join(", ") || "nothing"})`, {
      hint: `check the user and that one of these keys is in ~${target.user}/.ssh/authorized_keys on the host`,
    });
  }
  if (err.level === "client-timeout" || err.code === "ETIMEDOUT") {
    return new LifeboatError("SSH", `${base}: timed out after ${Math.round(target.connectTimeoutMs / 1000)}s`, { hint: "check that the host is up and its SSH port is reachable; raise ssh.connectTimeout if the link is slow" });
  }
  if (err.code === "ECONNREFUSED") return new LifeboatError("SSH", `${base}: connection refused`, { hint: "is sshd running on the host, and is the port right?" });
  if (err.code === "ENOTFOUND" || err.code === "EAI_AGAIN") return new LifeboatError("SSH", `${base}: the name "${target.hostname}" does not resolve`, { hint: "fix ssh.host in the inventory or HostName in ~/.ssh/config" });
  if (err.code === "EHOSTUNREACH" || err.code === "ENETUNREACH") return new LifeboatError("SSH", `${base}: host unreachable`, { hint: "check the network path to the host" });
  return new LifeboatError("SSH", `${base}: ${messageOf(err)}`);
}

/**
 * Connects and authenticates. Refuses unknown host keys (unless
 * `acceptNewHostKey`, which records them) and always refuses changed ones.
 * @throws LifeboatError("HOST_KEY" | "SSH") naming the inventory host.
 */
export function connectSsh(target: SshTarget): Promise<SshConnection> {
  const { methods, tried } = authMethods(target);
  if (methods.length === 0) {
    return Promise.reject(
      new LifeboatError("SSH", `Cannot connect to "${target.host}": no SSH identity available (no readable identity file${target.useAgent ? " and no SSH_AUTH_SOCK" : ""})`, {
        hint: "set ssh.identityFile in the inventory, or start ssh-agent and add a key",
      }),
    );
  }
  return new Promise((resolve, reject) => {
    const client = new Client();
    let hostKeyProblem: LifeboatError | undefined;
    let settled = false;
    const verify = (blob: Buffer): boolean => {
      const result = checkKnownHost(target.knownHostsFiles, target.hostname, target.port, blob);
      const print = `${keyTypeOf(blob)} ${fingerprint(blob)}`;
      if (result.status === "match") return true;
      if (result.status === "unknown") {
        if (target.acceptNewHostKey) {
          addKnownHost(target.knownHostsFiles[0]!, target.hostname, target.port, blob);
          return true;
        }
        hostKeyProblem = new LifeboatError("HOST_KEY", `Cannot connect to "${target.host}": its SSH host key is not known (${print})`, {
          hint: `verify the fingerprint on the host (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub), then rerun with --accept-new-host-key, or add it to ${target.knownHostsFiles[0]} (ssh-keyscan -p ${target.port} ${target.hostname})`,
        });
        return false;
      }
      const at = `${result.file}:${result.line}`;
      hostKeyProblem =
        result.status === "revoked"
          ? new LifeboatError("HOST_KEY", `Cannot connect to "${target.host}": its SSH host key (${print}) is marked @revoked at ${at}`)
          : new LifeboatError("HOST_KEY", `Cannot connect to "${target.host}": its SSH host key CHANGED — it now offers ${print}, but ${at} records a different key`, {
              hint: `this may be a man-in-the-middle attack; if the host was reinstalled, verify the new fingerprint and remove the old entry: ssh-keygen -R '${hostPattern(target.hostname, target.port)}' -f ${result.file}`,
            });
      return false;
    };
    client.on("ready", () => {
      settled = true;
      resolve(new SshConnection(client, target.host));
    });
    client.on("error", (err: Error & { code?: string; level?: string }) => {
      if (settled) return;
      settled = true;
      client.end();
      reject(hostKeyProblem ?? describeFailure(target, err, tried));
    });
    client.on("close", () => {
      if (settled) return;
      settled = true;
      reject(hostKeyProblem ?? new LifeboatError("SSH", `Cannot connect to "${target.host}": the connection closed during the handshake`));
    });
    const config: ConnectConfig = {
      host: target.hostname,
      port: target.port,
      username: target.user,
      readyTimeout: target.connectTimeoutMs,
      keepaliveInterval: Math.max(1000, Math.floor(target.idleTimeoutMs / 3)),
      keepaliveCountMax: 3,
      hostVerifier: verify,
      authHandler: methods as unknown as AuthenticationType[],
    };
    client.connect(config);
  });
}
