/**
 * @module The dashboard's HTTP app (Hono): server-rendered pages, the JSON API
 * with the same data, Prometheus metrics and, when turned on, the run-now and
 * verify-now actions. With a token, every request needs it: as
 * `Authorization: Bearer <token>` (API clients, Prometheus) or as a session
 * cookie from the sign-in page (browsers; forms then carry a CSRF token).
 * Every response carries protective headers; every page escapes what hosts wrote.
 */
import { Hono, type Context } from "hono";
import { bodyLimit } from "hono/body-limit";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { countStatus } from "../fleet/status";
import type { FleetActions, ActionKind } from "./actions";
import type { FleetView } from "./fleet-view";
import { fleetMetrics } from "./metrics";
import { SCRIPT, STYLESHEET } from "./pages/assets";
import { hostPage } from "./pages/host-page";
import { page, type PageContext } from "./pages/layout";
import { loginPage } from "./pages/login-page";
import { hostHref, overviewPage } from "./pages/overview-page";
import { snapshotPage } from "./pages/snapshot-page";
import { storagePage } from "./pages/storage-page";
import { html } from "./html";
import { isLoopback } from "./loopback";
import { SESSION_COOKIE, SESSION_MS, Sessions } from "./session";
import { bearerMatches } from "./token";

/** How the app is protected and what it may do. */
export interface DashboardOptions {
  /** Required on every request when set (bearer header or session cookie). */
  token?: string;
  /** Run-now and verify-now; only with a token. */
  actions?: FleetActions;
  /** Where unexpected errors are reported (never to the client). */
  logError?: (err: unknown) => void;
}

/** Headers every response carries: no scripts or frames from elsewhere, no sniffing, no referrer. */
const SECURITY_HEADERS: Record<string, string> = {
  "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  "X-Content-Type-Options": "nosniff",
  "X-Frame-Options": "DENY",
  "Referrer-Policy": "no-referrer",
  "Cache-Control": "no-store",
};

/** What a successful action's redirect says on the host page. */
const STARTED: Record<string, string> = {
  backup: "A backup of this host started. It is listed under Recent jobs; reload to follow it.",
  verify: "A deep verification of this host's newest snapshot started. It is listed under Recent jobs; reload to follow it.",
};

const isApi = (path: string) => path === "/metrics" || path.startsWith("/api/");
const jsonError = (c: Context, status: 400 | 401 | 403 | 404 | 409 | 422 | 500, code: string, message: string) => c.json({ error: { code, message } }, status);

/** A local path to return to after signing in: one slash, then no slash or backslash, no control character or space (browsers drop tabs: `/\t/evil` is `//evil`). */
function localPath(next: unknown): string {
  return typeof next === "string" && /^\/(?![/\\])[^\x00-\x20\x7f\\]*$/.test(next) ? next : "/";
}

