// Alerts through a real ledger (SQLite in a temp dir) to a real local HTTP receiver, on the real clock.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { NotifierConfig } from "../../inventory/operations";
import { ALERT_EVENTS, readAlerts } from "../../inventory/operations";
import { startAlertReceiver, type AlertReceiver } from "../../test/harness/alert-receiver";
import { freePort } from "../../test/harness/free-port";
import { Ledger } from "../ledger/ledger";
import { Alerter, testNotifiers, type AlertLogEntry } from "./alerter";
import type { AlertMessage } from "./message";
import { Notifier } from "./notifier";

const FAST = { attempts: 3, firstDelayMs: 50, timeoutMs: 2000 };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function notifier(receiver: AlertReceiver, type: NotifierConfig["type"], urlPath: string, extra: Partial<NotifierConfig> = {}): Notifier {
  return new Notifier({ type, url: receiver.url(urlPath), events: [...ALERT_EVENTS], headers: {}, repeatMs: 24 * 3_600_000, where: `alerts[${type}]`, ...extra });
}

const failure: AlertMessage = { event: "failure", host: "aidset", subject: "", message: "the backup of aidset failed: [SSH] connection refused", time: "2026-01-01T02:30:05.000Z", snapshot: "20260101T023000Z-ab12" };

describe("notifier types", () => {
  let receiver: AlertReceiver;
  beforeEach(async () => (receiver = await startAlertReceiver()));
  afterEach(async () => receiver.close());

  it("a webhook gets the alert as JSON; Slack {text}; Discord {content}; ntfy a text body with Title, Priority and Tags", () => {
    const webhook = notifier(receiver, "webhook", "/hook", { headers: { authorization: "Bearer t0ken" } }).alert(failure)!;
    expect(webhook.headers).toMatchObject({ "content-type": "application/json", authorization: "Bearer t0ken" });
    expect(JSON.parse(webhook.body)).toEqual({ event: "failure", host: "aidset", subject: "", message: failure.message, time: failure.time, snapshot: failure.snapshot });
    expect(JSON.parse(notifier(receiver, "slack", "/slack").alert(failure)!.body)).toEqual({ text: `Lifeboat: backup of aidset failed\n${failure.message}` });
    expect(JSON.parse(notifier(receiver, "discord", "/discord").alert({ ...failure, message: "x".repeat(5000) })!.body).content).toHaveLength(2000);
    const ntfy = notifier(receiver, "ntfy", "/topic").alert(failure)!;
    expect(ntfy.body).toBe(failure.message);
    expect(ntfy.headers).toMatchObject({ title: "Lifeboat: backup of aidset failed", priority: "4", tags: "rotating_light,lifeboat" });
  });

  it("healthchecks pings url/start, url and url/fail around a backup, with {host} replaced, and /fail for stale hosts", () => {
    const hc = notifier(receiver, "healthchecks", "/ping/{host}");
    expect(hc.ping("aidset", "start", "started")!.url).toBe(receiver.url("/ping/aidset/start"));
    expect(hc.ping("aidset", "success", "ok")!.url).toBe(receiver.url("/ping/aidset"));
    expect(hc.ping("aidset", "fail", "down")!.url).toBe(receiver.url("/ping/aidset/fail"));
    // Failures and recoveries are the run pings' business; stale hosts ping /fail.
    expect(hc.alert(failure)).toBeUndefined();
    expect(hc.alert({ ...failure, event: "recovered", problem: "failure" })).toBeUndefined();
    expect(hc.alert({ ...failure, event: "stale" })!.url).toBe(receiver.url("/ping/aidset/fail"));
    // Without the failure event, no /fail ping; other notifier types never ping.
    expect(notifier(receiver, "healthchecks", "/ping/x", { events: ["stale"] }).ping("aidset", "fail", "down")).toBeUndefined();
    expect(notifier(receiver, "webhook", "/hook").ping("aidset", "start", "s")).toBeUndefined();
  });

  it("a notifier hears only its events and hosts", () => {
    const only = notifier(receiver, "webhook", "/hook", { events: ["stale"], hosts: ["other"] });
    expect(only.alert(failure)).toBeUndefined();
    expect(only.alert({ ...failure, event: "stale" })).toBeUndefined();
    expect(only.alert({ ...failure, event: "stale", host: "other" })).toBeDefined();
  });
});

