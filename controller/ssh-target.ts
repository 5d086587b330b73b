/** @module From an inventory host to an SSH connection target. */
import type { HostConfig } from "../inventory/schema";
import type { SshTarget } from "./ssh/connect";

/** The SSH target for `host`; `acceptNewHostKey` is the run's explicit opt-in. */
export function sshTargetFor(host: HostConfig, acceptNewHostKey: boolean): SshTarget {
  return {
    host: host.name,
    hostname: host.ssh.hostname,
    port: host.ssh.port,
    user: host.ssh.user,
    identityFiles: host.ssh.identityFiles,
    knownHostsFiles: host.ssh.knownHostsFiles,
    useAgent: host.ssh.useAgent,
    connectTimeoutMs: host.ssh.connectTimeoutMs,
    idleTimeoutMs: host.ssh.idleTimeoutMs,
    acceptNewHostKey,
  };
}
