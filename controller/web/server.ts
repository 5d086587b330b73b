/**
 * @module Starting the dashboard: where it listens, whether it may (a token
 * is required off loopback and for actions), and the HTTP server itself.
 * Shared by `controller serve` and `controller daemon --serve`.
 */
import { serve } from "@hono/node-server";
import { LifeboatError } from "../../core/errors";
import type { HostConfig } from "../../inventory/schema";
import type { GlobalOptions } from "../cli-args";
import type { Ledger } from "../ledger/ledger";
import type { FleetActions } from "./actions";
import { dashboardApp } from "./app";
import { commandPrefix } from "./command-prefix";
import { FleetView } from "./fleet-view";
import { isLoopback } from "./loopback";

/** Where the dashboard listens unless told otherwise. */
export const DEFAULT_LISTEN = "127.0.0.1:8470";
/** The shortest token accepted. */
const MIN_TOKEN = 16;

/** A listening address. */
export interface Listen {
  host: string;
  port: number;
}

/** `HOST:PORT` (IPv6 in brackets) as its parts. @throws USAGE naming the value. */
export function parseListen(value: string, option = "--listen"): Listen {
  const m = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(value);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port < 1 || port > 65535) throw new LifeboatError("USAGE", `${option} "${value}" is not HOST:PORT`, { hint: `e.g. ${option} ${DEFAULT_LISTEN}` });
  return { host: m[1]!.replace(/^\[|\]$/g, ""), port };
}

/**
 * The token from LIFEBOAT_DASHBOARD_TOKEN (the environment only: never argv),
 * checked against what is asked of the dashboard.
 * @throws USAGE when listening off loopback or with actions but without a token, or a token too short
 */
export function dashboardToken(listen: Listen, actions: boolean, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const token = env.LIFEBOAT_DASHBOARD_TOKEN || undefined;
  // Read once: the processes this one starts (ssh, rclone, hooks, notifiers) never inherit it.
  delete env.LIFEBOAT_DASHBOARD_TOKEN;
  if (token !== undefined && token.length < MIN_TOKEN) throw new LifeboatError("USAGE", `LIFEBOAT_DASHBOARD_TOKEN is too short: use at least ${MIN_TOKEN} characters`, { hint: "openssl rand -hex 32" });
  if (!token && !isLoopback(listen.host)) {
    throw new LifeboatError("USAGE", `Refusing to serve the fleet's status on ${listen.host}, which is not a loopback address, without a token`, {
      hint: "set LIFEBOAT_DASHBOARD_TOKEN (a long random value: openssl rand -hex 32) and put a TLS reverse proxy in front, or listen on 127.0.0.1",
    });
  }
  if (!token && actions) throw new LifeboatError("USAGE", "--actions needs a token: anyone who can reach the dashboard could otherwise start backups", { hint: "set LIFEBOAT_DASHBOARD_TOKEN (openssl rand -hex 32)" });
  return token;
}

/** A running dashboard server. */
export interface DashboardServer {
  url: string;
  close(): Promise<void>;
}

/** What a dashboard serves, and how. */
export interface DashboardSetup {
  ledger: Ledger;
  /** The inventory's hosts. */
  hosts: HostConfig[];
  /** The inventory and state directory the process runs with (for the command lines on the pages). */
  globals: Pick<GlobalOptions, "inventory" | "state">;
  listen: Listen;
  /** From {@link dashboardToken}. */
  token: string | undefined;
  actions: FleetActions | undefined;
  logError: (err: unknown) => void;
}

/** Serves the dashboard of `setup.ledger` on `setup.listen`. @throws USAGE when the address cannot be listened on */
export async function startDashboard(setup: DashboardSetup): Promise<DashboardServer> {
  const { listen, token, actions } = setup;
  const view = new FleetView(setup.ledger, setup.hosts, commandPrefix(setup.globals));
  const app = dashboardApp(view, { ...(token ? { token } : {}), ...(actions ? { actions } : {}), logError: setup.logError });
  const server = serve({ fetch: app.fetch, hostname: listen.host, port: listen.port });
  await new Promise<void>((resolve, reject) => {
    server.once("listening", resolve);
    server.once("error", (err: Error) => reject(new LifeboatError("USAGE", `Cannot listen on ${listen.host}:${listen.port}: ${err.message}`, { hint: "choose another --listen address or port" })));
  });
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : listen.port;
  return {
    url: `http://${listen.host.includes(":") ? `[${listen.host}]` : listen.host}:${port}/`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Keep-alive connections of browsers would hold the close for minutes.
        (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
      }),
  };
}
