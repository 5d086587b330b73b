/** @module `controller serve`: the dashboard, the JSON API and Prometheus metrics over HTTP. */
import * as fs from "node:fs";
import { LifeboatError } from "../../core/errors";
import { parseCommandArgs } from "../cli-args";
import { ControllerContext, loadFleet } from "../context";
import { EXIT_OK } from "../exit-codes";
import { statePaths } from "../keys";
import { Ledger } from "../ledger/ledger";
import { ControllerActions } from "../web/actions";
import { dashboardApp } from "../web/app";
import { commandPrefix } from "../web/command-prefix";
import { FleetView } from "../web/fleet-view";
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
    let view: FleetView;
    let actions: ControllerActions | undefined;
    let close: () => void;
    if (values.actions) {
      // Actions run jobs: the whole controller (keys, ledger), as controller run opens it.
      const ctx = await ControllerContext.open(globals);
      view = new FleetView(ctx.ledger, [...ctx.inventory.hosts.values()], commandPrefix(globals));
      actions = new ControllerActions(ctx, (line) => log(`dashboard: ${line}`));
      close = () => ctx.close();
    } else {
      // Read only: the inventory and the ledger; no key is loaded.
      const inventory = loadFleet(globals.inventory);
      const ledgerPath = statePaths(globals.state).ledger;
      if (!fs.existsSync(ledgerPath)) throw new LifeboatError("KEYS", `Cannot open the ledger "${ledgerPath}": it does not exist`, { hint: `run: controller init --state ${globals.state}` });
      const ledger = Ledger.open(ledgerPath);
      view = new FleetView(ledger, [...inventory.hosts.values()], commandPrefix(globals));
      close = () => ledger.close();
    }
    try {
      const app = dashboardApp(view, { ...(token ? { token } : {}), ...(actions ? { actions } : {}), logError: (err) => process.stderr.write(`controller serve: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`) });
      const server = await startDashboard(app, listen);
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
