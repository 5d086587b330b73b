/** @module `controller serve`: the dashboard, the JSON API and Prometheus metrics over HTTP. */
import type { HostConfig } from "../../inventory/schema";
import { parseCommandArgs } from "../cli-args";
import { ControllerContext, loadFleet, openLedger } from "../context";
import { EXIT_OK } from "../exit-codes";
import type { Ledger } from "../ledger/ledger";
import { ControllerActions } from "../web/actions";
import { DEFAULT_LISTEN, dashboardToken, parseListen, startDashboard } from "../web/server";
import type { Command } from "./command";

const usage = `usage: controller serve [--listen HOST:PORT] [--actions]
Serves the fleet's dashboard until stopped (SIGINT or SIGTERM), default on ${DEFAULT_LISTEN}:
  /                 the fleet overview, worst host first; /hosts/NAME, its snapshots, /storage
  /api/hosts        the same data as JSON (also /api/hosts/NAME, /api/storage, and /api/status:
                    exactly controller status --json)
  /metrics          Prometheus text format: lifeboat_last_success_timestamp_seconds{host="..."}, ...
With LIFEBOAT_DASHBOARD_TOKEN set (from the environment only), every request needs it: the header
"Authorization: Bearer <token>", or a browser session from the sign-in page. Listening on anything
but a loopback address requires the token (and a TLS reverse proxy in front: docs/dashboard.md).
--actions adds "Back up now" and "Verify now" (POST, CSRF-protected; needs the token); nothing
on the dashboard can delete or restore.`;

export const serveCommand: Command = {
  name: "serve",
  summary: "serve the fleet's dashboard, JSON API and Prometheus metrics (default 127.0.0.1:8470)",
  usage,
  async run(argv) {
    const { globals, values } = parseCommandArgs(argv, { listen: { type: "string" }, actions: { type: "boolean" } }, usage);
    const listen = parseListen(values.listen ?? DEFAULT_LISTEN);
    const token = dashboardToken(listen, values.actions === true);
    const log = (line: string) => process.stdout.write(`${line}\n`);
    let ledger: Ledger;
    let hosts: HostConfig[];
    let actions: ControllerActions | undefined;
    let close: () => void;
    if (values.actions) {
      // Actions run jobs: the whole controller (keys, ledger), as controller run opens it.
      const ctx = await ControllerContext.open(globals);
      ({ ledger } = ctx);
      hosts = [...ctx.inventory.hosts.values()];
      actions = new ControllerActions(ctx, (line) => log(`dashboard: ${line}`));
      close = () => ctx.close();
    } else {
      // Read only: the inventory and the ledger; no key is loaded.
      hosts = [...loadFleet(globals.inventory).hosts.values()];
      ledger = openLedger(globals.state);
      close = () => ledger.close();
    }
    try {
      const server = await startDashboard({ ledger, hosts, globals, listen, token, actions, logError: (err) => process.stderr.write(`controller serve: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`) });
      log(`serving the fleet's dashboard on ${server.url} (/, /api/hosts, /metrics)${token ? ", token required" : ""}${actions ? ", actions on" : ""}`);
      await new Promise<void>((resolve) => {
        process.once("SIGINT", resolve);
        process.once("SIGTERM", resolve);
      });
      await server.close();
      await actions?.settle();
    } finally {
      close();
    }
    return EXIT_OK;
  },
};
