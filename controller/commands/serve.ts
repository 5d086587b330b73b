/** @module `controller serve`: the fleet's status as a JSON API and Prometheus metrics over HTTP. */
import * as fs from "node:fs";
import { serve } from "@hono/node-server";
import { LifeboatError } from "../../core/errors";
import { parseCommandArgs } from "../cli-args";
import { loadFleet } from "../context";
import { EXIT_OK } from "../exit-codes";
import { fleetStatus } from "../fleet/status";
import { statePaths } from "../keys";
import { Ledger } from "../ledger/ledger";
import { dashboardApp } from "../web/app";
import type { Command } from "./command";

const DEFAULT_LISTEN = "127.0.0.1:8470";

const usage = `usage: controller serve [--listen HOST:PORT]
Serves the fleet's status over HTTP until stopped (SIGINT or SIGTERM), default on ${DEFAULT_LISTEN}:
  GET /api/status   the same JSON as controller status --json
  GET /metrics      Prometheus text format: lifeboat_last_success_timestamp_seconds{host="..."}, ...
With LIFEBOAT_DASHBOARD_TOKEN set, every request needs "Authorization: Bearer <token>". Listening on
anything but a loopback address requires the token (and a TLS reverse proxy in front: docs/dashboard.md).`;

/** Whether `host` is a loopback address (IPv4 127/8, ::1, localhost). */
function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || host === "[::1]" || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** `HOST:PORT` (IPv6 in brackets) as its parts. @throws USAGE naming the value. */
function parseListen(value: string): { host: string; port: number } {
  const m = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(value);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port < 1 || port > 65535) throw new LifeboatError("USAGE", `--listen "${value}" is not HOST:PORT`, { hint: `e.g. --listen ${DEFAULT_LISTEN}` });
  return { host: m[1]!.replace(/^\[|\]$/g, ""), port };
}

export const serveCommand: Command = {
  name: "serve",
  summary: "serve the fleet's status as a JSON API and Prometheus metrics (default 127.0.0.1:8470)",
  usage,
  async run(argv) {
    const { globals, values } = parseCommandArgs(argv, { listen: { type: "string" } }, usage);
    const listen = parseListen(values.listen ?? DEFAULT_LISTEN);
    const token = process.env.LIFEBOAT_DASHBOARD_TOKEN || undefined;
    if (!isLoopback(listen.host) && !token) {
      throw new LifeboatError("USAGE", `Refusing to serve the fleet's status on ${listen.host}, which is not a loopback address, without a token`, {
        hint: "set LIFEBOAT_DASHBOARD_TOKEN (a long random value: openssl rand -hex 32) and put a TLS reverse proxy in front, or listen on 127.0.0.1",
      });
    }
    if (token && token.length < 16) throw new LifeboatError("USAGE", "LIFEBOAT_DASHBOARD_TOKEN is too short: use at least 16 characters", { hint: "openssl rand -hex 32" });
    const inventory = loadFleet(globals.inventory);
    const ledgerPath = statePaths(globals.state).ledger;
    if (!fs.existsSync(ledgerPath)) throw new LifeboatError("KEYS", `Cannot open the ledger "${ledgerPath}": it does not exist`, { hint: `run: controller init --state ${globals.state}` });
    const ledger = Ledger.open(ledgerPath);
    const hosts = [...inventory.hosts.values()];
    const app = dashboardApp({ status: (now) => fleetStatus(ledger, hosts, now) }, token ? { token } : {});
    const server = serve({ fetch: app.fetch, hostname: listen.host, port: listen.port });
    await new Promise<void>((resolve, reject) => {
      server.once("listening", resolve);
      server.once("error", (err: Error) => reject(new LifeboatError("USAGE", `Cannot listen on ${listen.host}:${listen.port}: ${err.message}`, { hint: "choose another --listen address or port" })));
    });
    const address = server.address();
    const port = typeof address === "object" && address ? address.port : listen.port;
    process.stdout.write(`serving the fleet's status on http://${listen.host.includes(":") ? `[${listen.host}]` : listen.host}:${port}/ (/api/status, /metrics)${token ? ", token required" : ""}\n`);
    await new Promise<void>((resolve) => {
      const stop = () => server.close(() => resolve());
      process.once("SIGINT", stop);
      process.once("SIGTERM", stop);
    });
    ledger.close();
    return EXIT_OK;
  },
};
