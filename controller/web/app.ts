/**
 * @module The dashboard's HTTP app (Hono): the fleet's status as JSON and as
 * Prometheus metrics, behind a bearer token when one is configured, with the
 * usual protective headers on every response.
 */
import { Hono } from "hono";
import type { HostStatus, StatusCounts } from "../fleet/status";
import { fleetMetrics } from "./metrics";
import { bearerMatches } from "./token";

/** Where the app reads the fleet: called per request, so every answer is the ledger's current state. */
export interface FleetSource {
  status(now: Date): { hosts: HostStatus[]; counts: StatusCounts };
}

/** How the app is protected. */
export interface DashboardOptions {
  /** Required as `Authorization: Bearer <token>` on every request when set. */
  token?: string;
}

/** Headers every response carries: no scripts or frames from elsewhere, no sniffing, no referrer. */
const SECURITY_HEADERS: Record<string, string> = {
  "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  "X-Content-Type-Options": "nosniff",
  "X-Frame-Options": "DENY",
  "Referrer-Policy": "no-referrer",
  "Cache-Control": "no-store",
};

/**
 * The app: `GET /api/status` (exactly `controller status --json`), `GET /metrics`
 * (Prometheus text format). Anything else is 404; without the token (when
 * one is configured) everything is 401.
 */
export function dashboardApp(source: FleetSource, options: DashboardOptions = {}): Hono {
  const app = new Hono();
  app.use("*", async (c, next) => {
    await next();
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) c.header(name, value);
  });
  if (options.token) {
    const token = options.token;
    app.use("*", async (c, next) => {
      if (!bearerMatches(c.req.header("Authorization"), token)) {
        c.header("WWW-Authenticate", 'Bearer realm="lifeboat"');
        return c.json({ error: { code: "UNAUTHORIZED", message: "this Lifeboat dashboard needs its token: Authorization: Bearer <token>" } }, 401);
      }
      await next();
    });
  }
  app.get("/api/status", (c) => c.json({ type: "status", ...source.status(new Date()) }));
  app.get("/metrics", (c) => {
    const { hosts, counts } = source.status(new Date());
    return c.body(fleetMetrics(hosts, counts), 200, { "Content-Type": "text/plain; version=0.0.4; charset=utf-8" });
  });
  app.notFound((c) => c.json({ error: { code: "NOT_FOUND", message: `no such page: ${c.req.method} ${c.req.path}` } }, 404));
  return app;
}
