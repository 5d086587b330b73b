// `controller serve` (the built bundle, a real HTTP server on loopback) over a real ledger file:
// the API says what `controller status --json` says, /metrics holds the ledger's values in the
// Prometheus text format, the token is required when set, and unsafe listening is refused.
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { controller } from "../../test/harness/controller-cli";
import { freePort, waitForPort } from "../../test/harness/free-port";
import { backUp, inventoryYaml, ledgerFixture, verifyDeep } from "../../test/harness/ledger-rows";
import { parsePrometheus } from "../../test/harness/prometheus";

const bundle = fileURLToPath(new URL("../../dist/controller.mjs", import.meta.url));
const TOKEN = "t0ken-of-the-test-fleet-0123456789";

describe("controller serve", () => {
  let fx: ReturnType<typeof ledgerFixture>;
  let server: ChildProcess;
  let base: string;
  let snapshotId: string;
  const env = () => ({ LIFEBOAT_STATE: fx.state, LIFEBOAT_INVENTORY: fx.inventoryFile });
  const get = (path: string, token: string | null = TOKEN) => fetch(`${base}${path}`, token ? { headers: { Authorization: `Bearer ${token}` } } : {});

  beforeAll(async () => {
    fx = ledgerFixture(inventoryYaml({ web: { plugins: { files: { paths: ["/srv/data"] } } }, "db-1": { plugins: { files: { paths: ["/srv/db"] } } }, spare: {} }));
    snapshotId = backUp(fx.ledger, "web", [{ instance: "files" }]);
    verifyDeep(fx.ledger, "web", snapshotId, { files: "ok" });
    backUp(fx.ledger, "db-1", [{ instance: "files" }], "failed", "Cannot back up \"/srv/db\": <script>alert(1)</script>");
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    server = spawn(process.execPath, [bundle, "serve", "--listen", `127.0.0.1:${port}`], { env: { ...process.env, ...env(), LIFEBOAT_DASHBOARD_TOKEN: TOKEN }, stdio: ["ignore", "pipe", "pipe"] });
    await waitForPort(port);
  });
  afterAll(() => {
    server?.kill("SIGTERM");
    fx?.cleanup();
  });

  it("answers /api/status with what controller status --json says, with protective headers", async () => {
    const res = await get("/api/status");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-security-policy")).toContain("default-src 'self'");
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    expect(res.headers.get("x-frame-options")).toBe("DENY");
    const api = (await res.json()) as { hosts: { host: string; states: string[]; snapshot: unknown }[] };
    const cli = JSON.parse((await controller(["status", "--json"], env())).stdout) as typeof api;
    const strip = (s: typeof api) => s.hosts.map((h) => ({ host: h.host, states: h.states, snapshot: (h.snapshot as { id: string } | null)?.id ?? null }));
    expect(strip(api)).toEqual(strip(cli));
    expect(strip(api)).toEqual([
      { host: "web", states: ["fresh"], snapshot: snapshotId },
      { host: "db-1", states: ["STALE", "FAILED", "UNVERIFIED"], snapshot: null },
      { host: "spare", states: ["restore-target"], snapshot: null },
    ]);
  });

  it("exposes /metrics in the Prometheus text format with the ledger's values", async () => {
    const res = await get("/metrics");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
    const metrics = parsePrometheus(await res.text());
    const finished = fx.ledger.getSnapshot("web", snapshotId)!.finishedAt!;
    expect(metrics.value("lifeboat_last_success_timestamp_seconds", { host: "web" })).toBe(Date.parse(finished) / 1000);
    expect(metrics.has("lifeboat_last_success_timestamp_seconds", { host: "db-1" })).toBe(false);
    expect(metrics.value("lifeboat_stale", { host: "web" })).toBe(0);
    expect(metrics.value("lifeboat_stale", { host: "db-1" })).toBe(1);
    expect(metrics.value("lifeboat_last_run_failed", { host: "db-1" })).toBe(1);
    expect(metrics.value("lifeboat_unverified_instances", { host: "web" })).toBe(0);
    expect(metrics.value("lifeboat_hosts", { state: "fresh" })).toBe(1);
    expect(metrics.value("lifeboat_hosts", { state: "restore-target" })).toBe(1);
    expect(metrics.value("lifeboat_instance_last_success_timestamp_seconds", { host: "web", instance: "files", plugin: "files" })).toBe(Date.parse(finished) / 1000);
    for (const name of metrics.names()) expect(metrics.type(name), name).toBe("gauge");
  });

  it("refuses a request without the token, or with another, and serves nothing it does not know", async () => {
    for (const token of [null, "wrong", `${TOKEN}x`]) {
      const res = await get("/metrics", token);
      expect(res.status, String(token)).toBe(401);
      expect(res.headers.get("www-authenticate")).toBe('Bearer realm="lifeboat"');
      expect(await res.text()).not.toContain("lifeboat_");
    }
    expect((await get("/api/nothing")).status).toBe(404);
  });

  it("refuses to listen beyond loopback without a token, a short token, and a malformed address", async () => {
    const open = await controller(["serve", "--listen", "0.0.0.0:8470"], { ...env(), LIFEBOAT_DASHBOARD_TOKEN: "" });
    expect(open.code).toBe(2);
    expect(open.stderr).toContain("not a loopback address, without a token");
    const short = await controller(["serve"], { ...env(), LIFEBOAT_DASHBOARD_TOKEN: "abc" });
    expect(short.code).toBe(2);
    expect(short.stderr).toContain("too short");
    expect(short.stderr).not.toContain("abc\n");
    const actions = await controller(["serve", "--actions"], { ...env(), LIFEBOAT_DASHBOARD_TOKEN: "" });
    expect(actions.code).toBe(2);
    expect(actions.stderr).toContain("--actions needs a token");
    const bad = await controller(["serve", "--listen", "localhost"], env());
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--listen "localhost" is not HOST:PORT');
  });
});

