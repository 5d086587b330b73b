/** @module Slack- and Discord-compatible incoming webhooks: POST one JSON field of text (`{text}` or `{content}`). */
import type { NotifierConfig } from "../../inventory/operations";
import { alertText } from "./message";
import { jsonRequest, type NotifierType } from "./request";

/** A chat webhook type whose body is `shape(text)`, e.g. `{ text }` for Slack. */
export function chatNotifier(type: Extract<NotifierConfig["type"], "slack" | "discord">, shape: (text: string) => Record<string, string>): NotifierType {
  return {
    type,
    alert: (config, m) => jsonRequest(config, config.url, shape(alertText(m))),
    test: (config, m) => [jsonRequest(config, config.url, shape(alertText(m)))],
  };
}
