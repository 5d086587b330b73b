// The dashboard app in process (Hono's app.request) over a real ledger file: the overview's order
// and states against fleetStatus, the host and snapshot pages, escaping of what hosts wrote, the
// JSON API, the sign-in flow, CSRF on actions, and the per-instance metrics.
import { afterEach, describe, expect, it } from "vitest";
import { fleetStatus } from "../fleet/status";
import { artifactOf, backUp, inventoryYaml, ledgerFixture, verifyDeep } from "../../test/harness/ledger-rows";
import { parsePrometheus } from "../../test/harness/prometheus";
import type { ActionKind, FleetActions } from "./actions";
import { dashboardApp } from "./app";
import { FleetView } from "./fleet-view";
import { dashboardToken } from "./server";
import type { HostView, OverviewView, SnapshotPageView } from "./views";

const TOKEN = "a-dashboard-token-of-some-length";
const fixtures: ReturnType<typeof ledgerFixture>[] = [];
afterEach(() => {
  for (const f of fixtures.splice(0)) f.cleanup();
});

/** Four hosts: fresh, FAILED, UNVERIFIED and STALE (never backed up), one job with a hostile hook output. */
function fleet() {
  const f = ledgerFixture(
    inventoryYaml({
      fresh: { plugins: { files: { paths: ["/srv"] } } },
      failing: { plugins: { files: { paths: ["/srv"] } } },
      unverified: { plugins: { files: { paths: ["/srv"] }, db: { plugin: "sqlite", databases: ["/srv/app.db"] } } },
      never: { plugins: { files: { paths: ["/srv"] } } },
      target: {},
    }),
  );
  fixtures.push(f);
  const ok = backUp(f.ledger, "fresh", [{ instance: "files" }]);
  verifyDeep(f.ledger, "fresh", ok, { files: "ok" });
  const good = backUp(f.ledger, "failing", [{ instance: "files" }]);
  verifyDeep(f.ledger, "failing", good, { files: "ok" });
  backUp(f.ledger, "failing", [{ instance: "files" }], "failed", "tar: /srv/<b>gone</b>: Cannot open");
  const job = f.ledger.dashboard.recentJobs("failing", 1)[0]!;
  f.ledger.recordHook({ runId: job.runId, jobId: job.jobId, host: "failing", plugin: "files", phase: "before", command: "echo '<script>'", code: 0, output: "<script>window.pwned = 1</script><img src=x onerror=alert(1)>" });
  f.ledger.recordInstanceRun({ jobId: job.jobId, host: "failing", instance: "files", status: "failed", durationMs: 1500 });
  const u = backUp(f.ledger, "unverified", [{ instance: "files" }, { instance: "db", plugin: "sqlite", metadata: { path: "/srv/app.db", tables: { users: 12, chats: 40 } } }]);
  verifyDeep(f.ledger, "unverified", u, { files: "ok" });
  const view = new FleetView(f.ledger, [...f.inventory().hosts.values()], "controller --inventory /etc/fleet.yaml");
  return { f, view, ids: { ok, good, u } };
}

