/** @module `controller alerts test`: send a test message to every notifier of the inventory. */
import { LifeboatError } from "../../core/errors";
import { testNotifiers } from "../alerts/alerter";
import { Notifier } from "../alerts/notifier";
import { parseCommandArgs } from "../cli-args";
import { loadFleet } from "../context";
import { EXIT_JOB_FAILED, EXIT_OK } from "../exit-codes";
import { emit, type Command } from "./command";

const usage = `usage: controller alerts test [--json]
Sends a test message to every notifier under alerts: in the inventory (webhook, ntfy,
slack, discord: a message; healthchecks: a /log ping, which changes no check's state,
one per host when its URL has {host}) and says which were reached. URLs are never shown.
Exit code: 0 every notifier reached, 1 some were not, 2 usage or configuration error.`;

export const alertsCommand: Command = {
  name: "alerts",
  summary: "alerts test: send a test message to every notifier of the inventory",
  usage,
  async run(argv) {
    const { globals, positionals } = parseCommandArgs(argv, {}, usage, 1);
    if (positionals[0] !== "test") throw new LifeboatError("USAGE", positionals[0] === undefined ? "an action is needed" : `unknown action "${positionals[0]}"`, { hint: usage.split("\n")[0] });
    const inventory = loadFleet(globals.inventory);
    if (inventory.alerts.length === 0) {
      throw new LifeboatError("CONFIG", `Cannot test alerts: the inventory "${inventory.file}" has no notifiers`, { hint: "add alerts: with at least one notifier (docs/operations.md, Alerts), e.g. - { type: ntfy, url: https://ntfy.sh/your-topic }" });
    }
    const results = await testNotifiers(inventory.alerts.map((n) => new Notifier(n)), [...inventory.hosts.values()].filter((h) => h.plugins.length > 0).map((h) => h.name), inventory.secrets(), { attempts: 2, firstDelayMs: 1_000, timeoutMs: 10_000 });
    for (const r of results) {
      emit(
        globals,
        () => `${r.notifier} ${r.type}: ${r.ok ? `reached${r.status ? ` (HTTP ${r.status})` : ""}${r.requests > 1 ? `, ${r.requests} requests` : ""}` : `NOT reached: ${r.error ?? "unknown error"}`}`,
        () => ({ type: "alert-test", notifier: r.notifier, notifierType: r.type, ok: r.ok, requests: r.requests, ...(r.status ? { status: r.status } : {}), ...(r.error ? { error: r.error } : {}) }),
      );
    }
    const reached = results.filter((r) => r.ok).length;
    if (!globals.json) process.stdout.write(`${reached}/${results.length} notifiers reached\n`);
    return reached === results.length ? EXIT_OK : EXIT_JOB_FAILED;
  },
};
