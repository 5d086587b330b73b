/** @module `controller verify`: deep-check stored snapshots by restoring them into scratch space on a host. */
import { isLifeboatError, LifeboatError, messageOf } from "../../core/errors";
import { selectHosts } from "../../inventory/resolve";
import { hostOptions, hostSelection, listOption, parseCommandArgs, type GlobalOptions } from "../cli-args";
import { ControllerContext } from "../context";
import { EXIT_JOB_FAILED, EXIT_OK } from "../exit-codes";
import { failedOutcome } from "../output/reporter";
import { verifyStored } from "../jobs/stored-verify";
import { runDueVerifications } from "../jobs/verify-due";
import { parseDuration } from "../../core/durations";
import { runVerify, verifySpec } from "../jobs/verify-run";
import { reporterFor, type Command } from "./command";

const usage = `usage: controller verify (--host H[,H2] | --group G | --all) [--snapshot ID|latest] [--level deep|stored] [--on H2] [--plugins p,q] [--drill] [--master-key] [--accept-new-host-key] [--json]
       controller verify --due [--host H | --group G] [--ahead DURATION] [--limit N] [--concurrency N] [--drill] [--accept-new-host-key] [--json]
Deep-checks a stored snapshot of each selected host (default: its latest complete one): the agent
downloads every artifact, checks its hash, decrypts it, restores it into scratch space and checks
the copy with the service's own tools (integrity_check, pg_restore into a scratch database with
row counts, redis-check-rdb, nginx -t, certificate/key match, blob digests). Live services are
not touched; the scratch copy is removed. The result is recorded in the ledger (controller snapshots).
--on H2 runs the check on another inventory host (one selected host only).
--master-key allows sending the master identity for a snapshot encrypted to the master key only (made
before hosts had keys, or recorded by a ledger rebuild); the host could then open every host's
snapshots. Without it such a snapshot is refused (--level stored checks it on the controller).
--level stored checks on the controller instead, with no host and no key leaving it: the manifest
against the ledger, every object through its hash, age and decompression, every blob to its digest
(a local destination, a directory on the host, is read over the host's SSH login).
--drill also records how long the restore into scratch took (per plugin instance and the whole job) as the
host's measured restore time, which controller status shows as RTO; with --on H2, measured on H2.
--due verifies what verification rotation says is due: for every host with plugins, the plugin instances
without a successful deep verification within verifyEvery (inventory, default 7d), on the newest complete
snapshot holding them, one job per host, oldest verification first; --ahead DURATION also takes what falls
due within DURATION (run it every DURATION with --ahead DURATION and no instance ever lapses); --limit N
verifies at most N hosts this time. With --all or --group, hosts without plugins (restore targets) are skipped.
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
        "master-key": { type: "boolean" },
        drill: { type: "boolean" },
        due: { type: "boolean" },
        ahead: { type: "string" },
        limit: { type: "string" },
        concurrency: { type: "string" },
      },
      usage,
    );
    if (values.drill && values.level === "stored") throw new LifeboatError("USAGE", "--drill restores on a host: it takes no --level stored");
    if (!values.due && (values.ahead !== undefined || values.limit !== undefined || values.concurrency !== undefined)) throw new LifeboatError("USAGE", "--ahead, --limit and --concurrency go with --due");
    const ctx = await ControllerContext.open(globals);
    try {
      if (values.due) return await verifyDue(ctx, globals, values);
      const selection = hostSelection(values);
      let hosts = selectHosts(ctx.inventory, selection);
      // A restore target has nothing of its own to verify: a fleet or group run passes it by, as `run` does.
      const targets = selection.host ? [] : hosts.filter((h) => h.plugins.length === 0);
      if (targets.length > 0) {
        hosts = hosts.filter((h) => h.plugins.length > 0);
        if (hosts.length === 0) throw new LifeboatError("USAGE", `Cannot verify ${targets.map((h) => `"${h.name}"`).join(", ")}: no plugins (restore targets have nothing to verify)`, { hint: "list the hosts' plugins with: controller hosts" });
        process.stderr.write(`controller verify: skipping ${targets.map((h) => h.name).join(", ")}: no plugins (nothing to verify)\n`);
      }
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
          spec = await verifySpec(ctx, { from: host.name, snapshot: values.snapshot ?? "latest", ...(values.on ? { on: values.on } : {}), ...(listOption(values.plugins) ? { plugins: listOption(values.plugins) } : {}), masterKey: values["master-key"] === true });
        } catch (err) {
          if (hosts.length === 1) throw err;
          failed++;
          reporter.hostDone(failedOutcome(host.name, "verify", { code: isLifeboatError(err) ? err.code : "INTERNAL", message: messageOf(err), ...(isLifeboatError(err) && err.hint ? { hint: err.hint } : {}) }));
          continue;
        }
        const outcome = await runVerify(ctx, spec, values["accept-new-host-key"] === true, reporter, { drill: values.drill === true });
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

/** A whole number >= `min` from an option, or undefined when absent. @throws LifeboatError("USAGE") */
function wholeNumber(name: string, value: string | undefined, min: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new LifeboatError("USAGE", `--${name}: expected a whole number >= ${min}, got "${value}"`);
  return n;
}

/** `verify --due`: runs the rotation's due verifications; exit 0 when every one passed (or none was due). */
async function verifyDue(ctx: ControllerContext, globals: GlobalOptions, values: { host?: string[]; group?: string[]; snapshot?: string; on?: string; level?: string; plugins?: string[]; drill?: boolean; ahead?: string; limit?: string; concurrency?: string; "accept-new-host-key"?: boolean }): Promise<number> {
  if (values.snapshot || values.on || values.plugins || values.level) throw new LifeboatError("USAGE", "--due chooses snapshots and plugin instances itself: it takes no --snapshot, --on, --plugins or --level");
  const aheadMs = values.ahead === undefined ? 0 : parseDuration(values.ahead);
  if (aheadMs === null) throw new LifeboatError("USAGE", `--ahead: expected a duration such as 1d or 12h, got "${values.ahead}"`);
  const limit = wholeNumber("limit", values.limit, 1);
  const concurrency = wholeNumber("concurrency", values.concurrency, 1);
  const selection = hostSelection(values);
  const hosts = selection.host || selection.group ? selectHosts(ctx.inventory, selection).map((h) => h.name) : undefined;
  const reporter = reporterFor(globals);
  const { due, outcomes } = await runDueVerifications(ctx, reporter, {
    aheadMs,
    ...(hosts ? { hosts } : {}),
    ...(limit !== undefined ? { limit } : {}),
    ...(concurrency !== undefined ? { concurrency } : {}),
    drill: values.drill === true,
    acceptNewHostKey: values["accept-new-host-key"] === true,
    onDue: (list) => {
      if (globals.json) process.stdout.write(`${JSON.stringify({ type: "due", verifications: list })}\n`);
      else if (list.length === 0) process.stdout.write("nothing is due: every stored plugin instance has a successful deep verification within its verifyEvery\n");
      else for (const d of list) process.stdout.write(`due: ${d.host} ${d.instances.join(",")} on ${d.snapshotId} (${d.oldestVerified ? `oldest verification ${d.oldestVerified}` : "never verified"})${d.notInSnapshot.length ? `; not in that snapshot: ${d.notInSnapshot.join(",")}` : ""}\n`);
    },
  });
  reporter.close();
  const failed = outcomes.filter((o) => o.status !== "ok").length;
  if (!globals.json && due.length > 0) process.stdout.write(`${due.length - failed}/${due.length} due verifications passed\n`);
  return failed === 0 ? EXIT_OK : EXIT_JOB_FAILED;
}
