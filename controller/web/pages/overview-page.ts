/** @module The fleet overview: counts at the top, one row per host, the worst first, sortable. */
import { formatBytes, formatDuration } from "../../output/format";
import { oldestVerification, span } from "../../fleet/status-text";
import { html } from "../html";
import type { HostSummary, OverviewView } from "../views";
import { ageCell, badges, page, sizeCell, type PageContext } from "./layout";

/** A host's path on the dashboard. */
export const hostHref = (host: string) => `/hosts/${encodeURIComponent(host)}`;

function row(h: HostSummary, rank: number, ctx: PageContext) {
  const target = h.states[0] === "restore-target";
  const oldest = oldestVerification(h);
  const verified = oldest === undefined ? undefined : (oldest?.time ?? null);
  return html`<tr data-host="${h.host}" data-rank="${rank}">
<td data-sort="${h.host}"><a href="${hostHref(h.host)}">${h.host}</a>${h.running ? html` <span class="muted">(${h.running.kind} running)</span>` : ""}</td>
<td data-sort="${rank}">${badges(target ? ["restore target"] : h.states)}${h.problems.map((p) => html`<div class="problem">${p}</div>`)}</td>
${target ? html`<td class="muted">-</td>` : ageCell(h.snapshot?.finishedAt ?? null, ctx.now, html` <span class="muted">/ ${span(h.maxAgeMs)}</span>`)}
<td>${h.snapshot ? html`<a href="${hostHref(h.host)}/snapshots/${encodeURIComponent(h.snapshot.id)}"><code>${h.snapshot.id}</code></a>` : html`<span class="muted">none</span>`}</td>
${sizeCell(h.storage.storedBytes)}
${verified === undefined ? html`<td class="muted">-</td>` : ageCell(verified, ctx.now, html` <span class="muted">/ ${span(h.verifyEveryMs)}</span>`)}
<td class="num" data-sort="${h.rto?.durationMs ?? -1}">${h.rto ? html`${formatDuration(h.rto.durationMs)} <span class="muted">(${h.rto.kind})</span>` : html`<span class="muted">-</span>`}</td>
<td data-sort="${h.lastRun ? Date.parse(h.lastRun.finishedAt) : 0}">${h.lastRun ? html`${badges([h.lastRun.status])} ${span(h.lastRun.ageMs)} ago${h.lastRunDurationMs !== null ? html` <span class="muted">in ${formatDuration(h.lastRunDurationMs)}</span>` : ""}` : html`<span class="muted">never</span>`}</td>
<td class="num" data-sort="${h.alerts.length}">${h.alerts.length ? html`<span title="${h.alerts.map((a) => a.message).join("\n")}">${h.alerts.length}</span>` : "0"}</td>
</tr>`;
}

/** The overview page of `view`. */
export function overviewPage(view: OverviewView, ctx: PageContext): string {
  const c = view.counts;
  const tile = (label: string, n: number | string, cls = "") => html`<div class="tile ${cls}"><b>${n}</b>${label}</div>`;
  return page(
    "Fleet",
    ctx,
    html`<h1>Fleet</h1>
<div class="tiles" id="counts">${tile("hosts", c.hosts)}${tile("fresh", c.fresh)}${tile("STALE", c.stale)}${tile("FAILED", c.failed)}${tile("UNVERIFIED", c.unverified)}${tile("CERT", c.cert)}${c.restoreTargets ? tile("restore targets", c.restoreTargets) : ""}${tile("stored", formatBytes(view.totals.storedBytes))}${tile("open alerts", view.totals.openAlerts)}</div>
<table class="sortable" id="hosts"><thead><tr><th>Host</th><th>State</th><th>Last snapshot / maxAge</th><th>Snapshot</th><th class="num">Stored</th><th>Verified / every</th><th class="num">Restore time</th><th>Last run</th><th class="num">Alerts</th></tr></thead>
<tbody>${view.hosts.map((h, i) => row(h, i, ctx))}</tbody></table>
<p class="muted">As of ${view.time}. The same data: <a href="/api/hosts">/api/hosts</a>, <a href="/api/status">/api/status</a>.</p>`,
  );
}
