/**
 * @module Healthchecks.io-style checks: a ping to `url/start` when a host's
 * backup starts, to `url` when it succeeds and to `url/fail` when it fails
 * (`{host}` in the URL becomes the host's name, for a check per host). Stale
 * hosts, failed verifications and expiring certificates ping `url/fail` too;
 * recoveries need no message (the next success ping is one).
 */
import type { NotifierConfig } from "../../inventory/operations";
import type { NotifierRequest, NotifierType, RunPhase } from "./request";

/** The ping URL of `host`'s check, with `suffix` (`/start`, `/fail`, `/log` or ""). */
export function pingUrl(config: NotifierConfig, host: string, suffix: string): string {
  const base = config.url.split("{host}").join(encodeURIComponent(host));
  const [path, query] = base.split("?", 2) as [string, string | undefined];
  return `${path.replace(/\/+$/, "")}${suffix}${query === undefined ? "" : `?${query}`}`;
}

const SUFFIX: Record<RunPhase, string> = { start: "/start", success: "", fail: "/fail" };

function post(config: NotifierConfig, url: string, body: string): NotifierRequest {
  // The body is kept as the ping's log (up to 100 kB on healthchecks.io).
  return { method: "POST", url, headers: { "content-type": "text/plain; charset=utf-8", ...config.headers }, body };
}

export const healthchecksNotifier: NotifierType = {
  type: "healthchecks",
  alert: (config, m) => (m.event === "failure" || m.event === "recovered" ? undefined : post(config, pingUrl(config, m.host, "/fail"), m.message)),
  ping: (config, host, phase, message) => post(config, pingUrl(config, host, SUFFIX[phase]), message),
  // `/log` records a message without changing the check's state.
  test: (config, m, hosts) => {
    if (!config.url.includes("{host}")) return [post(config, pingUrl(config, "", "/log"), m.message)];
    return hosts.map((host) => post(config, pingUrl(config, host, "/log"), m.message));
  },
};
