/** @module A host's page: its state, plugin instances, stored bytes over time, snapshots, recent jobs with their hook output, and the retention plan. */
import { formatBytes, formatDuration } from "../../output/format";
import { span } from "../../fleet/status-text";
import { html, type Html } from "../html";
import type { HostView, RunView } from "../views";
import { lineChart } from "./chart";
import { ageCell, badges, facts, hookList, page, sizeCell, when, type PageContext } from "./layout";
import { hostHref } from "./overview-page";

const snapshotHref = (host: string, id: string) => `${hostHref(host)}/snapshots/${encodeURIComponent(id)}`;

/** A job's row and, under it, its errors, warnings and hooks. */
export function runRows(host: string, runs: RunView[]): Html {
  return html`${runs.map(
    (r) => html`<tr data-job="${r.jobId}"><td data-sort="${Date.parse(r.startedAt)}">${when(r.startedAt)}</td><td>${r.kind}</td><td>${r.trigger}</td><td>${badges([r.status])}</td>
<td class="num" data-sort="${r.durationMs ?? -1}">${r.durationMs === null ? "-" : formatDuration(r.durationMs)}</td>${sizeCell(r.storedBytes)}
<td>${r.snapshotId && r.kind === "backup" ? html`<a href="${snapshotHref(host, r.snapshotId)}"><code>${r.snapshotId}</code></a>` : r.snapshotId ? html`<code>${r.snapshotId}</code>` : "-"}</td>
<td>${r.error ? html`<div class="problem"><code>${r.error.code}</code> ${r.error.message}</div>` : ""}${r.events.filter((e) => !r.error || e.message !== r.error.message).map((e) => html`<div class="${e.level === "error" ? "problem" : "muted"}">${e.plugin ? html`[${e.plugin}] ` : ""}${e.message}${e.hint ? html` <span class="muted">(${e.hint})</span>` : ""}</div>`)}${hookList(r.hooks)}</td></tr>`,
  )}${runs.length === 0 ? html`<tr><td colspan="8" class="muted">No jobs yet.</td></tr>` : ""}`;
}

function actions(view: HostView, ctx: PageContext): Html {
  if (!ctx.actions || view.host.plugins.length === 0) return html``;
  const busy = view.host.running !== null;
  const form = (action: string, label: string) =>
    html`<form method="post" action="${hostHref(view.host.host)}/${action}"><input type="hidden" name="csrf" value="${ctx.csrf ?? ""}"><button type="submit" ${busy ? html`disabled` : ""}>${label}</button></form>`;
  return html`<div class="actions">${form("run", "Back up now")}${form("verify", "Verify now")}${busy ? html`<span class="muted">a ${view.host.running!.kind} job is running (since ${span(ctx.now.getTime() - Date.parse(view.host.running!.startedAt))})</span>` : ""}</div>`;
}

