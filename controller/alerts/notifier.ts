/**
 * @module The notifier contract and the list of notifier types, one line each
 * (as restic's backend list): a notifier turns an alert into an HTTP request;
 * delivery, retries and throttling are shared (`delivery.ts`, `alerter.ts`).
 */
import * as crypto from "node:crypto";
import { LifeboatError } from "../../core/errors";
import type { AlertEvent, NotifierConfig } from "../../inventory/operations";
import { chatNotifier } from "./chat";
import { healthchecksNotifier } from "./healthchecks";
import type { AlertMessage } from "./message";
import { ntfyNotifier } from "./ntfy";
import type { NotifierRequest, NotifierType, RunPhase } from "./request";
import { webhookNotifier } from "./webhook";

const types = new Map<string, NotifierType>();

function register(type: NotifierType): void {
  if (types.has(type.type)) throw new LifeboatError("INTERNAL", `Cannot register notifier type "${type.type}" twice`);
  types.set(type.type, type);
}

register(webhookNotifier);
register(ntfyNotifier);
register(healthchecksNotifier);
register(chatNotifier("slack", (text) => ({ text })));
register(chatNotifier("discord", (text) => ({ content: text.slice(0, 2000) })));

/** A configured notifier: its settings, its type, and the name the ledger knows it by. */
export class Notifier {
  /** Type and a hash of its URL: the ledger's name for it (the URL itself is a secret). */
  readonly key: string;
  private readonly kind: NotifierType;

  constructor(readonly config: NotifierConfig) {
    const kind = types.get(config.type);
    if (!kind) throw new LifeboatError("CONFIG", `${config.where}.type: unknown notifier type "${config.type}"`, { hint: `types are ${[...types.keys()].join(", ")}` });
    this.kind = kind;
    this.key = `${config.type}:${crypto.createHash("sha256").update(config.url).digest("hex").slice(0, 16)}`;
  }

  /** Whether it hears about `host` at all (`hosts:`). */
  covers(host: string): boolean {
    return !this.config.hosts || this.config.hosts.includes(host);
  }

  /** Whether it wants `event` about `host` (`events:` and `hosts:`). */
  wants(event: AlertEvent, host: string): boolean {
    return this.config.events.includes(event) && this.covers(host);
  }

  /** The request for `message`, or undefined when it does not want it or its type does not send it. */
  alert(message: AlertMessage): NotifierRequest | undefined {
    if (message.event !== "test" && !this.wants(message.event, message.host)) return undefined;
    return this.kind.alert(this.config, message);
  }

  /** The run ping for `host`'s backup phase, or undefined (not a healthchecks notifier, another host, or `fail` without the failure event). */
  ping(host: string, phase: RunPhase, message: string): NotifierRequest | undefined {
    if (!this.kind.ping || !this.covers(host)) return undefined;
    if (phase === "fail" && !this.config.events.includes("failure")) return undefined;
    return this.kind.ping(this.config, host, phase, message);
  }

  /** The requests of a test message, for the hosts of `fleet` it covers. */
  test(message: AlertMessage, fleet: string[]): NotifierRequest[] {
    return this.kind.test(this.config, message, fleet.filter((h) => this.covers(h)));
  }
}