describe("the dashboard app", () => {
  it("lists hosts worst first with the states controller status gives, and /api/hosts agrees with /api/status", async () => {
    const { f, view } = fleet();
    const app = dashboardApp(view);
    const api = (await (await app.request("/api/hosts")).json()) as OverviewView;
    expect(api.hosts.map((h) => [h.host, h.states])).toEqual([
      ["never", ["STALE", "UNVERIFIED"]],
      ["failing", ["FAILED"]],
      ["unverified", ["UNVERIFIED"]],
      ["fresh", ["fresh"]],
      ["target", ["restore-target"]],
    ]);
    const status = (await (await app.request("/api/status")).json()) as { hosts: { host: string; states: string[] }[]; counts: unknown };
    const direct = JSON.parse(JSON.stringify(fleetStatus(f.ledger, [...f.inventory().hosts.values()], new Date())));
    expect(status.hosts.map((h) => [h.host, h.states])).toEqual(direct.hosts.map((h: { host: string; states: string[] }) => [h.host, h.states]));
    expect(status.counts).toEqual(direct.counts);
    for (const h of api.hosts) expect(h.states).toEqual(status.hosts.find((s) => s.host === h.host)!.states);
    expect(api.counts).toEqual(direct.counts);
    expect(api.hosts.find((h) => h.host === "fresh")!.storage).toEqual({ snapshots: 1, plainBytes: 100, storedBytes: 50, reusedBytes: 0 });

    const page = await (await app.request("/")).text();
    const order = [...page.matchAll(/<tr data-host="([^"]+)"/g)].map((m) => m[1]);
    expect(order).toEqual(api.hosts.map((h) => h.host));
  });

  it("renders what hosts wrote as text: hook output and error messages never become markup", async () => {
    const { view } = fleet();
    const app = dashboardApp(view);
    const res = await app.request("/hosts/failing");
    expect(res.status).toBe(200);
    const page = await res.text();
    expect(page).toContain("&lt;script&gt;window.pwned = 1&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;");
    expect(page).toContain("tar: /srv/&lt;b&gt;gone&lt;/b&gt;: Cannot open");
    expect(page).not.toContain("<script>window.pwned");
    expect(page).not.toContain("<img src=x");
    // The only script is the dashboard's own file.
    expect([...page.matchAll(/<script/g)].length).toBe(1);
    expect(page).toContain('<script src="/assets/dashboard.js"></script>');
    expect(res.headers.get("content-security-policy")).toContain("script-src 'self'");
    const overview = await (await app.request("/")).text();
    expect(overview).toContain("&lt;b&gt;gone&lt;/b&gt;");
  });

  it("shows a host's snapshots, instances with their facts, runs with hooks, and the retention plan", async () => {
    const { view, ids } = fleet();
    const app = dashboardApp(view);
    const host = (await (await app.request("/api/hosts/unverified")).json()) as HostView;
    expect(host.snapshots.map((s) => s.id)).toEqual([ids.u]);
    expect(host.instances.map((i) => [i.instance, i.lastSuccess?.snapshotId, i.verification === null])).toEqual([
      ["files", ids.u, false],
      ["db", ids.u, true],
    ]);
    expect(host.retention.policy).toBeNull();
    const page = await (await app.request("/hosts/unverified")).text();
    expect(page).toContain(`data-snapshot="${ids.u}"`);
    expect(page).toContain("users 12, chats 40");
    expect(page).toContain("No retention policy");
    const failing = (await (await app.request("/api/hosts/failing")).json()) as HostView;
    expect(failing.runs[0]!.status).toBe("failed");
    expect(failing.runs[0]!.hooks[0]!.output).toContain("<script>");
    expect((await app.request("/hosts/nobody")).status).toBe(404);
    expect((await app.request("/api/hosts/nobody")).status).toBe(404);
  });

  it("gives a snapshot's restore, verify and fetch command lines, quoted for a shell", async () => {
    const { view, ids } = fleet();
    const app = dashboardApp(view);
    const snap = (await (await app.request(`/api/hosts/fresh/snapshots/${ids.ok}`)).json()) as SnapshotPageView;
    expect(snap.commands.restorePlan).toBe(`controller --inventory /etc/fleet.yaml restore --from fresh --snapshot ${ids.ok} --plan`);
    expect(snap.commands.fetch).toEqual([{ artifact: "files/files.tar", command: `controller --inventory /etc/fleet.yaml fetch --from fresh --snapshot ${ids.ok} --artifact files/files.tar --out files-files.tar` }]);
    expect(snap.verifications.map((v) => v.result)).toEqual(["ok"]);
    expect(snap.job?.status).toBe("ok");
    const page = await (await app.request(`/hosts/fresh/snapshots/${ids.ok}`)).text();
    expect(page).toContain(snap.commands.restore);
    expect((await app.request("/hosts/fresh/snapshots/nope")).status).toBe(404);
  });

  it("exposes per-instance metrics that hold what the ledger says", async () => {
    const { view, ids, f } = fleet();
    const app = dashboardApp(view);
    const metrics = parsePrometheus(await (await app.request("/metrics")).text());
    const finished = f.ledger.getSnapshot("unverified", ids.u)!.finishedAt!;
    expect(metrics.value("lifeboat_instance_last_success_timestamp_seconds", { host: "unverified", instance: "db", plugin: "sqlite" })).toBe(Date.parse(finished) / 1000);
    expect(metrics.value("lifeboat_instance_last_snapshot_bytes", { host: "unverified", instance: "db", plugin: "sqlite" })).toBe(100);
    expect(metrics.samples("lifeboat_instance_verification_age_seconds").map((s) => s.labels.instance + "@" + s.labels.host).sort()).toEqual(["files@failing", "files@fresh", "files@unverified"]);
    expect(metrics.value("lifeboat_instance_stale", { host: "never", instance: "files", plugin: "files" })).toBe(1);
    expect(metrics.value("lifeboat_instance_stale", { host: "fresh", instance: "files", plugin: "files" })).toBe(0);
    expect(metrics.value("lifeboat_fleet_stored_bytes", {})).toBe(250);
    expect(metrics.value("lifeboat_last_run_failed", { host: "failing" })).toBe(1);
    expect(metrics.type("lifeboat_open_alerts")).toBe("gauge");
    expect(metrics.value("lifeboat_instance_last_run_duration_seconds", { host: "failing", instance: "files", plugin: "files" })).toBe(1.5);
    expect(metrics.value("lifeboat_instance_last_run_failed", { host: "failing", instance: "files", plugin: "files" })).toBe(1);
    expect(metrics.has("lifeboat_instance_last_run_failed", { host: "never", instance: "files", plugin: "files" })).toBe(false);
  });

  it("with a token: refuses requests without it, takes the bearer header, and signs a browser in for a session cookie", async () => {
    const { view } = fleet();
    const app = dashboardApp(view, { token: TOKEN });
    for (const path of ["/", "/hosts/fresh", "/storage", "/api/hosts", "/metrics", "/nothing-here"]) {
      const res = await app.request(path);
      expect(res.status, path).toBe(401);
      expect(await res.text(), path).not.toContain("fresh</a>");
    }
    expect((await app.request("/api/hosts", { headers: { Authorization: `Bearer ${TOKEN}x` } })).status).toBe(401);
    expect((await app.request("/api/hosts", { headers: { Authorization: `Bearer ${TOKEN}` } })).status).toBe(200);
    // The sign-in page itself and the assets need no token.
    expect((await app.request("/login")).status).toBe(200);
    expect((await app.request("/assets/dashboard.css")).status).toBe(200);

    const wrong = await app.request("/login", { method: "POST", body: new URLSearchParams({ token: "guess-guess-guess", next: "/" }) });
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get("set-cookie")).toBeNull();
    const crossSite = await app.request("/login", { method: "POST", headers: { "Sec-Fetch-Site": "cross-site" }, body: new URLSearchParams({ token: TOKEN }) });
    expect(crossSite.status).toBe(403);
    for (const next of ["//evil.example/", "/\t/evil.example", "/\\evil.example", "https://evil.example/", "/\n", "/ok\r\nSet-Cookie: x=1"]) {
      const res = await app.request("/login", { method: "POST", body: new URLSearchParams({ token: TOKEN, next }) });
      expect(res.status, JSON.stringify(next)).toBe(303);
      expect(res.headers.get("location"), JSON.stringify(next)).toBe("/");
    }
    const back = await app.request("/login", { method: "POST", body: new URLSearchParams({ token: TOKEN, next: "/hosts/fresh" }) });
    expect(back.headers.get("location")).toBe("/hosts/fresh");
    const ok = await app.request("/login", { method: "POST", body: new URLSearchParams({ token: TOKEN, next: "/" }) });
    expect(ok.status).toBe(303);
    const cookie = ok.headers.get("set-cookie")!;
    expect(cookie).toMatch(/HttpOnly/i);
    expect(cookie).toMatch(/SameSite=Strict/i);
    expect(cookie).not.toContain(TOKEN);
    const session = cookie.split(";")[0]!;
    expect((await app.request("/hosts/fresh", { headers: { Cookie: session } })).status).toBe(200);
    expect((await app.request("/hosts/fresh", { headers: { Cookie: "lifeboat_session=forged" } })).status).toBe(401);
  });

  it("starts actions only from the dashboard's own form (CSRF token) or with the bearer token, and only when turned on", async () => {
    const { view } = fleet();
    const started: [ActionKind, string][] = [];
    const actions: FleetActions = {
      async start(kind, host) {
        started.push([kind, host]);
        return host === "fresh" ? { started: true } : { started: false, status: 409, reason: `a backup of "${host}" is running` };
      },
      async settle() {},
    };
    expect(() => dashboardApp(view, { actions })).toThrow(/token/);
    const off = dashboardApp(view, { token: TOKEN });
    expect((await off.request("/api/hosts/fresh/run", { method: "POST", headers: { Authorization: `Bearer ${TOKEN}` } })).status).toBe(403);

    const app = dashboardApp(view, { token: TOKEN, actions });
    const login = await app.request("/login", { method: "POST", body: new URLSearchParams({ token: TOKEN }) });
    const session = login.headers.get("set-cookie")!.split(";")[0]!;
    const page = await (await app.request("/hosts/fresh", { headers: { Cookie: session } })).text();
    const csrf = /name="csrf" value="([^"]+)"/.exec(page)![1]!;

    // Without the CSRF token, with another session's, from another site: refused, nothing started.
    expect((await app.request("/hosts/fresh/run", { method: "POST", headers: { Cookie: session }, body: new URLSearchParams({}) })).status).toBe(403);
    expect((await app.request("/hosts/fresh/run", { method: "POST", headers: { Cookie: session }, body: new URLSearchParams({ csrf: csrf.slice(1) }) })).status).toBe(403);
    expect((await app.request("/hosts/fresh/run", { method: "POST", headers: { Cookie: session, "Sec-Fetch-Site": "cross-site" }, body: new URLSearchParams({ csrf }) })).status).toBe(403);
    expect((await app.request("/hosts/fresh/run", { method: "POST", body: new URLSearchParams({ csrf }) })).status).toBe(401);
    // A cookie alone never starts anything through the API.
    expect((await app.request("/api/hosts/fresh/run", { method: "POST", headers: { Cookie: session } })).status).toBe(403);
    expect(started).toEqual([]);

    const ok = await app.request("/hosts/fresh/run", { method: "POST", headers: { Cookie: session, "Sec-Fetch-Site": "same-origin" }, body: new URLSearchParams({ csrf }) });
    expect(ok.status).toBe(303);
    expect(ok.headers.get("location")).toBe("/hosts/fresh?started=backup");
    const busy = await app.request("/hosts/failing/verify", { method: "POST", headers: { Cookie: session }, body: new URLSearchParams({ csrf }) });
    expect(busy.status).toBe(409);
    expect(await busy.text()).toContain("Not started: a backup of &quot;failing&quot; is running.");
    const api = await app.request("/api/hosts/fresh/verify", { method: "POST", headers: { Authorization: `Bearer ${TOKEN}` } });
    expect(api.status).toBe(202);
    expect(started).toEqual([["backup", "fresh"], ["verify", "failing"], ["verify", "fresh"]]);
  });

  it("without a token, answers only requests to a loopback name from this machine (no DNS rebinding, no proxy)", async () => {
    const { view } = fleet();
    const app = dashboardApp(view);
    expect((await app.request("http://127.0.0.1:8470/api/hosts")).status).toBe(200);
    expect((await app.request("http://localhost:8470/")).status).toBe(200);
    expect((await app.request("http://[::1]:8470/metrics")).status).toBe(200);
    for (const url of ["http://attacker.example:8470/api/hosts", "http://127.0.0.1.nip.io:8470/api/hosts", "http://10.0.0.5:8470/"]) expect((await app.request(url)).status, url).toBe(403);
    expect((await app.request("http://127.0.0.1:8470/api/hosts", { headers: { "X-Forwarded-For": "203.0.113.9" } })).status).toBe(403);
    // With a token, any name: it is the token that protects it.
    const withToken = dashboardApp(view, { token: TOKEN });
    expect((await withToken.request("http://backups.example.org/api/hosts", { headers: { Authorization: `Bearer ${TOKEN}` } })).status).toBe(200);
  });

  it("puts only plain artifact names on a command line: a name a compromised host chose is never pasted into a shell", async () => {
    const { view, ids, f } = fleet();
    f.ledger.recordArtifact("fresh", ids.ok, { ...artifactOf("fresh", ids.ok, "files"), name: "x\\';id #" });
    const snap = (await (await dashboardApp(view).request(`/api/hosts/fresh/snapshots/${ids.ok}`)).json()) as SnapshotPageView;
    expect(snap.snapshot.artifacts.map((a) => a.name).sort()).toEqual(["files.tar", "x\\';id #"]);
    expect(snap.commands.fetch.map((c) => c.artifact)).toEqual(["files/files.tar"]);
  });

  it("takes the token from the environment once, so the processes it starts never inherit it", () => {
    const env: NodeJS.ProcessEnv = { LIFEBOAT_DASHBOARD_TOKEN: TOKEN, PATH: "/usr/bin" };
    expect(dashboardToken({ host: "127.0.0.1", port: 8470 }, false, env)).toBe(TOKEN);
    expect(env).toEqual({ PATH: "/usr/bin" });
  });

  it("answers the storage page and API with totals per host and destination", async () => {
    const { view } = fleet();
    const app = dashboardApp(view);
    const storage = (await (await app.request("/api/storage")).json()) as { totals: { snapshots: number; storedBytes: number }; destinations: { destination: string; storedBytes: number }[] };
    expect(storage.totals).toMatchObject({ snapshots: 4, storedBytes: 250, plainBytes: 500 });
    expect(storage.destinations.map((d) => [d.destination, d.storedBytes])).toEqual([["local", 250]]);
    expect((await app.request("/storage")).status).toBe(200);
  });
});