/** The host page of `view`. */
export function hostPage(view: HostView, ctx: PageContext): string {
  const h = view.host;
  const target = h.states[0] === "restore-target";
  const r = view.retention;
  const chart = lineChart(
    view.history.map((p) => ({ x: Date.parse(p.time), y: p.totalStoredBytes })),
    { title: "Bytes stored by the snapshots kept, over time", format: formatBytes },
  );
  return page(
    h.host,
    ctx,
    html`<h1>${h.host} ${badges(target ? ["restore target"] : h.states)}</h1>
${h.problems.map((p) => html`<p class="problem">${p}</p>`)}
${h.alerts.map((a) => html`<p class="problem">alert open since ${when(a.openedAt)}: ${a.message}</p>`)}
${actions(view, ctx)}
<dl class="facts"><dt>destination</dt><dd>${h.destination}</dd><dt>stored</dt><dd>${formatBytes(h.storage.storedBytes)} in ${h.storage.snapshots} snapshots (${formatBytes(h.storage.plainBytes)} before compression and dedup; ${formatBytes(h.storage.reusedBytes)} reused)</dd>
<dt>maxAge / verifyEvery</dt><dd>${span(h.maxAgeMs)} / ${span(h.verifyEveryMs)}</dd>
<dt>restore time</dt><dd>${h.rto ? html`${formatDuration(h.rto.durationMs)} (${h.rto.kind} on ${h.rto.onHost}, ${span(h.rto.ageMs)} ago)` : html`<span class="muted">never measured: controller verify --drill --host ${h.host}</span>`}</dd></dl>
<h2>Plugin instances</h2>
<table class="sortable" id="instances"><thead><tr><th>Instance</th><th>Plugin</th><th>Last success</th><th class="num">Size</th><th class="num">Stored</th><th>Last run</th><th>Deep verification</th><th>Facts</th></tr></thead><tbody>
${view.instances.map((i) => html`<tr><td>${i.instance}</td><td>${i.plugin}</td>${ageCell(i.lastSuccess?.finishedAt ?? null, ctx.now)}${sizeCell(i.plainBytes)}${sizeCell(i.storedBytes)}<td data-sort="${i.lastRun?.durationMs ?? -1}">${i.lastRun ? html`${badges([i.lastRun.status])} ${formatDuration(i.lastRun.durationMs)}` : html`<span class="muted">-</span>`}</td>${ageCell(i.verification?.time ?? null, ctx.now)}<td>${i.artifacts.map((a) => html`<div><code>${a.name}</code>${facts(a.metadata)}</div>`)}</td></tr>`)}
</tbody></table>
<h2>Stored over time</h2>${chart}
<h2>Snapshots</h2>
<table class="sortable" id="snapshots"><thead><tr><th>Snapshot</th><th>Status</th><th>Started</th><th class="num">Size</th><th class="num">Stored</th><th class="num">Artifacts</th><th>Verification</th></tr></thead><tbody>
${view.snapshots.map((s) => html`<tr data-snapshot="${s.id}"><td><a href="${snapshotHref(h.host, s.id)}"><code>${s.id}</code></a></td><td>${badges([s.status])}${s.damage ? html`<div class="problem">damaged: ${s.damage}</div>` : ""}</td><td data-sort="${Date.parse(s.startedAt)}">${when(s.startedAt)}</td>${sizeCell(s.plainBytes)}${sizeCell(s.storedBytes)}<td class="num">${s.artifacts}</td><td>${s.verification ? html`${badges([s.verification.result])} ${s.verification.level}, ${span(ctx.now.getTime() - Date.parse(s.verification.time))} ago` : html`<span class="muted">never</span>`}</td></tr>`)}
${view.snapshots.length === 0 ? html`<tr><td colspan="7" class="muted">No snapshots yet.</td></tr>` : ""}
</tbody></table>
<h2>Recent jobs</h2>
<table class="sortable" id="runs"><thead><tr><th>Started</th><th>Kind</th><th>Trigger</th><th>Status</th><th class="num">Took</th><th class="num">Stored</th><th>Snapshot</th><th>Errors and hooks</th></tr></thead><tbody>
${runRows(h.host, view.runs)}</tbody></table>
<h2>Retention plan</h2>
${r.policy ? html`<p>The next prune keeps <b>${r.keep}</b> and deletes <b>${r.delete}</b> of ${r.snapshots.length} snapshots. Policy: <code>${JSON.stringify(r.policy)}</code></p>` : html`<p class="muted">No retention policy: every snapshot is kept.</p>`}
${r.notes.map((n) => html`<p class="muted">${n}</p>`)}
${r.snapshots.length ? html`<details${r.snapshots.length <= 30 ? html` open` : ""}><summary>Every snapshot and why</summary><table id="retention"><thead><tr><th>Snapshot</th><th>Started</th><th>Status</th><th>Next prune</th><th>Why</th></tr></thead><tbody>
${r.snapshots.map((s) => html`<tr><td><code>${s.id}</code></td><td>${when(s.startedAt)}</td><td>${s.status}</td><td>${badges([s.action])}</td><td>${s.rules.join(", ")}</td></tr>`)}</tbody></table></details>` : ""}
<p class="muted">The same data: <a href="/api/hosts/${encodeURIComponent(h.host)}">/api/hosts/${h.host}</a>.</p>`,
  );
}
