/**
 * @module The `controller` command: dispatch, and the one place where errors
 * become messages with hints and exit codes (0 ok, 1 a job failed, 2 usage or configuration).
 */
import { isLifeboatError, messageOf } from "../core/errors";
import { alertsCommand } from "./commands/alerts";
import type { Command } from "./commands/command";
import { daemonCommand } from "./commands/daemon";
import { fetchCommand } from "./commands/fetch";
import { hostsCommand } from "./commands/hosts";
import { initCommand } from "./commands/init";
import { installCommand } from "./commands/install";
import { ledgerCommand } from "./commands/ledger";
import { keysCommand } from "./commands/keys";
import { pruneCommand } from "./commands/prune";
import { restoreCommand } from "./commands/restore";
import { runCommand } from "./commands/run";
import { serveCommand } from "./commands/serve";
import { snapshotsCommand } from "./commands/snapshots";
import { statusCommand } from "./commands/status";
import { verifyCommand } from "./commands/verify";
import { LIFEBOAT_VERSION } from "../core/version";
import { commandFirst } from "./cli-args";
import { exitCodeFor, EXIT_JOB_FAILED, EXIT_USAGE } from "./exit-codes";

const commands: Command[] = [initCommand, hostsCommand, statusCommand, installCommand, runCommand, snapshotsCommand, verifyCommand, restoreCommand, pruneCommand, fetchCommand, keysCommand, ledgerCommand, daemonCommand, alertsCommand, serveCommand];

const help = `Lifeboat controller: encrypted, verified backups for a fleet of hosts.

usage: controller [global options] <command> [options]

commands:
${commands.map((c) => `  ${c.name.padEnd(10)} ${c.summary}`).join("\n")}

global options:
  --inventory FILE   the fleet inventory (env LIFEBOAT_INVENTORY, default inventory/fleet.yaml)
  --state DIR        keys and ledger (env LIFEBOAT_STATE, default ~/.local/state/lifeboat)
  --json             machine-readable output
  -h, --help         help for a command
  --version          print the release version

exit codes: 0 all good, 1 a job failed, 2 usage or configuration error.
Docs: docs/quickstart.md`;

async function main(argv: string[]): Promise<number> {
  let name: string | undefined;
  let rest: string[];
  try {
    ({ name, rest } = commandFirst(argv));
  } catch (err) {
    process.stderr.write(`controller: ${messageOf(err)}\n${isLifeboatError(err) && err.hint ? `  hint: ${err.hint}\n` : ""}`);
    return EXIT_USAGE;
  }
  if (name === "--version" || name === "version") {
    process.stdout.write(argv.includes("--json") ? `${JSON.stringify({ type: "version", version: LIFEBOAT_VERSION, runtime: `node ${process.version}` })}\n` : `lifeboat ${LIFEBOAT_VERSION}\n`);
    return 0;
  }
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    process.stdout.write(`${help}\n`);
    return name === undefined ? EXIT_USAGE : 0;
  }
  const command = commands.find((c) => c.name === name);
  if (!command) {
    process.stderr.write(`controller: unknown command "${name}"\n  hint: commands are ${commands.map((c) => c.name).join(", ")}; see controller --help\n`);
    return EXIT_USAGE;
  }
  if (rest.includes("--help") || rest.includes("-h")) {
    process.stdout.write(`${command.usage}\n`);
    return 0;
  }
  const json = rest.includes("--json");
  try {
    return await command.run(rest);
  } catch (err) {
    const code = isLifeboatError(err) ? err.code : "INTERNAL";
    const hint = isLifeboatError(err) ? err.hint : "this is a bug in Lifeboat; please report it with the output above";
    if (json) {
      process.stdout.write(`${JSON.stringify({ type: "error", code, message: messageOf(err), ...(hint ? { hint } : {}) })}\n`);
    } else {
      process.stderr.write(`controller ${name}: ${messageOf(err)}\n${hint ? `  hint: ${hint}\n` : ""}`);
      if (!isLifeboatError(err) && err instanceof Error && process.env.LIFEBOAT_DEBUG) process.stderr.write(`${err.stack}\n`);
    }
    return isLifeboatError(err) ? exitCodeFor(err.code) : EXIT_JOB_FAILED;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`controller: internal error: ${String(err)}\n`);
    process.exitCode = EXIT_JOB_FAILED;
  },
);
