/** @module `controller hosts`: the fleet as the inventory describes it, with each host's last good snapshot. */
import * as fs from "node:fs";
import { parseCommandArgs } from "../cli-args";
import { loadFleet } from "../context";
import { statePaths } from "../keys";
import { Ledger } from "../ledger/ledger";
import { formatAge, formatDuration } from "../output/format";
import { table } from "../output/table";
import { takesHostCredentials } from "../../core/storage/destinations/registry";
import { emit, type Command } from "./command";

const usage = `usage: controller hosts [--json]
Lists the inventory's hosts: SSH target, destination, plugins, the last complete snapshot, and the
last verification (controller verify) with its result, and the measured recovery time: how long the
newest real restore or restore drill of its snapshots took, from command to last check. For an s3 destination, DESTINATION says whether
the host backs up with its own key (hosts.H.storage, scoped to its prefix) or the controller's (which
reaches every host's objects: see docs/security.md#storage-access-per-host).`;

export const hostsCommand: Command = {
  name: "hosts",
  summary: "list the inventory's hosts, their last good snapshot and last verification",
  usage,
  async run(argv) {
    const { globals } = parseCommandArgs(argv, {}, usage);
    const inventory = loadFleet(globals.inventory);
    const ledgerPath = statePaths(globals.state).ledger;
    const ledger = fs.existsSync(ledgerPath) ? Ledger.open(ledgerPath) : undefined;
    try {
      const last = new Map((ledger?.lastGoodSnapshots() ?? []).map((s) => [s.host, s]));
      const verified = new Map((ledger?.lastVerifications() ?? []).map((v) => [v.host, v]));
      const hosts = [...inventory.hosts.values()].map((h) => ({
        name: h.name,
        ssh: `${h.ssh.user}@${h.ssh.hostname}:${h.ssh.port}`,
        destination: h.destination,
        /** `own`: the host backs up with its own (scoped) credentials; `controller`: with the destination's; null: the type has none per host. */
        storageKey: takesHostCredentials(inventory.destinations.get(h.destination)!) ? (h.ownStorage ? "own" : "controller") : null,
        plugins: h.plugins.map((p) => (p.instance === p.plugin ? p.plugin : `${p.instance}(${p.plugin})`)),
        groups: [...inventory.groups].filter(([, members]) => members.includes(h.name)).map(([g]) => g),
        lastSnapshot: last.get(h.name) ?? null,
        lastVerification: verified.get(h.name) ?? null,
        /** The newest measured restore of the host's snapshots (a drill or a real restore, possibly onto another host): its recovery time. */
        lastRestore: ledger?.operations.newestRestoreTime(h.name) ?? null,
      }));
      emit(
        globals,
        () =>
          table(
            ["HOST", "SSH", "DESTINATION", "PLUGINS", "LAST GOOD SNAPSHOT", "LAST VERIFIED", "RECOVERY TIME"],
            hosts.map((h) => [
              h.name,
              h.ssh,
              h.storageKey === "controller" ? `${h.destination} (controller's key)` : h.storageKey === "own" ? `${h.destination} (own key)` : h.destination,
              h.plugins.join(",") || "-",
              h.lastSnapshot?.finishedAt ? `${h.lastSnapshot.snapshotId} (${formatAge(h.lastSnapshot.finishedAt)})` : "never",
              h.lastVerification ? `${h.lastVerification.result === "ok" ? "ok" : "FAILED"} ${h.lastVerification.snapshotId} (${formatAge(h.lastVerification.time)})` : "never",
              h.lastRestore ? `${formatDuration(h.lastRestore.durationMs)} ${h.lastRestore.kind}${h.lastRestore.onHost === h.name ? "" : ` on ${h.lastRestore.onHost}`} (${formatAge(h.lastRestore.time)})` : "never measured",
            ]),
          ),
        () => ({ type: "hosts", hosts }),
      );
      return 0;
    } finally {
      ledger?.close();
    }
  },
};