/** Headers a reverse proxy adds: a tokenless dashboard is for this machine only. */
const PROXY_HEADERS = ["X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "Forwarded", "X-Real-IP"];

/** A text field of a parsed form, or undefined. */
const field = (form: Record<string, unknown>, name: string) => (typeof form[name] === "string" ? (form[name] as string) : undefined);

/** Whether the browser says the request came from one of `sites` (`Sec-Fetch-Site`); a client that does not say is taken at its word. */
const fromThisSite = (c: Context, sites: string[]) => {
  const site = c.req.header("Sec-Fetch-Site");
  return site === undefined || sites.includes(site);
};

/** The app over `view`. */
export function dashboardApp(view: FleetView, options: DashboardOptions = {}): Hono {
  if (options.actions && !options.token) throw new Error("dashboard actions need a token");
  const app = new Hono();
  const sessions = options.token ? new Sessions(options.token) : undefined;
  const sessionOf = (c: Context) => {
    const id = getCookie(c, SESSION_COOKIE);
    return sessions && sessions.valid(id, Date.now()) ? id : undefined;
  };
  const pageContext = (c: Context, notice?: string): PageContext => {
    const session = sessionOf(c);
    return { now: new Date(), signedIn: session !== undefined, actions: options.actions !== undefined, ...(session && sessions ? { csrf: sessions.csrf(session) } : {}), ...(notice ? { notice } : {}) };
  };
  const notFoundPage = (c: Context, what: string) => c.html(page("Not found", pageContext(c), html`<h1>Not found</h1><p>${what}</p><p><a href="/">Back to the fleet</a></p>`), 404);

  app.use("*", async (c, next) => {
    await next();
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) c.header(name, value);
  });
  app.use("*", bodyLimit({ maxSize: 16 * 1024, onError: (c) => jsonError(c, 400, "TOO_LARGE", "request body over 16 KiB") }));
  app.onError((err, c) => {
    options.logError?.(err);
    return isApi(c.req.path) ? jsonError(c, 500, "INTERNAL", "the dashboard failed to answer; its log says why") : c.html(page("Error", pageContext(c), html`<h1>Something went wrong</h1><p>The dashboard's log says why.</p>`), 500);
  });

  app.get("/assets/dashboard.css", (c) => c.body(STYLESHEET, 200, { "Content-Type": "text/css; charset=utf-8" }));
  app.get("/assets/dashboard.js", (c) => c.body(SCRIPT, 200, { "Content-Type": "text/javascript; charset=utf-8" }));

  if (!options.token) {
    // Without a token, answer only requests made to a loopback name on this machine: a web page whose
    // name was re-pointed at 127.0.0.1 (DNS rebinding) or a reverse proxy never reads the fleet.
    app.use("*", async (c, next) => {
      if (isLoopback(new URL(c.req.url).hostname.replace(/^\[|\]$/g, "")) && !PROXY_HEADERS.some((h) => c.req.header(h) !== undefined)) return next();
      return jsonError(c, 403, "TOKEN_REQUIRED", "this dashboard has no token and answers only requests to 127.0.0.1 or localhost from this machine: set LIFEBOAT_DASHBOARD_TOKEN to serve it through a proxy or another name");
    });
  }
  if (sessions) {
    app.get("/login", (c) => c.html(loginPage(new Date(), localPath(c.req.query("next")), false)));
    app.post("/login", async (c) => {
      // A form posted from another site never signs anyone in.
      if (!fromThisSite(c, ["same-origin", "none"])) return jsonError(c, 403, "CROSS_SITE", "sign in from the dashboard's own page");
      const form = await c.req.parseBody();
      const next = localPath(form.next);
      const token = field(form, "token");
      const id = token === undefined ? null : sessions.signIn(token, Date.now());
      if (!id) return c.html(loginPage(new Date(), next, true), 401);
      // A new session replaces the browser's old one.
      sessions.signOut(getCookie(c, SESSION_COOKIE));
      const secure = new URL(c.req.url).protocol === "https:" || c.req.header("X-Forwarded-Proto") === "https";
      setCookie(c, SESSION_COOKIE, id, { httpOnly: true, sameSite: "Strict", path: "/", maxAge: SESSION_MS / 1000, secure });
      return c.redirect(next, 303);
    });
    app.use("*", async (c, next) => {
      if (bearerMatches(c.req.header("Authorization"), options.token!) || sessionOf(c)) return next();
      c.header("WWW-Authenticate", 'Bearer realm="lifeboat"');
      if (isApi(c.req.path)) return jsonError(c, 401, "UNAUTHORIZED", "this Lifeboat dashboard needs its token: Authorization: Bearer <token>");
      return c.html(loginPage(new Date(), c.req.method === "GET" ? c.req.path : "/", false), 401);
    });
    app.post("/logout", async (c) => {
      const session = sessionOf(c);
      const form = await c.req.parseBody();
      if (session && !sessions.csrfMatches(session, field(form, "csrf"))) return jsonError(c, 403, "CSRF", "the form is stale: reload the page and try again");
      sessions.signOut(session);
      deleteCookie(c, SESSION_COOKIE, { path: "/" });
      return c.redirect("/login", 303);
    });
  }

  app.get("/", (c) => c.html(overviewPage(view.overview(new Date()), pageContext(c))));
  app.get("/storage", (c) => c.html(storagePage(view.storage(new Date()), pageContext(c))));
  app.get("/hosts/:host", (c) => {
    const host = view.host(c.req.param("host"), new Date());
    if (!host) return notFoundPage(c, `No host "${c.req.param("host")}" in the inventory.`);
    const key = c.req.query("started") ?? "";
    const started = Object.hasOwn(STARTED, key) ? STARTED[key] : undefined;
    return c.html(hostPage(host, pageContext(c, started)));
  });
  app.get("/hosts/:host/snapshots/:id", (c) => {
    const snapshot = view.snapshot(c.req.param("host"), c.req.param("id"), new Date());
    if (!snapshot) return notFoundPage(c, `No snapshot "${c.req.param("id")}" of "${c.req.param("host")}" in the ledger.`);
    return c.html(snapshotPage(snapshot, pageContext(c)));
  });

  app.get("/api/status", (c) => c.json({ type: "status", ...view.status(new Date()) }));
  app.get("/api/hosts", (c) => c.json(view.overview(new Date())));
  app.get("/api/hosts/:host", (c) => {
    const host = view.host(c.req.param("host"), new Date());
    return host ? c.json(host) : jsonError(c, 404, "NOT_FOUND", `no host "${c.req.param("host")}" in the inventory`);
  });
  app.get("/api/hosts/:host/snapshots/:id", (c) => {
    const snapshot = view.snapshot(c.req.param("host"), c.req.param("id"), new Date());
    return snapshot ? c.json(snapshot) : jsonError(c, 404, "NOT_FOUND", `no snapshot "${c.req.param("id")}" of "${c.req.param("host")}" in the ledger`);
  });
  app.get("/api/storage", (c) => c.json(view.storage(new Date())));
  app.get("/metrics", (c) => {
    const now = new Date();
    const summaries = view.summaries(now);
    return c.body(fleetMetrics(summaries, countStatus(summaries), view.instanceFigures(now)), 200, { "Content-Type": "text/plain; version=0.0.4; charset=utf-8" });
  });

  const actionRoutes: [string, ActionKind][] = [["run", "backup"], ["verify", "verify"]];
  for (const [path, kind] of actionRoutes) {
    app.post(`/api/hosts/:host/${path}`, async (c) => {
      if (!options.actions) return jsonError(c, 403, "ACTIONS_OFF", "actions are off: start the dashboard with --actions (and a token)");
      // Bearer only: a browser's cookie alone never starts anything through the API.
      if (!bearerMatches(c.req.header("Authorization"), options.token!)) return jsonError(c, 403, "BEARER_REQUIRED", "actions through the API need Authorization: Bearer <token>");
      const result = await options.actions.start(kind, c.req.param("host"));
      return result.started ? c.json({ type: "action", kind, host: c.req.param("host"), started: true }, 202) : jsonError(c, result.status, "NOT_STARTED", result.reason);
    });
    app.post(`/hosts/:host/${path}`, async (c) => {
      const host = c.req.param("host");
      if (!options.actions) return notFoundPage(c, "Actions are off on this dashboard.");
      const session = sessionOf(c);
      const form = await c.req.parseBody();
      if (!session || !sessions!.csrfMatches(session, field(form, "csrf")) || !fromThisSite(c, ["same-origin"])) {
        return c.html(page("Refused", pageContext(c), html`<h1>Refused</h1><p>The form did not come from this dashboard's page, or it is stale: reload the host page and try again.</p>`), 403);
      }
      const result = await options.actions.start(kind, host);
      if (result.started) return c.redirect(`${hostHref(host)}?started=${kind}`, 303);
      const hostView = view.host(host, new Date());
      return hostView ? c.html(hostPage(hostView, pageContext(c, `Not started: ${result.reason}.`)), result.status) : notFoundPage(c, result.reason);
    });
  }

  app.notFound((c) => (isApi(c.req.path) ? jsonError(c, 404, "NOT_FOUND", `no such page: ${c.req.method} ${c.req.path}`) : notFoundPage(c, `No page ${c.req.path}.`)));
  return app;
}
