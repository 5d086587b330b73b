// The dashboard in a real browser: headless Chromium (Debian's) driven by playwright-core, against
// `controller serve --actions` (the built bundle) over a real fleet with real runs in its ledger:
// a STALE host, a FAILED one, an UNVERIFIED one and a fresh one. The overview shows the worst first
// with the states `controller status --json` gives, a host page lists its snapshots and shows a
// hook's `<script>` as text, the "Back up now" button runs a backup that then appears, a request
// without the token is refused, /metrics holds the ledger's values, and no secret of the inventory
// or the controller reaches a page. Screenshots of each page are kept in test-artifacts/screenshots.
import { spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp, type AppData } from "../harness/app-data";
import { launchBrowser, screenshotPath } from "../harness/browser";
import { startFleet, type Fleet, type HostEntry } from "../harness/fleet";
import { freePort, waitForPort } from "../harness/free-port";
import { parsePrometheus } from "../harness/prometheus";

const bundle = fileURLToPath(new URL("../../dist/controller.mjs", import.meta.url));
const TOKEN = "dashboard-test-token-0123456789abcdef";
/** What the FAILED host's hook prints: markup a host must never get into the operator's browser. */
const HOSTILE = `<script>window.pwned = 1</script><img src=x onerror="window.pwned = 2">`;

interface StatusJson {
  hosts: { host: string; states: string[] }[];
}
interface SnapshotsJson {
  snapshots?: { id: string; status: string; finishedAt: string | null }[];
}

