/** @module `controller restore`: bring a snapshot back, in place, onto another host, or under a directory. */
import * as readline from "node:readline/promises";
import { LifeboatError } from "../../core/errors";
import { listOption, parseCommandArgs } from "../cli-args";
import { ControllerContext } from "../context";
import { EXIT_JOB_FAILED, EXIT_OK } from "../exit-codes";
import { restoreSpec, runRestore } from "../jobs/restore-run";
import { reporterFor, type Command } from "./command";

const usage = `usage: controller restore --from H --snapshot ID|latest [--to H2] [--plugins p,q] [--into DIR] [--yes] [--master-key] [--accept-new-host-key] [--json]
Restores a complete snapshot of host H onto H2 (default: H itself). Each artifact is downloaded,
its hash checked, decrypted and staged; only when everything is staged and checked is it swapped
into place. --into DIR restores under DIR (original paths re-rooted there) for inspection.
Without --yes, asks for confirmation on a terminal and refuses otherwise.
The job carries only the key of H's snapshot. A snapshot encrypted to the master key only (made
before hosts had keys, or recorded by a ledger rebuild) needs --master-key: the master identity then
goes to H2, which could use it to open every host's snapshots.`;

export const restoreCommand: Command = {
  name: "restore",
  summary: "restore a snapshot onto the same or another host (--from H --snapshot ID|latest [--to H2])",
  usage,
  async run(argv) {
    const { globals, values } = parseCommandArgs(
      argv,
      {
        from: { type: "string" },
        snapshot: { type: "string" },
        to: { type: "string" },
        plugins: { type: "string", multiple: true },
        into: { type: "string" },
        yes: { type: "boolean", short: "y" },
        "master-key": { type: "boolean" },
        "accept-new-host-key": { type: "boolean" },
      },
      usage,
    );
    if (!values.from) throw new LifeboatError("USAGE", "--from HOST is required", { hint: usage.split("\n")[0] });
    if (!values.snapshot) throw new LifeboatError("USAGE", "--snapshot is required: a snapshot id, or latest", { hint: "list snapshots with: controller snapshots --host " + values.from });
    if (values.into !== undefined && !values.into.startsWith("/")) throw new LifeboatError("USAGE", `--into must be an absolute path on the target host, got "${values.into}"`);
    const ctx = await ControllerContext.open(globals);
    try {
      const notes: string[] = [];
      const spec = await restoreSpec(ctx, {
        from: values.from,
        snapshot: values.snapshot,
        to: values.to,
        plugins: listOption(values.plugins),
        into: values.into,
        acceptNewHostKey: values["accept-new-host-key"] === true,
        masterKey: values["master-key"] === true,
      }, notes);
      for (const note of notes) process.stderr.write(`note: ${note}\n`);
      const what = `${spec.artifacts.length} artifact(s) of snapshot ${spec.snapshotId} of "${spec.sourceHost}" onto "${spec.host}"${spec.into ? ` under ${spec.into}` : ", replacing the original paths"}`;
      if (!values.yes && !(await confirm(`Restore ${what}? [y/N] `))) {
        throw new LifeboatError("USAGE", `Not confirmed: restore ${what}`, { hint: "pass --yes to restore without asking" });
      }
      const outcome = await runRestore(ctx, spec, values["accept-new-host-key"] === true, reporterFor(globals));
      return outcome.status === "ok" ? EXIT_OK : EXIT_JOB_FAILED;
    } finally {
      ctx.close();
    }
  },
};

async function confirm(question: string): Promise<boolean> {
  if (!process.stdin.isTTY || !process.stdout.isTTY) return false;
  const rl = readline.createInterface({ input: process.stdin, output: process.stdout });
  try {
    return /^y(es)?$/i.test((await rl.question(question)).trim());
  } finally {
    rl.close();
  }
}
