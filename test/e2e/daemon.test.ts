// `controller daemon` end to end: the built CLI as a process, a real fleet on loopback (sshd per
// host), schedules in seconds, alerts to a local HTTP receiver, SIGTERM. One host is reached
// through a TCP proxy of the test's own that first swallows connections (a hung host: the SSH
// handshake never comes) and later forwards them to the host's sshd (the host is back).
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import Database from "better-sqlite3";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createApp, type AppData } from "../harness/app-data";
import { startAlertReceiver, type AlertReceiver } from "../harness/alert-receiver";
import { startFleet, type Fleet, type HostEntry } from "../harness/fleet";

const bundle = path.resolve("dist/controller.mjs");

type DaemonLine = { time: string; event: string; host?: string; [k: string]: unknown };

/** A running `controller daemon --json`: its log lines as they come, and its exit. */
class DaemonProcess {
  readonly lines: DaemonLine[] = [];
  stderr = "";
  readonly exited: Promise<number | null>;
  private readonly child: ChildProcess;

  constructor(args: string[], env: Record<string, string>) {
    this.child = spawn(process.execPath, [bundle, "daemon", "--json", ...args], { env: { ...process.env, ...env, NO_COLOR: "1" }, stdio: ["ignore", "pipe", "pipe"] });
    let partial = "";
    this.child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
      partial += chunk;
      const lines = partial.split("\n");
      partial = lines.pop()!;
      for (const line of lines) if (line.trim()) this.lines.push(JSON.parse(line) as DaemonLine);
    });
    this.child.stderr!.setEncoding("utf8").on("data", (s: string) => (this.stderr += s));
    this.exited = new Promise((resolve) => this.child.on("exit", (code) => resolve(code)));
  }

  events(event: string, host?: string): DaemonLine[] {
    return this.lines.filter((l) => l.event === event && (host === undefined || l.host === host));
  }

  async waitFor(what: string, predicate: () => boolean, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate()) {
      if (Date.now() > deadline) throw new Error(`the daemon did not reach "${what}" within ${timeoutMs} ms:\n${this.lines.map((l) => JSON.stringify(l)).join("\n")}\n${this.stderr}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  signal(name: NodeJS.Signals): void {
    this.child.kill(name);
  }

  kill(): void {
    if (this.child.exitCode === null) this.child.kill("SIGKILL");
  }
}

/** A TCP proxy to a host's sshd: `hang` accepts connections and never answers; `forward` passes them through. */
async function startFlakyProxy(targetPort: number): Promise<{ port: number; mode: "hang" | "forward"; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const state = { mode: "hang" as "hang" | "forward" };
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
    if (state.mode === "hang") return;
    const upstream = net.connect(targetPort, "127.0.0.1");
    sockets.add(upstream);
    upstream.on("close", () => sockets.delete(upstream));
    upstream.on("error", () => socket.destroy());
    socket.pipe(upstream).pipe(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return Object.assign(state, {
    port: (server.address() as net.AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  });
}

/** Adds daemon settings to the inventory the fleet harness wrote (it is JSON, which is YAML). */
function amendInventory(fleet: Fleet, change: (doc: { defaults: Record<string, unknown>; hosts: Record<string, Record<string, unknown>>; [k: string]: unknown }) => void): void {
  const text = fs.readFileSync(fleet.inventory, "utf8");
  const doc = JSON.parse(text.slice(text.indexOf("\n") + 1)) as Parameters<typeof change>[0];
  change(doc);
  fs.writeFileSync(fleet.inventory, `# written by test/e2e/daemon.test.ts\n${JSON.stringify(doc, null, 2)}\n`);
}

/** A 6-field cron expression for once a day at `t` (UTC), seconds included. */
const dailyAt = (t: Date) => `${t.getUTCSeconds()} ${t.getUTCMinutes()} ${t.getUTCHours()} * * *`;

describe("controller daemon", () => {
  let fleet: Fleet;
  let receiver: AlertReceiver;
  let proxy: Awaited<ReturnType<typeof startFlakyProxy>>;
  const apps: Record<string, AppData> = {};
  const daemons: DaemonProcess[] = [];
  const ledger = () => new Database(path.join(fleet.state, "ledger.db"), { readonly: true });

  const files = (name: string): HostEntry => ({ destination: "local", plugins: { files: { paths: [apps[name]!.data] } } });

  beforeAll(async () => {
    fleet = await startFleet(["alpha", "beta"]);
    apps.alpha = createApp(fleet.hosts.alpha!);
    apps.beta = createApp(fleet.hosts.beta!);
    receiver = await startAlertReceiver();
    proxy = await startFlakyProxy(fleet.hosts.beta!.port);
    // The proxy's address is beta as the controller knows it: its host key under the proxy's port.
    fs.appendFileSync(fleet.knownHosts, `[127.0.0.1]:${proxy.port} ${fleet.hosts.beta!.hostPublicKeyLine}\n`);
    const init = await fleet.controller(["init"]);
    expect(init.code, init.stderr).toBe(0);
  });

  // A test that fails half way must not leave its daemon backing up during the next one.
  afterEach(() => {
    for (const d of daemons) d.kill();
  });

  afterAll(async () => {
    await proxy?.close();
    await receiver?.close();
    await fleet?.stop();
  });

  const daemon = (args: string[]) => {
    const d = new DaemonProcess(args, fleet.env);
    daemons.push(d);
    return d;
  };

  it("backs up the good host on time while the other hangs, alerts about the failure once, and says when it recovered", async () => {
    // beta first: at a time both are due, the hung one is taken first.
    fleet.writeInventory({
      beta: { ...files("beta"), sshOverride: { host: "127.0.0.1", port: proxy.port, user: fleet.hosts.beta!.user } },
      alpha: files("alpha"),
      spare: { destination: "local", plugins: {}, sshOverride: { host: "127.0.0.1", port: fleet.hosts.alpha!.port, user: fleet.hosts.alpha!.user } },
    });
    amendInventory(fleet, (doc) => {
      Object.assign(doc.defaults, { schedule: "*/3 * * * * *", timezone: "UTC" });
      (doc.hosts.beta!.ssh as Record<string, unknown>).connectTimeout = "2s";
      doc.alerts = [
        { type: "webhook", url: receiver.url("/hook/t0ken"), events: ["failure", "recovered"] },
        { type: "healthchecks", url: receiver.url("/hc/{host}") },
      ];
    });
    // alpha verified beforehand: the daemon's rotation has nothing due for it (a verification
    // would hold its backups while it runs, on purpose, and blur the timing checked here).
    for (const args of [["run", "--host", "alpha"], ["verify", "--host", "alpha"]]) {
      const r = await fleet.controller(args);
      expect(r.code, r.stdout + r.stderr).toBe(0);
    }
    const d = daemon(["--concurrency", "2", "--attempts", "2", "--retry-after", "500ms", "--grace", "5s"]);
    await d.waitFor("spare skipped", () => d.events("skipped", "spare").length > 0, 15_000);
    expect(d.events("skipped", "spare")[0]!.reason).toMatch(/no plugins/);

    // beta hangs (2 s connect timeout per attempt, a retry 500 ms after the first) and fails round
    // after round; alpha keeps its times.
    await receiver.waitFor((rs) => rs.some((r) => r.path === "/hook/t0ken"), 30_000, "a failure alert for beta");
    await d.waitFor("two failed rounds of beta and five good backups of alpha", () => d.events("finished", "beta").filter((e) => e.status === "failed").length >= 4 && d.events("finished", "alpha").filter((e) => e.status === "ok").length >= 5, 60_000);
    expect(d.events("started", "beta").filter((e) => e.trigger === "daemon retry").length).toBeGreaterThanOrEqual(1);
    expect(d.events("retry", "beta").length).toBeGreaterThanOrEqual(1);
    const alphaScheduled = d.events("started", "alpha").filter((e) => e.trigger === "daemon schedule");
    expect(alphaScheduled.length).toBeGreaterThanOrEqual(3);
    // Each scheduled start of alpha comes within a second of its time (a multiple of 3 s), whatever beta does.
    for (const s of alphaScheduled) expect(Date.parse(s.time) % 3000, JSON.stringify(s)).toBeLessThan(1000);
    expect(d.events("finished", "alpha").every((e) => e.status === "ok")).toBe(true);
    expect(d.events("finished", "beta").every((e) => e.status === "failed" && (e.error as { code: string }).code === "SSH")).toBe(true);

    // The failure went out once, as JSON, however many attempts and rounds failed since.
    const alerts = receiver.json("/hook/t0ken");
    expect(alerts).toEqual([{ event: "failure", host: "beta", subject: "", message: expect.stringMatching(/^the backup of beta failed: \[SSH\] .*timed out/), time: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) }]);
    // The healthchecks-style check of each host got its pings: alpha start/success, beta start/fail.
    const paths = receiver.requests.map((r) => r.path);
    expect(paths).toContain("/hc/alpha/start");
    expect(paths).toContain("/hc/alpha");
    expect(paths).toContain("/hc/beta/start");
    expect(paths.filter((p) => p === "/hc/beta/fail").length).toBeGreaterThanOrEqual(2);
    expect(paths).not.toContain("/hc/beta");
    // The log never shows a notifier's URL (a secret).
    expect(JSON.stringify(d.lines)).not.toContain("t0ken");

    // beta is back: its next backup works, and one "recovered" follows.
    proxy.mode = "forward";
    await d.waitFor("a good backup of beta", () => d.events("finished", "beta").some((e) => e.status === "ok"), 30_000);
    await receiver.waitFor((rs) => rs.filter((r) => r.path === "/hook/t0ken").length >= 2, 15_000, "beta's recovery");
    await d.waitFor("another good backup of beta", () => d.events("finished", "beta").filter((e) => e.status === "ok").length >= 2, 30_000);
    expect(receiver.json("/hook/t0ken").map((b) => b.event)).toEqual(["failure", "recovered"]);
    expect(receiver.json("/hook/t0ken")[1]).toMatchObject({ event: "recovered", host: "beta", problem: "failure" });
    expect(receiver.requests.some((r) => r.path === "/hc/beta")).toBe(true);

    d.signal("SIGTERM");
    expect(await d.exited).toBe(0);
    expect(d.lines.at(-1)).toMatchObject({ event: "stopped" });
    const db = ledger();
    try {
      expect(db.prepare("SELECT host, event, sent_count AS sent, closed_at IS NOT NULL AS closed FROM alerts").all()).toEqual([{ host: "beta", event: "failure", sent: 1, closed: 1 }]);
      // Every attempt is in the ledger, the failed ones with their error; alpha's snapshots are complete.
      const jobs = db.prepare("SELECT host, status, error_code AS code FROM jobs WHERE kind = 'backup'").all() as { host: string; status: string; code: string | null }[];
      expect(jobs.filter((j) => j.host === "beta" && j.status === "failed").every((j) => j.code === "SSH")).toBe(true);
      const alphaOk = d.events("finished", "alpha").filter((e) => e.status === "ok").length;
      expect((db.prepare("SELECT count(*) AS n FROM snapshots WHERE host = 'alpha' AND status = 'complete'").get() as { n: number }).n).toBeGreaterThanOrEqual(alphaOk);
      expect(db.prepare("SELECT DISTINCT trigger FROM runs").all().map((r) => (r as { trigger: string }).trigger).sort()).toEqual(expect.arrayContaining(["daemon catch-up", "daemon schedule"]));
    } finally {
      db.close();
    }
  }, 240_000);

  it("on SIGTERM, lets a running backup have its grace period, then stops it: the job and its snapshot end failed, the agent's job is gone, exit 0", async () => {
    fleet.writeInventory({ alpha: { destination: "local", plugins: { files: { paths: [apps.alpha!.data], hooks: { before: "sleep 60" } } } } });
    amendInventory(fleet, (doc) => Object.assign(doc.defaults, { schedule: "*/3 * * * * *", timezone: "UTC" }));
    const d = daemon(["--grace", "1s"]);
    await d.waitFor("alpha's backup started", () => d.events("started", "alpha").length > 0, 15_000);
    await new Promise((r) => setTimeout(r, 2500)); // the agent is in its before hook
    const user = fleet.hosts.alpha!.user;
    expect(execFileSync("pgrep", ["-u", user, "-f", "sleep 60"], { encoding: "utf8" }).trim()).not.toBe("");
    const signalled = Date.now();
    d.signal("SIGTERM");
    expect(await d.exited).toBe(0);
    expect(Date.now() - signalled).toBeGreaterThanOrEqual(1000);
    expect(Date.now() - signalled).toBeLessThan(20_000);
    expect(d.events("stopping")[0]).toMatchObject({ signal: "SIGTERM", running: ["alpha"], graceMs: 1000 });
    expect(d.events("finished", "alpha")).toEqual([expect.objectContaining({ status: "failed", error: expect.objectContaining({ code: "INTERRUPTED" }) })]);
    expect(d.lines.at(-1)).toMatchObject({ event: "stopped", stoppedJobs: ["alpha"] });
    expect(d.events("started")).toHaveLength(1);

    const db = ledger();
    try {
      const job = db.prepare("SELECT id, status, error_code AS code, snapshot_id AS snapshot FROM jobs WHERE host = 'alpha' ORDER BY started_at DESC LIMIT 1").get() as { id: string; status: string; code: string; snapshot: string };
      expect(job, d.lines.map((l) => JSON.stringify(l)).join("\n")).toMatchObject({ status: "failed", code: "INTERRUPTED" });
      // The agent had started its snapshot: it ends failed, never complete.
      expect(db.prepare("SELECT status, manifest_key AS manifest FROM snapshots WHERE host = 'alpha' AND id = ?").get(job.snapshot)).toEqual({ status: "failed", manifest: null });
      expect(db.prepare("SELECT status FROM runs WHERE id = (SELECT run_id FROM jobs WHERE id = ?)").get(job.id)).toEqual({ status: "failed" });
    } finally {
      db.close();
    }
    // The agent stopped the job: its hook process is gone, and nothing of the snapshot looks complete in storage.
    const deadline = Date.now() + 15_000;
    const hookRuns = () => {
      try {
        return execFileSync("pgrep", ["-u", user, "-f", "sleep 60"], { encoding: "utf8" }).trim() !== "";
      } catch {
        return false;
      }
    };
    while (hookRuns() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    expect(hookRuns()).toBe(false);
  }, 120_000);

  it("catches up a run missed while no daemon ran exactly once (then applies retention and runs the due verification), and not again after a restart", async () => {
    let lastStart = 0;
    {
      const db = ledger();
      lastStart = Date.parse((db.prepare("SELECT max(started_at) AS t FROM jobs WHERE host = 'alpha'").get() as { t: string }).t);
      db.close();
    }
    // Once a day, at a second after alpha's last backup started and before now: that run was missed.
    while (Date.now() - lastStart < 2500) await new Promise((r) => setTimeout(r, 200));
    const missed = new Date(Date.now() - 1000);
    fleet.writeInventory({ alpha: { ...files("alpha"), destination: "s3" } });
    // verifyEvery 1s: alpha's verification is due again after its backup.
    amendInventory(fleet, (doc) => Object.assign(doc.defaults, { schedule: dailyAt(missed), timezone: "UTC", retention: { keepLast: 1 }, verifyEvery: "1s" }));

    const first = daemon([]);
    await first.waitFor("the catch-up backup", () => first.events("finished", "alpha").length > 0, 30_000);
    // After the host's backup, its retention (controller prune); after the wave, the due verification (verify --due).
    await first.waitFor("retention and the due verification", () => first.events("prune", "alpha").length > 0 && first.events("verify", "alpha").length > 0, 60_000);
    const caughtUp = first.events("finished", "alpha")[0]!.snapshot as string;
    // keepLast 1: the earlier tests' snapshots go (those on the local destination through alpha's agent),
    // but for the newest, the newest verified and failed ones within the grace period.
    expect(first.events("prune", "alpha")[0]).toMatchObject({ status: "ok", message: expect.stringMatching(/^deleted [1-9]\d* snapshot\(s\), kept \d+/) });
    expect(first.events("verify", "alpha")[0]).toMatchObject({ status: "ok", message: expect.stringContaining(`verified snapshot ${caughtUp}`) });
    await new Promise((r) => setTimeout(r, 3000));
    first.signal("SIGTERM");
    expect(await first.exited).toBe(0);
    expect(first.events("started", "alpha").map((e) => e.trigger)).toEqual(["daemon catch-up"]);
    expect(first.events("finished", "alpha")).toEqual([expect.objectContaining({ status: "ok" })]);
    const next = first.events("scheduled", "alpha").filter((e) => !e.catchUp).at(-1)!;
    expect(Date.parse(next.at as string)).toBe(missed.getTime() - (missed.getTime() % 1000) + 86_400_000);

    const second = daemon([]);
    await second.waitFor("alpha planned", () => second.events("scheduled", "alpha").length > 0, 15_000);
    await new Promise((r) => setTimeout(r, 4000));
    second.signal("SIGINT");
    expect(await second.exited).toBe(0);
    expect(second.events("scheduled", "alpha")).toEqual([expect.objectContaining({ at: next.at })]);
    expect(second.events("started")).toEqual([]);
  }, 120_000);
});