describe("the dashboard in a real browser, over a real fleet", () => {
  let fleet: Fleet;
  let server: ChildProcess;
  let serverLog = "";
  let base: string;
  let browser: Browser;
  let page: Page;
  const apps: Record<string, AppData> = {};

  const hosts = (broken: boolean): Record<string, HostEntry> => ({
    fresh: { destination: "s3", plugins: { files: { paths: [apps.fresh!.data] } } },
    failing: { destination: "local", plugins: { files: { paths: [broken ? "/nonexistent/lifeboat-test" : apps.failing!.data], hooks: { before: `printf '%s\\n' '${HOSTILE}'` } } } },
    unverified: { destination: "sftp", plugins: { files: { paths: [apps.unverified!.data] }, db: { plugin: "sqlite", databases: [apps.unverified!.database] } } },
    stale: { destination: "s3", plugins: { files: { paths: [apps.stale!.data] } } },
  });

  async function snapshots(host: string): Promise<{ id: string; status: string; finishedAt: string | null }[]> {
    const r = await fleet.controller(["snapshots", "--host", host, "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout) as SnapshotsJson | SnapshotsJson["snapshots"];
    return (Array.isArray(doc) ? doc : doc!.snapshots)!;
  }

  beforeAll(async () => {
    fleet = await startFleet(["fresh", "failing", "unverified", "stale"]);
    for (const name of Object.keys(fleet.hosts)) apps[name] = createApp(fleet.hosts[name]!);
    expect((await fleet.controller(["init"])).code).toBe(0);
    fleet.writeInventory(hosts(false), { defaults: { maxAge: "1h", verifyEvery: "1h" } });
    const run = await fleet.controller(["run", "--host", "fresh,failing,unverified"]);
    expect(run.code, run.stderr + run.stdout).toBe(0);
    for (const host of ["fresh", "failing"]) {
      const verify = await fleet.controller(["verify", "--host", host]);
      expect(verify.code, verify.stderr + verify.stdout).toBe(0);
    }
    // The failing host's next backup fails (its folder is gone); its first backup's hook printed the markup.
    fleet.writeInventory(hosts(true), { defaults: { maxAge: "1h", verifyEvery: "1h" } });
    expect((await fleet.controller(["run", "--host", "failing"])).code).toBe(1);
    fleet.writeInventory(hosts(false), { defaults: { maxAge: "1h", verifyEvery: "1h" } });

    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    server = spawn(process.execPath, [bundle, "serve", "--listen", `127.0.0.1:${port}`, "--actions"], { env: { ...process.env, ...fleet.env, LIFEBOAT_DASHBOARD_TOKEN: TOKEN }, stdio: ["ignore", "pipe", "pipe"] });
    server.stdout!.on("data", (d: Buffer) => (serverLog += d.toString()));
    server.stderr!.on("data", (d: Buffer) => (serverLog += d.toString()));
    await waitForPort(port);
    browser = await launchBrowser();
    page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  });

  afterAll(async () => {
    await browser?.close();
    server?.kill("SIGTERM");
    await fleet?.stop();
  });

  it("refuses a request without the token: the browser gets the sign-in page, the API and metrics a 401", async () => {
    const res = await page.goto(`${base}/`);
    expect(res!.status()).toBe(401);
    await expect(page.locator("h1").textContent()).resolves.toBe("Sign in");
    expect(await page.locator("#hosts").count()).toBe(0);
    await page.screenshot({ path: screenshotPath("dashboard-sign-in"), fullPage: true });
    for (const p of ["/api/hosts", "/api/status", "/metrics", "/hosts/fresh"]) expect((await fetch(`${base}${p}`)).status, p).toBe(401);
    await page.fill('input[name="token"]', "not-the-token-at-all");
    await page.click('button[type="submit"]');
    await expect(page.locator('[role="alert"]').textContent()).resolves.toContain("not this dashboard's");
  });

  it("signs in, and the overview shows the worst host first with the states controller status gives", async () => {
    await page.fill('input[name="token"]', TOKEN);
    await Promise.all([page.waitForURL(`${base}/`), page.click('button[type="submit"]')]);
    const rows = page.locator("#hosts tbody tr");
    const order = await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute("data-host")));
    expect(order).toEqual(["stale", "failing", "unverified", "fresh"]);
    const status = JSON.parse((await fleet.controller(["status", "--json"])).stdout) as StatusJson;
    for (const h of status.hosts) {
      const badges = await page.locator(`tr[data-host="${h.host}"] td:nth-child(2) .state`).allTextContents();
      expect(badges, h.host).toEqual(h.states);
    }
    expect(await page.locator("#counts").textContent()).toMatch(/4\s*hosts/);
    await page.screenshot({ path: screenshotPath("dashboard-overview"), fullPage: true });

    // Sorting by a header click is the page's own script, allowed by its CSP.
    await page.click("#hosts thead th:first-child");
    expect(await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute("data-host")))).toEqual(["failing", "fresh", "stale", "unverified"]);
  });

  it("a host page lists its snapshots and shows its hook output, <script> included, as text", async () => {
    await page.goto(`${base}/`);
    await Promise.all([page.waitForURL(`${base}/hosts/failing`), page.click('tr[data-host="failing"] a[href="/hosts/failing"]')]);
    const listed = await page.locator("#snapshots tbody tr[data-snapshot]").evaluateAll((trs) => trs.map((tr) => tr.getAttribute("data-snapshot")));
    const ledger = await snapshots("failing");
    expect(listed).toEqual(ledger.map((s) => s.id));
    expect(listed.length).toBe(2);
    await expect(page.locator("h1 .state").allTextContents()).resolves.toEqual(["FAILED"]);
    const hooks = page.locator("#runs details.hook");
    expect(await hooks.count()).toBeGreaterThanOrEqual(1);
    await hooks.first().locator("summary").click();
    expect((await hooks.first().locator("pre").textContent())!.trim()).toBe(HOSTILE);
    expect(await page.evaluate(() => (window as unknown as { pwned?: number }).pwned)).toBeUndefined();
    expect(await page.locator("#runs img").count()).toBe(0);
    expect(await page.locator("script").count()).toBe(1);
    await page.screenshot({ path: screenshotPath("dashboard-host"), fullPage: true });
  });

  it("a snapshot page gives the restore and fetch command lines", async () => {
    const [complete] = (await snapshots("unverified")).filter((s) => s.status === "complete");
    await page.goto(`${base}/hosts/unverified`);
    await Promise.all([page.waitForURL(`${base}/hosts/unverified/snapshots/${complete!.id}`), page.click(`#snapshots a[href$="/snapshots/${complete!.id}"]`)]);
    const commands = await page.locator(".command code").allTextContents();
    expect(commands.some((c) => c.includes(`restore --from unverified --snapshot ${complete!.id} --plan`))).toBe(true);
    expect(commands.some((c) => c.includes(`fetch --from unverified --snapshot ${complete!.id} --artifact db/`))).toBe(true);
    expect(await page.locator("#artifacts tbody tr").count()).toBeGreaterThanOrEqual(2);
    await page.screenshot({ path: screenshotPath("dashboard-snapshot"), fullPage: true });
    await page.goto(`${base}/storage`);
    expect(await page.locator("#storage-hosts tbody tr").count()).toBe(3);
    await page.screenshot({ path: screenshotPath("dashboard-storage"), fullPage: true });
  });

  it('"Back up now" runs a backup through the controller that then appears on the page and in the ledger', async () => {
    const before = await snapshots("unverified");
    await page.goto(`${base}/hosts/unverified`);
    await Promise.all([page.waitForURL(`${base}/hosts/unverified?started=backup`), page.click('form[action="/hosts/unverified/run"] button')]);
    await expect(page.locator('[role="status"]').textContent()).resolves.toContain("A backup of this host started");
    let after = before;
    for (let i = 0; i < 120 && !(after.length > before.length && after[0]!.status !== "incomplete"); i++) {
      await new Promise((r) => setTimeout(r, 500));
      after = await snapshots("unverified");
    }
    expect(after.length, serverLog).toBe(before.length + 1);
    expect(after[0]!.status, serverLog).toBe("complete");
    await page.reload();
    expect(await page.locator(`#snapshots tr[data-snapshot="${after[0]!.id}"]`).count()).toBe(1);
    const newest = page.locator("#runs tbody tr").first();
    expect(await newest.locator("td:nth-child(3)").textContent()).toBe("dashboard");
    expect(serverLog).toContain("dashboard: backup of unverified started");
  });

  it("/metrics, read by a Prometheus text-format parser, holds the ledger's values", async () => {
    const res = await fetch(`${base}/metrics`, { headers: { Authorization: `Bearer ${TOKEN}` } });
    expect(res.status).toBe(200);
    const metrics = parsePrometheus(await res.text());
    const [newest] = await snapshots("fresh");
    expect(metrics.value("lifeboat_last_success_timestamp_seconds", { host: "fresh" })).toBe(Date.parse(newest!.finishedAt!) / 1000);
    expect(metrics.value("lifeboat_instance_last_success_timestamp_seconds", { host: "fresh", instance: "files", plugin: "files" })).toBe(Date.parse(newest!.finishedAt!) / 1000);
    expect(metrics.value("lifeboat_last_run_failed", { host: "failing" })).toBe(1);
    expect(metrics.value("lifeboat_stale", { host: "stale" })).toBe(1);
    expect(metrics.has("lifeboat_last_success_timestamp_seconds", { host: "stale" })).toBe(false);
    expect(metrics.value("lifeboat_hosts", { state: "fresh" })).toBe(1);
    // Each instance's part of the last backup, from the agent's plugin-done events.
    expect(metrics.value("lifeboat_instance_last_run_failed", { host: "failing", instance: "files", plugin: "files" })).toBe(1);
    expect(metrics.value("lifeboat_instance_last_run_failed", { host: "fresh", instance: "files", plugin: "files" })).toBe(0);
    expect(metrics.value("lifeboat_instance_last_run_duration_seconds", { host: "unverified", instance: "db", plugin: "sqlite" })).toBeGreaterThan(0);
  });

  it("no secret of the inventory or the controller reaches a page, an API answer or a metric", async () => {
    const secrets = [fleet.env.TEST_S3_SECRET!, fleet.env.TEST_S3_KEY!, ...fleet.env.TEST_VAULT_KEY!.split("\n").filter((l) => l.length > 20 && !l.startsWith("-----")), TOKEN];
    const identity = fs.readFileSync(path.join(fleet.state, "age-identity.txt"), "utf8").match(/AGE-SECRET-KEY-1\S+/)![0];
    secrets.push(identity);
    const [snapshot] = await snapshots("fresh");
    const paths = ["/", "/storage", "/api/hosts", "/api/status", "/api/storage", "/metrics", ...["fresh", "failing", "unverified", "stale"].flatMap((h) => [`/hosts/${h}`, `/api/hosts/${h}`]), `/hosts/fresh/snapshots/${snapshot!.id}`, `/api/hosts/fresh/snapshots/${snapshot!.id}`];
    for (const p of paths) {
      const res = await fetch(`${base}${p}`, { headers: { Authorization: `Bearer ${TOKEN}` } });
      expect(res.status, p).toBe(200);
      const body = await res.text();
      for (const s of secrets) expect(body.includes(s), `${p} holds a secret`).toBe(false);
      expect(body, p).not.toContain("AGE-SECRET-KEY");
    }
  });
});
