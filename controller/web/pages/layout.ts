/** @module The frame every dashboard page shares, and the small pieces pages are made of (state badges, ages, sizes, facts). */
import { formatBytes } from "../../output/format";
import { span } from "../../fleet/status-text";
import { html, type Html } from "../html";

/** What the frame needs to know about the request. */
export interface PageContext {
  now: Date;
  /** The CSRF token for forms, when the viewer has a session (a token is configured). */
  csrf?: string;
  /** Whether a login session exists (shows the sign-out button). */
  signedIn: boolean;
  /** Whether the run-now and verify-now buttons are on. */
  actions: boolean;
  /** A line to show at the top (an action that started, or why it did not). */
  notice?: string;
}

/** A whole page: `title`, navigation, `body`. */
export function page(title: string, ctx: PageContext, body: Html): string {
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · Lifeboat</title><link rel="stylesheet" href="/assets/dashboard.css"></head>
<body><header><a class="brand" href="/">Lifeboat</a><a href="/">Fleet</a><a href="/storage">Storage</a><a href="/metrics">Metrics</a>
${ctx.signedIn ? html`<form method="post" action="/logout"><input type="hidden" name="csrf" value="${ctx.csrf ?? ""}"><button type="submit">Sign out</button></form>` : ""}</header>
<main>${ctx.notice ? html`<p class="notice" role="status">${ctx.notice}</p>` : ""}${body}</main><script src="/assets/dashboard.js"></script></body></html>
`.text;
}

/** A badge per state: `fresh`, `STALE`, `ok`, `failed`, `keep`, ... */
export function badges(states: readonly string[]): Html {
  return html`${states.map((s) => html`<span class="state state-${s.replace(/[^A-Za-z-]/g, "")}">${s}</span>`)}`;
}

/** A table cell with a size, sortable by bytes. */
export function sizeCell(bytes: number | null): Html {
  return bytes === null ? html`<td class="num" data-sort="-1">-</td>` : html`<td class="num" data-sort="${bytes}">${formatBytes(bytes)}</td>`;
}

/** A table cell with how long ago `iso` was, sortable by time; `-` for never. */
export function ageCell(iso: string | null, now: Date, suffix: Html | string = ""): Html {
  if (!iso) return html`<td data-sort="0" class="muted">never</td>`;
  return html`<td data-sort="${Date.parse(iso)}"><time datetime="${iso}" title="${iso}">${span(now.getTime() - Date.parse(iso))} ago</time>${suffix}</td>`;
}

/** A time as `2026-11-30 22:14:05 UTC`, with the ISO value for machines. */
export function when(iso: string | null): Html {
  return iso ? html`<time datetime="${iso}">${iso.replace("T", " ").replace(/\.\d+Z$/, "Z").replace(/Z$/, " UTC")}</time>` : html`<span class="muted">-</span>`;
}

function factValue(v: unknown): string {
  if (v === null || v === undefined) return "-";
  if (typeof v !== "object") return String(v);
  if (!Array.isArray(v)) {
    const entries = Object.entries(v as Record<string, unknown>);
    // Row counts and the like: {"users": 12, "chats": 40}.
    if (entries.length > 0 && entries.every(([, x]) => typeof x === "number")) return entries.map(([k, x]) => `${k} ${x}`).join(", ");
  } else if (v.every((x) => typeof x === "object" && x !== null && "notAfter" in x)) {
    // Certificates: name and expiry.
    return v.map((c: Record<string, unknown>) => `${String(c.name ?? "?")} until ${String(c.notAfter).slice(0, 10)}`).join(", ");
  }
  const json = JSON.stringify(v);
  return json.length > 240 ? `${json.slice(0, 240)}… (${json.length} characters)` : json;
}

/** A plugin's facts about an artifact (row counts, certificates, paths), as a definition list. */
export function facts(metadata: Record<string, unknown>): Html {
  const entries = Object.entries(metadata);
  if (entries.length === 0) return html`<span class="muted">-</span>`;
  return html`<dl class="facts">${entries.map(([k, v]) => html`<dt>${k}</dt><dd>${factValue(v)}</dd>`)}</dl>`;
}

/** Hook runs and their output, as text (the output is the host's: never markup). */
export function hookList(hooks: { plugin: string; phase: string; command: string; exitCode: number; output: string }[]): Html {
  if (hooks.length === 0) return html``;
  return html`${hooks.map((h) => html`<details class="hook"><summary>${h.phase} hook of ${h.plugin}: <code>${h.command}</code> exited ${h.exitCode}</summary><pre class="hook-output">${h.output || "(no output)"}</pre></details>`)}`;
}
