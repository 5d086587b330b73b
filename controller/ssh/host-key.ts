/**
 * @module Strict host-key checking for one connection: the decision (trust,
 * record, refuse) and the operator-facing messages, plus the host-key
 * algorithm preference that makes a server offer the key type we already know.
 */
import * as crypto from "node:crypto";
import { LifeboatError, messageOf } from "../../core/errors";
import { addKnownHost, checkKnownHost, hostPattern, knownKeyTypes } from "./known-hosts";

/** What host-key checking needs to know about the connection. */
export interface HostKeyPolicy {
  /** The inventory name, for messages. */
  host: string;
  hostname: string;
  port: number;
  knownHostsFiles: string[];
  acceptNewHostKey: boolean;
}

/**
 * The key type of an SSH public key blob: its first length-prefixed string.
 * @throws Error when the blob is too short to hold one.
 */
export function keyTypeOf(blob: Buffer): string {
  if (blob.length < 4 || blob.readUInt32BE(0) > blob.length - 4) throw new Error("malformed SSH public key blob");
  return blob.subarray(4, 4 + blob.readUInt32BE(0)).toString("latin1");
}

/** The key's fingerprint as `ssh-keygen -l` prints it: `SHA256:<unpadded base64>`. */
export function fingerprintOf(blob: Buffer): string {
  return `SHA256:${crypto.createHash("sha256").update(blob).digest("base64").replace(/=+$/, "")}`;
}

/**
 * Checks the key `blob` offered by the host against its known_hosts files.
 * Returns `undefined` when the key is trusted (known, or new and recorded
 * because `acceptNewHostKey` is set), otherwise the error to refuse with:
 * unknown key, CHANGED key (never accepted) or `@revoked` key, each naming the
 * host and the offered fingerprint. Never throws.
 */
export function checkHostKey(policy: HostKeyPolicy, blob: Buffer): LifeboatError | undefined {
  const refuse = (details: string, hint: string, cause?: unknown) =>
    new LifeboatError("HOST_KEY", `Cannot connect to "${policy.host}": ${details}`, { hint, ...(cause === undefined ? {} : { cause }) });
  const knownHosts = policy.knownHostsFiles[0];
  const name = hostPattern(policy.hostname, policy.port);
  let keyType: string;
  try {
    keyType = keyTypeOf(blob);
  } catch (err) {
    return refuse("its SSH host key could not be read", "check that the port belongs to an SSH server", err);
  }
  const offered = `${keyType} ${fingerprintOf(blob)}`;
  const keyBase64 = blob.toString("base64");
  let result: ReturnType<typeof checkKnownHost>;
  try {
    result = checkKnownHost(policy.knownHostsFiles, policy.hostname, policy.port, keyType, keyBase64);
  } catch (err) {
    return refuse(`its known_hosts files could not be read (${messageOf(err)})`, "check the permissions of the known_hosts files", err);
  }
  switch (result.status) {
    case "match":
      return undefined;
    case "unknown": {
      if (!knownHosts) {
        return refuse(`its SSH host key is not known (${offered}) and no known_hosts file is configured`, "set ssh.knownHostsFile in the inventory (or UserKnownHostsFile in ~/.ssh/config)");
      }
      if (!policy.acceptNewHostKey) {
        return refuse(
          `its SSH host key is not known (${offered})`,
          `verify the fingerprint on the host (ssh-keygen -lf /etc/ssh/ssh_host_${keyType.replace(/^ssh-/, "").replace(/-.*$/, "")}_key.pub), then rerun with --accept-new-host-key, or add it with ssh-keyscan to ${knownHosts} (ssh-keyscan -p ${policy.port} ${policy.hostname} >> ${knownHosts})`,
        );
      }
      try {
        addKnownHost(knownHosts, policy.hostname, policy.port, keyType, keyBase64);
        return undefined;
      } catch (err) {
        return refuse(`its new SSH host key (${offered}) could not be recorded in ${knownHosts}: ${messageOf(err)}`, `check that ${knownHosts} and its directory are writable`, err);
      }
    }
    case "mismatch":
      return refuse(
        `its SSH host key CHANGED: it now offers ${offered}, but ${result.file}:${result.line} records a different ${result.keyType} key`,
        `someone may be intercepting the connection (man-in-the-middle). If the host was reinstalled, verify the new fingerprint on it, then remove the old line: ssh-keygen -R '${name}' -f ${result.file}`,
      );
    case "revoked":
      return refuse(`its SSH host key (${offered}) is marked @revoked at ${result.file}:${result.line}`, "the host must be given a new host key; a revoked key is never accepted");
  }
}

/** Host-key algorithms (as ssh2 names them) that carry a key of each known_hosts key type. */
const ALGORITHMS_BY_KEY_TYPE: Record<string, string[]> = {
  "ssh-ed25519": ["ssh-ed25519"],
  "ecdsa-sha2-nistp256": ["ecdsa-sha2-nistp256"],
  "ecdsa-sha2-nistp384": ["ecdsa-sha2-nistp384"],
  "ecdsa-sha2-nistp521": ["ecdsa-sha2-nistp521"],
  "ssh-rsa": ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"],
};

/**
 * The host-key algorithms to ask for first: those of the key types already
 * recorded for the host, so that (like OpenSSH) a host with several keys shows
 * the one we know instead of looking "changed". Empty when nothing is known.
 */
export function preferredHostKeyAlgorithms(policy: HostKeyPolicy): string[] {
  let types: string[];
  try {
    types = knownKeyTypes(policy.knownHostsFiles, policy.hostname, policy.port);
  } catch {
    return []; // checkHostKey reports the unreadable file
  }
  return types.flatMap((t) => ALGORITHMS_BY_KEY_TYPE[t] ?? []);
}
