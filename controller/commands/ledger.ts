/** @module `controller ledger rebuild`: the ledger, rebuilt from the manifests in storage. */
import * as fs from "node:fs";
import { LifeboatError } from "../../core/errors";
import { listOption, parseCommandArgs } from "../cli-args";
import { ControllerContext } from "../context";
import { EXIT_JOB_FAILED, EXIT_OK } from "../exit-codes";
import { rebuildLedger } from "../jobs/ledger-rebuild";
import { emit, type Command } from "./command";

const usage = `usage: controller ledger rebuild [--destination NAME[,NAME2]] [--identity FILE] [--json]
Rebuilds the ledger (hosts, snapshots, artifacts, stored blobs) from the manifests in storage, read
with the controller's own credentials: for a lost controller disk, or a ledger that lost rows. Each
manifest is decrypted (age authenticates it), checked against the folder it is in and the objects
beside it, and recorded; snapshots the ledger has already are kept as they are. The history of runs,
events and verifications is not in storage and is not rebuilt.
Default: every destination of the inventory; a local one (a directory on each host that uses it)
is read over each such host's SSH login. Manifests are opened with the state directory's host keys and master identity, or with
--identity FILE only (an age identity file, e.g. your offline escrow identity).
Exit code: 0 every manifest recorded or known, 1 some could not be opened or did not check out, 2 usage.
With --json: {"type":"ledger-rebuilt","destinations":[{destination, host?, manifests, added, known, failed:[{key, reason}], incomplete}]}`;

export const ledgerCommand: Command = {
  name: "ledger",
  summary: "rebuild the ledger from the manifests in storage (ledger rebuild)",
  usage,
  async run(argv) {
    const action = argv[0] && !argv[0].startsWith("-") ? argv[0] : undefined;
    const { globals, values } = parseCommandArgs(argv.slice(action ? 1 : 0), { destination: { type: "string", multiple: true }, identity: { type: "string" } }, usage);
    if (action !== "rebuild") throw new LifeboatError("USAGE", action ? `Cannot run "controller ledger ${action}": unknown action` : "controller ledger needs an action", { hint: usage.split("\n")[0] });
    let identity: string | undefined;
    if (values.identity !== undefined) {
      let text: string;
      try {
        text = fs.readFileSync(values.identity, "utf8");
      } catch (err) {
        throw new LifeboatError("USAGE", `Cannot read the identity file "${values.identity}": ${(err as NodeJS.ErrnoException).code ?? "unreadable"}`, { hint: "give the file age-keygen wrote (it holds a line AGE-SECRET-KEY-1...)" });
      }
      identity = /^AGE-SECRET-KEY-1[0-9A-Z]+$/m.exec(text)?.[0];
      if (!identity) throw new LifeboatError("USAGE", `Cannot use "${values.identity}": it holds no age identity (a line AGE-SECRET-KEY-1...)`, { hint: "give the file age-keygen wrote" });
    }
    const ctx = await ControllerContext.open(globals);
    try {
      const names = listOption(values.destination);
      for (const n of names ?? []) ctx.destinationSpec(n);
      const reports = await rebuildLedger(ctx, names, identity, (line) => {
        if (!globals.json) process.stdout.write(`  ${line}\n`);
      });
      emit(
        globals,
        () =>
          reports
            .map((r) => `${r.failed.length ? "✘" : "✔"} ${r.destination}${r.host ? ` on ${r.host}` : ""}: ${r.manifests} manifests, ${r.added} snapshots recorded, ${r.known} known already, ${r.failed.length} not recorded${r.incomplete ? `, ${r.incomplete} incomplete snapshot folders (debris: controller prune removes them)` : ""}`)
            .join("\n"),
        () => ({ type: "ledger-rebuilt", destinations: reports }),
      );
      return reports.some((r) => r.failed.length > 0) ? EXIT_JOB_FAILED : EXIT_OK;
    } finally {
      ctx.close();
    }
  },
};