describe("alerts: in the inventory", () => {
  it("takes repeat: per notifier, 24 hours by default, and refuses one that is not a duration", () => {
    const [plain, hourly] = readAlerts([{ type: "webhook", url: "https://x.example/h" }, { type: "ntfy", url: "https://ntfy.sh/t", repeat: "1h" }], new Set());
    expect(plain!.repeatMs).toBe(24 * 3_600_000);
    expect(hourly!.repeatMs).toBe(3_600_000);
    expect(() => readAlerts([{ type: "ntfy", url: "https://ntfy.sh/t", repeat: "often" }], new Set())).toThrow(/alerts\[0\]\.repeat: expected a duration/);
  });
});

describe("the alerter", () => {
  let dir: string;
  let ledger: Ledger;
  let receiver: AlertReceiver;
  let log: AlertLogEntry[];
  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "lifeboat-alerts-"));
    ledger = Ledger.open(path.join(dir, "ledger.db"));
    receiver = await startAlertReceiver();
    log = [];
  });
  afterEach(async () => {
    ledger.close();
    await receiver.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const alerter = (notifiers: Notifier[]) => new Alerter(notifiers, ledger.alerts, { secrets: notifiers.map((n) => n.config.url), log: (e) => log.push(e), delivery: FAST });

  it("sends an open problem once per repeat period, records it in the ledger, and sends recovered once when it closes", async () => {
    const a = alerter([notifier(receiver, "webhook", "/hook", { repeatMs: 1500 })]);
    const problem = [{ message: "the backup of aidset failed: [SSH] refused" }];
    await a.update("aidset", "failure", problem);
    await a.update("aidset", "failure", problem);
    await a.update("aidset", "failure", problem);
    expect(receiver.json("/hook").map((b) => b.event)).toEqual(["failure"]);
    expect(ledger.alerts.openProblems("aidset")).toEqual([expect.objectContaining({ event: "failure", sentCount: 1, closedAt: null })]);
    await sleep(1600);
    await a.update("aidset", "failure", problem);
    await a.update("aidset", "failure", problem);
    expect(receiver.json("/hook").map((b) => b.event)).toEqual(["failure", "failure"]);

    await a.update("aidset", "failure", [], "the backup of aidset works again");
    await a.update("aidset", "failure", []);
    const bodies = receiver.json("/hook");
    expect(bodies.map((b) => b.event)).toEqual(["failure", "failure", "recovered"]);
    expect(bodies[2]).toMatchObject({ event: "recovered", host: "aidset", problem: "failure", message: "the backup of aidset works again" });
    expect(ledger.alerts.openProblems("aidset")).toEqual([]);
    expect(ledger.alerts.list()[0]).toMatchObject({ event: "failure", sentCount: 2, closedAt: expect.any(String) });
    // A new failure later is a new problem: sent at once.
    await a.update("aidset", "failure", problem);
    expect(receiver.json("/hook").map((b) => b.event)).toEqual(["failure", "failure", "recovered", "failure"]);
  });

  it("throttles per notifier, by its own repeat, and tells recovered only to notifiers that heard of the problem", async () => {
    const hourly = notifier(receiver, "webhook", "/hourly", { repeatMs: 3_600_000 });
    const often = notifier(receiver, "slack", "/often", { repeatMs: 500 });
    const staleOnly = notifier(receiver, "webhook", "/stale-only", { events: ["stale", "recovered"] });
    const a = alerter([hourly, often, staleOnly]);
    await a.update("db1", "failure", [{ message: "failed" }]);
    await sleep(600);
    await a.update("db1", "failure", [{ message: "failed again" }]);
    await a.update("db1", "failure", []);
    expect(receiver.json("/hourly").map((b) => b.event)).toEqual(["failure", "recovered"]);
    expect(receiver.json("/often").map((b) => String(b.text).split("\n")[0])).toEqual(["Lifeboat: backup of db1 failed", "Lifeboat: backup of db1 failed", "Lifeboat: db1 recovered (failure)"]);
    expect(receiver.json("/stale-only")).toEqual([]);
  });

  it("keeps one problem per subject: a certificate that is renewed recovers while another stays open", async () => {
    const a = alerter([notifier(receiver, "webhook", "/hook")]);
    await a.update("web", "cert-expiring", [{ subject: "a.example", message: "a expires" }, { subject: "b.example", message: "b expires" }]);
    await a.update("web", "cert-expiring", [{ subject: "b.example", message: "b expires" }]);
    expect(receiver.json("/hook").map((b) => `${b.event} ${b.subject}`)).toEqual(["cert-expiring a.example", "cert-expiring b.example", "recovered a.example"]);
    expect(ledger.alerts.openProblems("web").map((p) => p.subject)).toEqual(["b.example"]);
  });

  it("retries a delivery that fails, logs one that never gets through without its URL, and sends it again at the next raise", async () => {
    const secretPath = "/hook/s3cr3t-t0ken";
    const a = alerter([notifier(receiver, "webhook", secretPath)]);
    receiver.respond("/hook", [503, 500]);
    await a.update("h", "failure", [{ message: "failed" }]);
    expect(receiver.requests.filter((r) => r.path === secretPath)).toHaveLength(3);
    expect(log).toEqual([expect.objectContaining({ result: "sent", notifier: "alerts[webhook]", type: "webhook" })]);

    receiver.respond("/hook", [500, 500, 500]);
    await a.update("h", "stale", [{ message: "stale" }]);
    expect(log[1]).toMatchObject({ alert: "stale", result: "failed", error: expect.stringMatching(/HTTP 500.*after 3 tries/) });
    // Not counted as sent: the next check sends it again, though the repeat period has not passed.
    await a.update("h", "stale", [{ message: "stale" }]);
    expect(log[2]).toMatchObject({ alert: "stale", result: "sent" });

    // A service that is not there at all: logged, never thrown, the URL (a secret) not shown.
    const gone = new Notifier({ type: "webhook", url: `http://127.0.0.1:${await freePort()}/hook/another-s3cret`, events: [...ALERT_EVENTS], headers: {}, repeatMs: 1000, where: "alerts[9]" });
    const b = new Alerter([gone], ledger.alerts, { secrets: [gone.config.url], log: (e) => log.push(e), delivery: { attempts: 2, firstDelayMs: 10, timeoutMs: 1000 } });
    await expect(b.update("h2", "failure", [{ message: "x" }])).resolves.toBeUndefined();
    const last = log.at(-1)!;
    expect(last).toMatchObject({ notifier: "alerts[9]", result: "failed", error: expect.stringMatching(/ECONNREFUSED/) });
    expect(JSON.stringify(log)).not.toContain("s3cret");
  });

  it("sends healthchecks pings every time, unthrottled", async () => {
    const a = alerter([notifier(receiver, "healthchecks", "/hc/{host}"), notifier(receiver, "webhook", "/hook")]);
    await a.ping("alpha", "start", "started");
    await a.ping("alpha", "success", "ok");
    await a.ping("alpha", "start", "started");
    await a.ping("alpha", "fail", "down");
    await a.settle();
    expect(receiver.requests.map((r) => r.path)).toEqual(["/hc/alpha/start", "/hc/alpha", "/hc/alpha/start", "/hc/alpha/fail"]);
    expect(receiver.requests[3]!.body).toBe("down");
  });

  it("tests every notifier: a message to each, a /log ping per covered host for healthchecks, and says which failed", async () => {
    receiver.respond("/broken", [404]);
    const results = await testNotifiers(
      [notifier(receiver, "webhook", "/hook"), notifier(receiver, "ntfy", "/topic"), notifier(receiver, "healthchecks", "/hc/{host}", { hosts: ["a", "b"] }), notifier(receiver, "discord", "/broken")],
      ["a", "b", "c"],
      [],
      FAST,
    );
    expect(results.map((r) => [r.type, r.ok, r.requests])).toEqual([
      ["webhook", true, 1],
      ["ntfy", true, 1],
      ["healthchecks", true, 2],
      ["discord", false, 1],
    ]);
    expect(results[3]!.error).toBe("HTTP 404 Not Found");
    expect(receiver.requests.filter((r) => r.path.startsWith("/hc/")).map((r) => r.path).sort()).toEqual(["/hc/a/log", "/hc/b/log"]);
    expect(receiver.json("/hook")[0]).toMatchObject({ event: "test", message: expect.stringContaining("test message") });
    // A 404 is not worth another try.
    expect(receiver.requests.filter((r) => r.path === "/broken")).toHaveLength(1);
  });
});
