/** @module `controller restore`: bring a snapshot back, in place, onto another host, or under a directory; plan it first. */
import * as readline from "node:readline/promises";
import { LifeboatError } from "../../core/errors";
import { restoreToolsOf } from "../../plugins/registry";
import { listOption, parseCommandArgs } from "../cli-args";
import { ControllerContext } from "../context";
import { EXIT_JOB_FAILED, EXIT_OK } from "../exit-codes";
import { restoreSpec, runRestore } from "../jobs/restore-run";
import { planText } from "../restore/plan-text";
import { parsePointInTime } from "../restore/point-in-time";
import { recoveryReportText } from "../restore/recovery-report";
import { planRestore } from "../restore/restore-plan";
import { probeTarget } from "../restore/target-probe";
import { describeRuntime } from "../ssh/install-agent";
import { emit, reporterFor, type Command } from "./command";

const usage = `usage: controller restore --from H (--snapshot ID|latest | --at TIME) [--to H2] [--plan | --yes]
                          [--plugins p,q] [--into DIR] [--path PATTERN]... [--replace]
                          [--master-key] [--accept-new-host-key] [--json]
Restores a complete snapshot of host H onto H2 (default: H itself): every plugin instance in
dependency order (files and configuration, certificates, nginx, service data, models), each where
H2's inventory entry says (H's layout when H2 declares no plugins at all). Each artifact is
downloaded, its hash checked, decrypted and staged; only when everything is staged and checked is
it swapped into place. A host without Node.js >= 20 or Deno >= 2 gets the Deno runtime the
controller carries. Ends with a recovery report; a restore that succeeded everywhere is recorded as
H's measured recovery time (controller hosts, controller status).
--plan          print what will happen (order, sizes, estimated time, tools the target lacks) and
                change nothing; exits 1 when the restore could not start
--at TIME       the newest complete snapshot taken at or before TIME (controller's local time unless
                it carries an offset): 2026-11-20, "2026-11-20 03:00", 2026-11-20T03:00+01:00
--into DIR      restore under DIR instead of in place: DIR/<instance>/<paths relative to the
                instance's root>; no hooks run, no service is touched
--path PATTERN  only files matching PATTERN (an original absolute path; * within a name, ** across
                folders) of the snapshot's files instances; the other files stay as they are
--replace       replace existing databases and files even where the configuration says not to
Without --yes (or --plan), asks for confirmation on a terminal and refuses otherwise.
The job carries only the key of H's snapshot. A snapshot encrypted to the master key only (made
before hosts had keys, or recorded by a ledger rebuild) needs --master-key: the master identity then
goes to H2, which could use it to open every host's snapshots.
With --json: a {"type":"restore-plan"} line, the run's events, and a {"type":"recovery-report"} line.`;

export const restoreCommand: Command = {
  name: "restore",
  summary: "plan or run a restore of a snapshot onto the same or another host (--from H --snapshot ID|latest|--at TIME [--to H2])",
  usage,
  async run(argv) {
    const began = Date.now();
    const { globals, values } = parseCommandArgs(
      argv,
      {
        from: { type: "string" },
        snapshot: { type: "string" },
        at: { type: "string" },
        to: { type: "string" },
        plugins: { type: "string", multiple: true },
        into: { type: "string" },
        path: { type: "string", multiple: true },
        replace: { type: "boolean" },
        plan: { type: "boolean" },
        yes: { type: "boolean", short: "y" },
        "master-key": { type: "boolean" },
        "accept-new-host-key": { type: "boolean" },
      },
      usage,
    );
    if (!values.from) throw new LifeboatError("USAGE", "--from HOST is required", { hint: usage.split("\n")[0] });
    if (values.snapshot && values.at) throw new LifeboatError("USAGE", "--snapshot and --at both choose the snapshot: give one of them");
    if (!values.snapshot && !values.at) throw new LifeboatError("USAGE", "--snapshot or --at is required: a snapshot id, latest, or a time", { hint: "list snapshots with: controller snapshots --host " + values.from });
    if (values.plan && values.yes) throw new LifeboatError("USAGE", "--plan changes nothing and --yes runs the restore: give one of them");
    if (values.into !== undefined && !values.into.startsWith("/")) throw new LifeboatError("USAGE", `--into must be an absolute path on the target host, got "${values.into}"`);
    const at = values.at ? parsePointInTime(values.at) : undefined;
    const acceptNewHostKey = values["accept-new-host-key"] === true;
    const ctx = await ControllerContext.open(globals);
    try {
      const notes: string[] = [];
      const spec = await restoreSpec(ctx, {
        from: values.from,
        snapshot: values.snapshot ?? "latest",
        ...(at ? { at } : {}),
        to: values.to,
        plugins: listOption(values.plugins),
        into: values.into,
        ...(values.replace ? { replace: true } : {}),
        ...(values.path ? { paths: values.path } : {}),
        acceptNewHostKey,
        masterKey: values["master-key"] === true,
      }, notes);
      const tools = spec.plugins.flatMap((p) => restoreToolsOf(p.plugin, p.config, `plugins.${p.instance}`).map((t) => t.command));
      const target = ctx.host(spec.host);
      const facts = await probeTarget(target, acceptNewHostKey, tools, (conn) => describeRuntime(conn, target));
      const plan = planRestore(ctx, spec, notes, facts);
      emit(globals, () => planText(plan), () => ({ type: "restore-plan", ...plan }));
      if (values.plan) return plan.missingTools.length > 0 ? EXIT_JOB_FAILED : EXIT_OK;
      if (plan.missingTools.length > 0) {
        throw new LifeboatError("TOOL_MISSING", `Cannot restore onto "${spec.host}": it lacks ${plan.missingTools.map((m) => m.tool.command).join(", ")}; nothing was changed`, {
          hint: `install them on "${spec.host}" (${[...new Set(plan.missingTools.map((m) => m.tool.install))].join("; ")}), or leave their instances out with --plugins`,
        });
      }
      const what = `${spec.artifacts.length} artifact(s) of snapshot ${spec.snapshotId} of "${spec.sourceHost}" onto "${spec.host}"${spec.into ? ` under ${spec.into}` : ", replacing the original paths"}`;
      if (!values.yes && !(await confirm(`Restore ${what}? [y/N] `))) {
        throw new LifeboatError("USAGE", `Not confirmed: restore ${what}`, { hint: "pass --yes to restore without asking, or --plan to see the plan only" });
      }
      const { outcome, report } = await runRestore(ctx, spec, acceptNewHostKey, reporterFor(globals), began);
      emit(globals, () => `\n${recoveryReportText(report)}`, () => report);
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
