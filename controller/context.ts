/** @module What a controller command works with: inventory, keys, ledger, and the secrets to keep out of output. */
import * as fs from "node:fs";
import { LifeboatError } from "../core/errors";
import type { DestinationSpec } from "../core/storage/destination";
import { presignedFor } from "../core/storage/destinations/registry";
import { loadInventory } from "../inventory/load";
import type { HostConfig, Inventory } from "../inventory/schema";
import { validatePluginConfig } from "../plugins/registry";
import type { GlobalOptions } from "./cli-args";
import { loadKeys, statePaths, type ControllerKeys } from "./keys";
import { HostKeys } from "./host-keys";
import { Ledger } from "./ledger/ledger";
import { currentPlatform } from "../platform/current";

/**
 * Opens the ledger of state directory `state`, with the runs of controllers
 * that died marked failed, as every fleet command sees them.
 * @throws LifeboatError("KEYS") when there is no ledger, naming `controller init`
 */
export function openLedger(state: string): Ledger {
  const ledgerPath = statePaths(state).ledger;
  if (!fs.existsSync(ledgerPath)) {
    throw new LifeboatError("KEYS", `Cannot open the ledger "${ledgerPath}": it does not exist`, { hint: `run: controller init --state ${state}` });
  }
  const ledger = Ledger.open(ledgerPath);
  ledger.failAbandonedRuns((pid) => currentPlatform().processAlive(pid));
  return ledger;
}

/** Loads the inventory, validating each plugin's configuration with the plugin itself. */
export function loadFleet(file: string): Inventory {
  return loadInventory(file, {
    env: process.env,
    validatePlugin: validatePluginConfig,
  });
}

/** An opened controller: inventory, keys and ledger. Close it when done. */
export class ControllerContext {
  /** One age key per host (and the blob area's), in the state directory. */
  readonly hostKeys: HostKeys;

  private constructor(
    readonly inventory: Inventory,
    readonly keys: ControllerKeys,
    readonly ledger: Ledger,
    stateDir: string,
  ) {
    this.hostKeys = new HostKeys(stateDir);
  }

  /** Opens everything a fleet command needs. @throws LifeboatError(CONFIG|KEYS) */
  static async open(globals: GlobalOptions): Promise<ControllerContext> {
    const inventory = loadFleet(globals.inventory);
    const keys = await loadKeys(globals.state);
    return new ControllerContext(inventory, keys, openLedger(globals.state), globals.state);
  }

  /** Secrets from the inventory (credentials, interpolated values) plus the age identity. */
  get secrets(): string[] {
    return [...this.inventory.secrets(), this.keys.ageIdentity, this.keys.blobKey];
  }

  /** The inventory host `name`. @throws LifeboatError("USAGE") naming close matches. */
  host(name: string): HostConfig {
    const host = this.inventory.hosts.get(name);
    if (!host) {
      const known = [...this.inventory.hosts.keys()];
      throw new LifeboatError("USAGE", `Cannot find host "${name}" in the inventory "${this.inventory.file}"`, {
        hint: known.length ? `known hosts: ${known.join(", ")}` : "the inventory has no hosts yet",
      });
    }
    return host;
  }

  /** The destination called `name`, as the agent receives it (with credentials). */
  destinationSpec(name: string): DestinationSpec {
    const destination = this.inventory.destinations.get(name);
    if (!destination) throw new LifeboatError("CONFIG", `Cannot find destination "${name}" in the inventory "${this.inventory.file}"`);
    return destination;
  }

  /** The destination a host backs up to, with the host's own credentials when the inventory gives it some. */
  destinationFor(host: HostConfig): DestinationSpec {
    return host.ownStorage ?? this.destinationSpec(host.destination);
  }

  /**
   * What a restore or verify job reads `keys` of destination `name` through:
   * download links for exactly those objects, expiring, when the type issues
   * them (s3); else the destination itself (local, rclone: see docs/security.md).
   */
  async readAccessFor(name: string, keys: string[]): Promise<DestinationSpec> {
    const destination = this.destinationSpec(name);
    return (await presignedFor(destination, keys)) ?? destination;
  }

  close(): void {
    this.ledger.close();
  }
}
