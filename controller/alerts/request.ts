/** @module What a notifier type is: alerts and run pings turned into HTTP requests (see `notifier.ts` for the list of types). */
import type { NotifierConfig } from "../../inventory/operations";
import type { AlertMessage } from "./message";

/** One HTTP request to a notifier's service. */
export interface NotifierRequest {
  method: "POST";
  url: string;
  headers: Record<string, string>;
  body: string;
}

/** A backup's life as a healthchecks-style check sees it. */
export type RunPhase = "start" | "success" | "fail";

/** One kind of notifier (`type:` in `alerts:`). */
export interface NotifierType {
  type: NotifierConfig["type"];
  /**
   * The request that tells `config`'s service about `message`, or undefined
   * when this type says nothing about such an event (e.g. healthchecks leaves
   * backup failures and recoveries to its run pings). Events and hosts are
   * already filtered.
   */
  alert(config: NotifierConfig, message: AlertMessage): NotifierRequest | undefined;
  /** Healthchecks-style pings around each backup of `host` (other types have none). */
  ping?(config: NotifierConfig, host: string, phase: RunPhase, message: string): NotifierRequest;
  /** The requests `controller alerts test` sends for `hosts` (the hosts this notifier covers). */
  test(config: NotifierConfig, message: AlertMessage, hosts: string[]): NotifierRequest[];
}

/** JSON POST with the notifier's own headers. */
export function jsonRequest(config: NotifierConfig, url: string, body: unknown): NotifierRequest {
  return { method: "POST", url, headers: { "content-type": "application/json", ...config.headers }, body: JSON.stringify(body) };
}
