/**
 * @module A small fleet on loopback for end-to-end tests and the demo: simulated
 * hosts (each its own sshd, user, home and host key), an S3 server (s3rver), an
 * SFTP "vault" host as rclone remote, a controller state directory and inventory.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { controller, type CliResult } from "./controller-cli";
import { startS3Server, type S3Server } from "./s3-server";
import { startSimulatedHost, type SimulatedHost, type SimulatedHostOptions } from "./sshd";
import { denoForHosts, testRuntime } from "./test-runtime";

/** A running fleet; `stop()` ends every process and removes every file. */
export interface Fleet {
  dir: string;
  state: string;
  inventory: string;
  knownHosts: string;
  hosts: Record<string, SimulatedHost>;
  vault: SimulatedHost;
  s3: S3Server;
  /** Where the rclone remote keeps objects on the vault host. */
  vaultStore: string;
  /** Environment for controller runs (state, inventory, credentials). */
  env: Record<string, string>;
  /** Runs the real controller CLI against this fleet. */
  controller(args: string[]): Promise<CliResult>;
  /** Rewrites the inventory from the given host → destination map and extra YAML for hosts. */
  writeInventory(hosts: Record<string, HostEntry>, options?: InventoryOptions): void;
  stop(): Promise<void>;
}

/** One host's inventory entry in a test fleet. */
export interface HostEntry {
  destination: "s3" | "sftp" | "local";
  /** YAML lines for `plugins:` (already indented by the caller as a mapping). */
  plugins: Record<string, unknown>;
  /** Presets (e.g. openwebui) for the host. */
  presets?: Record<string, unknown>;
  /** Connect to this host instead of its simulated one (e.g. an unreachable port). */
  sshOverride?: { host: string; port: number; user: string };
  /**
   * The agent's runtime on the host. Default: `auto` (the node on the session's
   * PATH); with LIFEBOAT_TEST_RUNTIME=deno, the Deno binary pinned (bare hosts: `auto`).
   */
  runtime?: string;
  /** The host's own storage settings (`storage:`, e.g. its scoped accessKeyId/secretAccessKey; values may be `${ENV}`). */
  storage?: Record<string, string>;
}

/** Settings of the whole test inventory beyond the hosts. */
export interface InventoryOptions {
  /** Extra fields of the `s3` destination, e.g. `{ partSizeMiB: 5 }` or `{ linkExpiry: "90m" }`. */
  s3?: Record<string, unknown>;
  /** Extra fields of `defaults`, e.g. `{ maxAge: "2s", verifyEvery: "1h" }`. */
  defaults?: Record<string, unknown>;
}

/**
 * Starts `names` simulated hosts plus the vault and S3; knows every host key
 * unless `trustHostKeys` is false. `hosts` gives some of them options, e.g.
 * `{ "new-vps": { bare: true } }` for a host with no runtime.
 */
