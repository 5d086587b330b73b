/** @module `controller verify`: deep-check stored snapshots by restoring them into scratch space on a host. */
import { isLifeboatError, LifeboatError, messageOf } from "../../core/errors";
import { selectHosts } from "../../inventory/resolve";
import { hostOptions, hostSelection, listOption, parseCommandArgs } from "../cli-args";
import { ControllerContext } from "../context";
import { EXIT_JOB_FAILED, EXIT_OK } from "../exit-codes";
import { failedOutcome } from "../output/reporter";
import { verifyStored } from "../jobs/stored-verify";
import { runVerify, verifySpec } from "../jobs/verify-run";
import { reporterFor, type Command } from "./command";

const usage = `usage: controller verify (--host H[,H2] | --group G | --all) [--snapshot ID|latest] [--level deep|stored] [--on H2] [--plugins p,q] [--accept-new-host-key] [--json]
Deep-checks a stored snapshot of each selected host (default: its latest complete one): the agent
downloads every artifact, checks its hash, decrypts it, restores it into scratch space and checks
the copy with the service's own tools (integrity_check, pg_restore into a scratch database with
row counts, redis-check-rdb, nginx -t, certificate/key match, blob digests). Live services are
not touched; the scratch copy is removed. The result is recorded in the ledger (controller snapshots).
--on H2 runs the check on another inventory host (one selected host only).
--level stored checks on the controller instead, with no host and no key leaving it: the manifest
against the ledger, every object through its hash, age and decompression, every blob to its digest
(not for local destinations, which live on the host).
Exit code: 0 every snapshot verified, 1 some verification failed, 2 usage or configuration error.`;

export const verifyCommand: Command = {
  name: "verify",
  summary: "deep-check stored snapshots: restore into scratch space and check with the service's tools",
  usage,
  async run(argv) {
    const { globals, values } = parseCommandArgs(
      argv,
      {
        ...hostOptions,
        snapshot: { type: "string" },
        on: { type: "string" },
        level: { type: "string" },
        plugins: { type: "string", multiple: true },
      },
      usage,
    );
    const ctx = await ControllerContext.open(globals);
    try {
      const hosts = selectHosts(ctx.inventory, hostSelection(values));
      if (hosts.length > 1 && values.snapshot && values.snapshot !== "latest") throw new LifeboatError("USAGE", "--snapshot ID selects one snapshot: use it with a single --host", { hint: "omit --snapshot to verify each host's latest snapshot" });
      if (hosts.length > 1 && values.on) throw new LifeboatError("USAGE", "--on H2 works with a single --host");
      const level = values.level ?? "deep";
      if (level !== "deep" && level !== "stored") throw new LifeboatError("USAGE", `--level: expected deep or stored, got "${level}"`);
      if (level === "stored" && values.on) throw new LifeboatError("USAGE", "--level stored runs on the controller: it takes no --on");
      const reporter = reporterFor(globals);
      let failed = 0;
      for (const host of hosts) {
        if (level === "stored") {
          const selection = { from: host.name, snapshot: values.snapshot ?? "latest", ...(listOption(values.plugins) ? { plugins: listOption(values.plugins) } : {}) };
          let outcome;
          try {
            outcome = await verifyStored(ctx, selection, reporter);
          } catch (err) {
            if (hosts.length === 1) throw err;
            outcome = failedOutcome(host.name, "verify", { code: isLifeboatError(err) ? err.code : "INTERNAL", message: messageOf(err), ...(isLifeboatError(err) && err.hint ? { hint: err.hint } : {}) });
            reporter.hostDone(outcome);
          }
          if (outcome.status !== "ok") failed++;
          continue;
        }
        let spec;
        try {
          spec = await verifySpec(ctx, { from: host.name, snapshot: values.snapshot ?? "latest", ...(values.on ? { on: values.on } : {}), ...(listOption(values.plugins) ? { plugins: listOption(values.plugins) } : {}) });
        } catch (err) {
          if (hosts.length === 1) throw err;
          failed++;
          reporter.hostDone(failedOutcome(host.name, "verify", { code: isLifeboatError(err) ? err.code : "INTERNAL", message: messageOf(err), ...(isLifeboatError(err) && err.hint ? { hint: err.hint } : {}) }));
          continue;
        }
        const outcome = await runVerify(ctx, spec, values["accept-new-host-key"] === true, reporter);
        if (outcome.status !== "ok") failed++;
      }
      reporter.close();
      if (!globals.json && hosts.length > 1) process.stdout.write(`${hosts.length - failed}/${hosts.length} snapshots verified\n`);
      return failed === 0 ? EXIT_OK : EXIT_JOB_FAILED;
    } finally {
      ctx.close();
    }
  },
};