describe("controller daemon --serve", () => {
  it("serves the same dashboard from the daemon's process, and stops with it", async () => {
    const fx = ledgerFixture(inventoryYaml({ web: { plugins: { files: { paths: ["/srv/data"] } } }, spare: {} }, { schedule: "0 3 * * *" }));
    try {
      // Backed up just now: no catch-up run at start, the daemon only waits for 03:00.
      const id = backUp(fx.ledger, "web", [{ instance: "files" }]);
      const env = { LIFEBOAT_STATE: fx.state, LIFEBOAT_INVENTORY: fx.inventoryFile, LIFEBOAT_DASHBOARD_TOKEN: "" };
      expect((await controller(["init"], env)).code).toBe(0);
      const refused = await controller(["daemon", "--actions"], env);
      expect(refused.code).toBe(2);
      expect(refused.stderr).toContain("--actions goes with --serve");
      const port = await freePort();
      let log = "";
      const daemon = spawn(process.execPath, [bundle, "daemon", "--serve", `127.0.0.1:${port}`, "--json"], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
      daemon.stdout!.on("data", (d: Buffer) => (log += d.toString()));
      const exited = new Promise<number | null>((resolve) => daemon.once("exit", resolve));
      await waitForPort(port);
      const hosts = (await (await fetch(`http://127.0.0.1:${port}/api/hosts`)).json()) as { hosts: { host: string; snapshot: { id: string } | null }[] };
      expect(hosts.hosts.map((h) => [h.host, h.snapshot?.id ?? null])).toEqual([["web", id], ["spare", null]]);
      expect(await (await fetch(`http://127.0.0.1:${port}/`)).text()).toContain('data-host="web"');
      daemon.kill("SIGTERM");
      expect(await exited).toBe(0);
      expect(log).toContain('"event":"dashboard"');
      await expect(fetch(`http://127.0.0.1:${port}/api/hosts`)).rejects.toThrow();
    } finally {
      fx.cleanup();
    }
  });
});