export async function startFleet(names: string[], options: { trustHostKeys?: boolean; hosts?: Record<string, SimulatedHostOptions> } = {}): Promise<Fleet> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lifeboat-fleet-"));
  fs.chmodSync(dir, 0o755);
  const started: SimulatedHost[] = [];
  let s3: S3Server | undefined;
  try {
    for (const name of names) started.push(await startSimulatedHost(name, options.hosts?.[name]));
    const vault = await startSimulatedHost("vault");
    started.push(vault);
    s3 = await startS3Server();
    const hosts = Object.fromEntries(names.map((n, i) => [n, started[i]!]));
    const knownHosts = path.join(dir, "known_hosts");
    fs.writeFileSync(knownHosts, options.trustHostKeys === false ? "" : `${started.map((h) => h.knownHostsLine).join("\n")}\n`, { mode: 0o600 });
    // rclone (run by the agents as the hosts' users) checks the vault's host key against this file.
    const vaultKnownHosts = path.join(dir, "vault_known_hosts");
    fs.writeFileSync(vaultKnownHosts, `${vault.knownHostsLine}\n`, { mode: 0o644 });
    const vaultStore = path.join(vault.home, "store");
    // The local destination is shared by the simulated hosts' users, like /tmp.
    fs.mkdirSync(path.join(dir, "local-store"), { mode: 0o1777 });
    fs.chmodSync(path.join(dir, "local-store"), 0o1777);
    const state = path.join(dir, "state");
    const inventory = path.join(dir, "fleet.yaml");
    const env = {
      LIFEBOAT_STATE: state,
      LIFEBOAT_INVENTORY: inventory,
      TEST_S3_KEY: s3.accessKeyId,
      TEST_S3_SECRET: s3.secretAccessKey,
      TEST_VAULT_KEY: fs.readFileSync(vault.clientKeyPath, "utf8").trim().split("\n").join("\\n"),
    };
    const fleetS3 = s3;
    const fleet: Fleet = {
      dir,
      state,
      inventory,
      knownHosts,
      hosts,
      vault,
      s3: fleetS3,
      vaultStore,
      env,
      controller: (args) => controller(args, env),
      writeInventory(entries, options = {}) {
        fs.writeFileSync(inventory, inventoryYaml(fleet, entries, vaultKnownHosts, options));
      },
      async stop() {
        await Promise.allSettled([...started.map((h) => h.stop()), fleetS3.stop()]);
        fs.rmSync(dir, { recursive: true, force: true });
      },
    };
    return fleet;
  } catch (err) {
    await Promise.allSettled([...started.map((h) => h.stop()), s3?.stop()]);
    fs.rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

function inventoryYaml(fleet: Fleet, entries: Record<string, HostEntry>, vaultKnownHosts: string, options: InventoryOptions): string {
  const hosts: Record<string, unknown> = {};
  for (const [name, entry] of Object.entries(entries)) {
    const sim = fleet.hosts[name];
    const ssh = entry.sshOverride ?? { host: sim!.hostname, port: sim!.port, user: sim!.user };
    hosts[name] = {
      ssh: { ...ssh, identityFile: (sim ?? Object.values(fleet.hosts)[0]!).clientKeyPath },
      destination: entry.destination,
      plugins: entry.plugins,
      ...(entry.presets ? { presets: entry.presets } : {}),
      ...(entry.runtime ? { runtime: entry.runtime } : testRuntime() === "deno" && sim && !sim.bare ? { runtime: denoForHosts() } : {}),
      ...(entry.storage ? { storage: entry.storage } : {}),
    };
  }
  const doc = {
    defaults: { ssh: { knownHostsFile: fleet.knownHosts, connectTimeout: "10s", useAgent: false }, ...options.defaults },
    destinations: {
      s3: {
        type: "s3",
        endpoint: fleet.s3.endpoint,
        region: fleet.s3.region,
        bucket: fleet.s3.bucket,
        prefix: "fleet",
        accessKeyId: "${TEST_S3_KEY}",
        secretAccessKey: "${TEST_S3_SECRET}",
        ...options.s3,
      },
      sftp: {
        type: "rclone",
        remote: `vault:${fleet.vaultStore}`,
        env: {
          RCLONE_CONFIG_VAULT_TYPE: "sftp",
          RCLONE_CONFIG_VAULT_HOST: fleet.vault.hostname,
          RCLONE_CONFIG_VAULT_PORT: String(fleet.vault.port),
          RCLONE_CONFIG_VAULT_USER: fleet.vault.user,
          RCLONE_CONFIG_VAULT_KEY_PEM: "${TEST_VAULT_KEY}",
          RCLONE_CONFIG_VAULT_KNOWN_HOSTS_FILE: vaultKnownHosts,
        },
      },
      local: { type: "local", path: path.join(fleet.dir, "local-store") },
    },
    hosts,
  };
  return `# written by test/harness/fleet.ts\n${JSON.stringify(doc, null, 2)}\n`;
}
