/** @module The inventory model: what the loader produces from `inventory/*.yaml`. */
import type { DestinationSpec } from "../core/storage/destination";
import type { HostOperations, NotifierConfig } from "./operations";

/** How the controller reaches a host, fully resolved (inventory > ~/.ssh/config > defaults). */
export interface SshSettings {
  hostname: string;
  port: number;
  user: string;
  identityFiles: string[];
  knownHostsFiles: string[];
  useAgent: boolean;
  connectTimeoutMs: number;
  idleTimeoutMs: number;
}

/** One plugin instance of a host. */
export interface PluginInstance {
  /** The key in the host's `plugins` map; names the storage folder. */
  instance: string;
  /** The plugin that implements it (`plugin:` or the key itself). */
  plugin: string;
  /** The raw configuration, validated by the plugin's parseConfig. */
  config: unknown;
  /** Where it was configured, e.g. `hosts.aidset.plugins.files`. */
  where: string;
}

/** One host of the fleet. */
export interface HostConfig {
  name: string;
  ssh: SshSettings;
  /** Name of an entry in `destinations`. */
  destination: string;
  /**
   * That destination with the host's own credentials (`storage:` in the
   * inventory, e.g. an S3 key that may only write under the host's prefix),
   * used for its backups; absent when the host uses the destination's (the controller's).
   */
  ownStorage?: DestinationSpec;
  /** Where the agent lives on the host (`~` is the remote home). */
  agentDir: string;
  /**
   * The runtime that runs the agent: `auto` (default: Node.js >= 20 or Deno >= 2
   * from the host's PATH, else the Deno the controller carries, pushed there),
   * or a command or path that pins one (`node`, `/opt/deno/bin/deno`).
   */
  runtime: string;
  plugins: PluginInstance[];
  /** Schedule, freshness target, verification period and retention, defaults applied. */
  operations: HostOperations;
}

/** A destination as configured (the same shape the agent receives). */
export type DestinationConfig = DestinationSpec;

/** A loaded, validated inventory. */
export interface Inventory {
  file: string;
  hosts: Map<string, HostConfig>;
  groups: Map<string, string[]>;
  destinations: Map<string, DestinationConfig>;
  /** Extra age recipients added to every backup (e.g. an offline escrow key). */
  recipients: string[];
  /** Who hears about failures, stale hosts, failed verifications, expiring certificates and recoveries. */
  alerts: NotifierConfig[];
  /** Every value that must never be printed: credentials and `${ENV}`-interpolated values. */
  secrets(): string[];
}
