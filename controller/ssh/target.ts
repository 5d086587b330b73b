/** @module From an inventory host to an SSH connection target. */
import type { HostConfig } from "../../inventory/schema";
import type { SshTarget } from "./connect";

/** The SSH target for `host`; `acceptNewHostKey` is the run's explicit opt-in. */
export function sshTargetFor(host: HostConfig, acceptNewHostKey: boolean): SshTarget {
  return { ...host.ssh, host: host.name, acceptNewHostKey };
}
