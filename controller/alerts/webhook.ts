/** @module The generic JSON webhook: POST `{event, host, subject, message, time, snapshot?, problem?}`. */
import type { AlertMessage } from "./message";
import { jsonRequest, type NotifierType } from "./request";

/** The JSON body a webhook receives: the alert message itself, with stable field names. */
function body(m: AlertMessage): Record<string, unknown> {
  return {
    event: m.event,
    host: m.host,
    subject: m.subject,
    message: m.message,
    time: m.time,
    ...(m.snapshot ? { snapshot: m.snapshot } : {}),
    ...(m.problem ? { problem: m.problem } : {}),
  };
}

export const webhookNotifier: NotifierType = {
  type: "webhook",
  alert: (config, m) => jsonRequest(config, config.url, body(m)),
  test: (config, m) => [jsonRequest(config, config.url, body(m))],
};
