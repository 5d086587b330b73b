/**
 * @module Who hears what, and how often: problems are opened and closed in the
 * ledger (`alerts`), an open problem is sent to each notifier that wants it at
 * most once per the notifier's `repeat:` (default 24 h), and when it closes
 * each notifier that heard of it gets one `recovered` message. Healthchecks-
 * style run pings are sent every time. Deliveries run in the background,
 * tried a bounded number of times, logged without secrets; nothing here throws.
 */
import * as os from "node:os";
import { messageOf, redact } from "../../core/errors";
import type { AlertEvent } from "../../inventory/operations";
import type { AlertLedger } from "../ledger/alert-ledger";
import { DEFAULT_DELIVERY, deliver, type DeliveryPolicy } from "./delivery";
import type { AlertMessage } from "./message";
import type { Notifier } from "./notifier";
import type { NotifierRequest, RunPhase } from "./request";

/** The events that are problems: open until they recover. */
export type ProblemEvent = Exclude<AlertEvent, "recovered">;

/** One problem of a host, as a check finds it now. */
export interface Problem {
  /** What within the host ('' or absent: the host as a whole). */
  subject?: string;
  /** One line, free of secrets. */
  message: string;
  snapshot?: string;
}

/** One send to a notifier, for the daemon's log. */
export interface AlertLogEntry {
  host: string;
  /** The alert event, or the run ping (`ping start` ...). */
  alert: string;
  /** Where it is configured, e.g. `alerts[0]` (never its URL). */
  notifier: string;
  type: string;
  result: "sent" | "failed";
  error?: string;
}

/** What an {@link Alerter} works with. */
export interface AlerterOptions {
  /** Stripped from every error (notifier URLs and header values among them). */
  secrets: string[];
  log(entry: AlertLogEntry): void;
  delivery?: DeliveryPolicy;
  now?: () => Date;
}

/** How one notifier took `controller alerts test`'s message. */
export interface TestResult {
  notifier: string;
  type: string;
  ok: boolean;
  /** Requests sent (a healthchecks URL with `{host}` gets one per host). */
  requests: number;
  status?: number;
  error?: string;
}

/** Sends alerts to the inventory's notifiers, throttled through the ledger. */
export class Alerter {
  private readonly inFlight = new Set<Promise<void>>();
  private readonly now: () => Date;
  private readonly delivery: DeliveryPolicy;

  constructor(
    private readonly notifiers: Notifier[],
    private readonly ledger: AlertLedger,
    private readonly options: AlerterOptions,
  ) {
    this.now = options.now ?? (() => new Date());
    this.delivery = options.delivery ?? DEFAULT_DELIVERY;
  }

  /**
   * Brings `host`'s open problems of `event` in line with `current`, what a
   * check finds now: each current problem is opened (or stays open) and is
   * sent to every notifier that wants it and has not been sent it within its
   * `repeat`; each open one no longer current is closed and every notifier
   * that was sent it gets `recovered` once (`recovery` says what is fine now).
   * Resolves when the deliveries are done; never rejects.
   */
  update(host: string, event: ProblemEvent, current: Problem[], recovery?: string): Promise<void> {
    const now = this.now();
    const time = now.toISOString();
    const sends: Promise<void>[] = [];
    const subjects = new Set(current.map((p) => p.subject ?? ""));
    try {
      for (const problem of current) {
        const subject = problem.subject ?? "";
        const message = redact(problem.message, this.options.secrets);
        const { alert } = this.ledger.openProblem({ host, event, subject, message }, now);
        const m: AlertMessage = { event, host, subject, message, time, ...(problem.snapshot ? { snapshot: problem.snapshot } : {}) };
        for (const n of this.notifiers) {
          const request = n.alert(m);
          if (!request) continue;
          const last = this.ledger.lastSentTo(alert.id, n.key);
          if (last !== undefined && now.getTime() - Date.parse(last) < n.config.repeatMs) continue;
          const claim = this.ledger.claimSend(alert.id, n.key, now);
          sends.push(
            this.send(n, request, host, event).then((ok) => {
              if (!ok) claim.release();
            }),
          );
        }
      }
      for (const open of this.ledger.openProblems(host, event)) {
        if (subjects.has(open.subject)) continue;
        this.ledger.close(open.id, now);
        const heard = new Set(this.ledger.sentTo(open.id));
        const message = redact(recovery ?? `${event}${open.subject ? ` (${open.subject})` : ""} is over: it was open since ${open.openedAt}`, this.options.secrets);
        const m: AlertMessage = { event: "recovered", host, subject: open.subject, message, time, problem: event };
        for (const n of this.notifiers) {
          if (!heard.has(n.key)) continue;
          const request = n.alert(m);
          if (request) sends.push(this.send(n, request, host, "recovered").then(() => {}));
        }
      }
    } catch (err) {
      this.options.log({ host, alert: event, notifier: "ledger", type: "alerts", result: "failed", error: redact(messageOf(err), this.options.secrets) });
    }
    return this.track(Promise.all(sends).then(() => {}));
  }

  /** Healthchecks-style pings for a phase of `host`'s backup (sent every time, never throttled). */
  ping(host: string, phase: RunPhase, message: string): Promise<void> {
    const sends: Promise<unknown>[] = [];
    for (const n of this.notifiers) {
      const request = n.ping(host, phase, redact(message, this.options.secrets));
      if (request) sends.push(this.send(n, request, host, `ping ${phase}`));
    }
    return this.track(Promise.all(sends).then(() => {}));
  }

  /** Waits for the deliveries in flight (each ends within its tries and timeouts). */
  async settle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all(this.inFlight);
  }

  private async send(n: Notifier, request: NotifierRequest, host: string, alert: string): Promise<boolean> {
    const result = await deliver(request, this.delivery, this.options.secrets);
    this.options.log({ host, alert, notifier: n.config.where, type: n.config.type, result: result.ok ? "sent" : "failed", ...(result.error ? { error: `${result.error} (after ${result.tries} ${result.tries === 1 ? "try" : "tries"})` } : {}) });
    return result.ok;
  }

  private track(p: Promise<void>): Promise<void> {
    const tracked = p.catch(() => {}).finally(() => this.inFlight.delete(tracked));
    this.inFlight.add(tracked);
    return tracked;
  }
}

/**
 * Sends a test message to every notifier (`controller alerts test`); `fleet`
 * names the hosts for per-host URLs. Touches no ledger; never throws.
 */
export async function testNotifiers(notifiers: Notifier[], fleet: string[], secrets: string[], policy: DeliveryPolicy = DEFAULT_DELIVERY): Promise<TestResult[]> {
  const m: AlertMessage = {
    event: "test",
    host: "",
    subject: "",
    message: `This is a test message from the Lifeboat controller on ${os.hostname()}: alerts reach this notifier.`,
    time: new Date().toISOString(),
  };
  return Promise.all(
    notifiers.map(async (n): Promise<TestResult> => {
      const requests = n.test(m, fleet);
      if (requests.length === 0) return { notifier: n.config.where, type: n.config.type, ok: false, requests: 0, error: "nothing to send: its URL has {host} and it covers no host of the inventory" };
      const results = await Promise.all(requests.map((r) => deliver(r, policy, secrets)));
      const failed = results.find((r) => !r.ok);
      const shown = failed ?? results[0]!;
      return { notifier: n.config.where, type: n.config.type, ok: !failed, requests: requests.length, ...(shown.status ? { status: shown.status } : {}), ...(failed?.error ? { error: failed.error } : {}) };
    }),
  );
}
