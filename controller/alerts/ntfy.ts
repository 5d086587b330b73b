/**
 * @module ntfy (ntfy.sh or self-hosted): POST the message as plain text to the
 * topic URL, with `Title`, `Priority` (1-5) and `Tags` (emoji shortcodes) headers.
 */
import type { NotifierConfig } from "../../inventory/operations";
import type { AlertMessage } from "./message";
import { alertTitle } from "./message";
import type { NotifierRequest, NotifierType } from "./request";

const LOOK: Record<AlertMessage["event"], { priority: string; tags: string }> = {
  failure: { priority: "4", tags: "rotating_light,lifeboat" },
  stale: { priority: "4", tags: "hourglass,lifeboat" },
  "verify-failed": { priority: "4", tags: "x,lifeboat" },
  "cert-expiring": { priority: "3", tags: "lock,lifeboat" },
  recovered: { priority: "3", tags: "white_check_mark,lifeboat" },
  test: { priority: "2", tags: "test_tube,lifeboat" },
};

function request(config: NotifierConfig, m: AlertMessage): NotifierRequest {
  const look = LOOK[m.event];
  return {
    method: "POST",
    url: config.url,
    // ntfy reads these headers as latin1: keep the title plain.
    headers: { "content-type": "text/plain; charset=utf-8", title: alertTitle(m).replace(/[^\x20-\x7e]/g, "?"), priority: look.priority, tags: look.tags, ...config.headers },
    body: m.message,
  };
}

export const ntfyNotifier: NotifierType = {
  type: "ntfy",
  alert: request,
  test: (config, m) => [request(config, m)],
};
