/** @module `controller run`: back up one host, a group, or the whole fleet. */
import { LifeboatError } from "../../core/errors";
import { selectHosts } from "../../inventory/resolve";
import { hostOptions, hostSelection, listOption, parseCommandArgs } from "../cli-args";
import { ControllerContext } from "../context";
import { EXIT_JOB_FAILED, EXIT_OK } from "../exit-codes";
import { hostsToBackUp, runFleetBackup } from "../jobs/fleet-backup";
import { formatBytes } from "../output/format";
import { reporterFor, type Command } from "./command";

const usage = `usage: controller run (--host H[,H2] | --group G | --all) [--plugins p,q] [--concurrency N] [--rehash] [--accept-new-host-key] [--json]
Backs up the selected hosts concurrently: each agent streams its data, compressed and
age-encrypted, straight to the host's destination; the ledger records every snapshot.
--rehash reads every file again, even one whose metadata says it did not change
(each host's backups do so by themselves every rehashEvery, default 30d).
Exit code: 0 every host complete, 1 some host failed, 2 usage or configuration error.`;

export const runCommand: Command = {
  name: "run",
  summary: "back up hosts now (--host H | --group G | --all), with live progress",
  usage,
  async run(argv) {
    const { globals, values } = parseCommandArgs(
      argv,
      {
        ...hostOptions,
        plugins: { type: "string", multiple: true },
        concurrency: { type: "string" },
        rehash: { type: "boolean" },
      },
      usage,
    );
    const concurrency = Number(values.concurrency ?? 8);
    if (!Number.isInteger(concurrency) || concurrency < 1) throw new LifeboatError("USAGE", `--concurrency: expected a whole number >= 1, got "${values.concurrency}"`);
    const ctx = await ControllerContext.open(globals);
    try {
      const selection = hostSelection(values);
      const plugins = listOption(values.plugins);
      const { run: hosts, skipped } = hostsToBackUp(selectHosts(ctx.inventory, selection), plugins, selection.host !== undefined);
      if (skipped.length > 0) process.stderr.write(`controller run: skipping ${skipped.map((h) => h.name).join(", ")}: ${plugins ? "no plugin matches --plugins" : "no plugins (nothing to back up)"}\n`);
      const reporter = reporterFor(globals);
      const outcomes = await runFleetBackup(ctx, hosts, { plugins, concurrency, acceptNewHostKey: values["accept-new-host-key"] === true, rehash: values.rehash === true, trigger: "cli" }, reporter);
      reporter.close();
      const failed = outcomes.filter((o) => o.status !== "ok");
      if (!globals.json && hosts.length > 1) {
        const stored = outcomes.reduce((n, o) => n + o.storedBytes, 0);
        process.stdout.write(`${hosts.length - failed.length}/${hosts.length} hosts backed up, ${formatBytes(stored)} stored\n`);
      }
      return failed.length === 0 ? EXIT_OK : EXIT_JOB_FAILED;
    } finally {
      ctx.close();
    }
  },
};
