/** @module What an alert says: the one message every notifier renders in its own format. */
import type { AlertEvent } from "../../inventory/operations";

/** An alert about one host (or `controller alerts test`'s message). */
export interface AlertMessage {
  event: AlertEvent | "test";
  /** The host it is about ("" for a test message). */
  host: string;
  /** What within the host ('' for the host as a whole; a certificate name for cert-expiring). */
  subject: string;
  /** One line, free of secrets: what happened, with the error. */
  message: string;
  /** ISO time. */
  time: string;
  /** The snapshot it concerns, when there is one. */
  snapshot?: string;
  /** For `recovered`: the problem that closed. */
  problem?: AlertEvent;
}

/** A short title, e.g. `Lifeboat: backup of aidset failed`. */
export function alertTitle(m: AlertMessage): string {
  switch (m.event) {
    case "failure":
      return `Lifeboat: backup of ${m.host} failed`;
    case "stale":
      return `Lifeboat: ${m.host} is STALE`;
    case "verify-failed":
      return `Lifeboat: verification of ${m.host} failed`;
    case "cert-expiring":
      return `Lifeboat: certificate ${m.subject ? `"${m.subject}" ` : ""}of ${m.host} expires soon`;
    case "recovered":
      return `Lifeboat: ${m.host} recovered${m.problem ? ` (${m.problem})` : ""}`;
    case "test":
      return "Lifeboat: test message";
  }
}

/** Title and message as one text, for chat notifiers. */
export function alertText(m: AlertMessage): string {
  return `${alertTitle(m)}\n${m.message}`;
}
