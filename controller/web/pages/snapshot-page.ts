/** @module A snapshot's page: its facts, artifacts with the plugins' facts, verification history, the job that wrote it, and the command lines to restore or fetch it. */
import { formatBytes } from "../../output/format";
import { html, type Html } from "../html";
import type { SnapshotPageView } from "../views";
import { runRows } from "./host-page";
import { badges, facts, page, sizeCell, when, type PageContext } from "./layout";
import { hostHref } from "./overview-page";

/** A command line with a copy button; `id` unique within the page. */
function command(id: string, label: string, line: string): Html {
  return html`<div class="command"><pre><code id="${id}">${line}</code></pre><button type="button" data-copy="${id}" title="${label}">copy</button></div>`;
}

/** The snapshot page of `view`. */
export function snapshotPage(view: SnapshotPageView, ctx: PageContext): string {
  const s = view.snapshot;
  const c = view.commands;
  return page(
    `${s.host} ${s.id}`,
    ctx,
    html`<h1><a href="${hostHref(s.host)}">${s.host}</a> / <code>${s.id}</code> ${badges([s.status])}</h1>
${s.damage ? html`<p class="problem">Damaged: ${s.damage}</p>` : ""}
<dl class="facts"><dt>started</dt><dd>${when(s.startedAt)}</dd><dt>finished</dt><dd>${when(s.finishedAt)}</dd>
<dt>destination</dt><dd>${s.destination} <span class="muted">(${s.destinationDescription})</span></dd>
<dt>size</dt><dd>${formatBytes(s.plainSize)}, ${formatBytes(s.storedSize)} stored</dd>
<dt>manifest</dt><dd>${s.manifestKey ? html`<code>${s.manifestKey}</code> sha256 <code>${s.manifestSha256}</code>, ${formatBytes(s.manifestSize ?? 0)}` : html`<span class="muted">none (the snapshot never completed)</span>`}</dd>
<dt>encrypted to</dt><dd>${s.recipient ? html`<code>${s.recipient}</code>` : "the master key only"}</dd>
<dt>every file read</dt><dd>${s.rehash ? "yes (rehash)" : "no: unchanged files by their metadata"}</dd></dl>
${s.status === "complete" && !s.damage
  ? html`<h2>Restore</h2>
<p>See what a restore would do (nothing changes on the host):</p>${command("command-plan", "copy the plan command", c.restorePlan)}
<p>Restore it onto the host (add <code>--to HOST</code> for another machine, <code>--into DIR</code> for a folder):</p>${command("command-restore", "copy the restore command", c.restore)}
<p>Check it deeply (a restore into scratch space on the host):</p>${command("command-verify", "copy the verify command", c.verify)}`
  : ""}
<h2>Artifacts</h2>
<table class="sortable" id="artifacts"><thead><tr><th>Instance</th><th>Artifact</th><th>Plugin</th><th class="num">Size</th><th class="num">Stored</th><th>Compression</th><th>SHA-256</th><th>Facts</th></tr></thead><tbody>
${s.artifacts.map((a) => html`<tr><td>${a.instance}</td><td><code>${a.name}</code></td><td>${a.plugin}</td>${sizeCell(a.plainSize)}${sizeCell(a.storedSize + (a.chunks?.uploadedBytes ?? 0))}<td>${a.compression}${a.chunks ? html` <span class="muted">(${a.chunks.count} chunk${a.chunks.count === 1 ? "" : "s"}, ${a.chunks.uploaded} new, ${formatBytes(a.chunks.reusedBytes)} reused)</span>` : ""}</td><td><code title="${a.sha256}">${a.sha256.slice(0, 16)}…</code></td><td>${facts(a.metadata)}</td></tr>`)}
${s.artifacts.length === 0 ? html`<tr><td colspan="8" class="muted">No artifacts recorded.</td></tr>` : ""}</tbody></table>
${s.status === "complete" && c.fetch.length ? html`<h2>Fetch one artifact onto the controller</h2>${c.fetch.map((f, i) => html`<p><code>${f.artifact}</code></p>${command(`command-fetch-${i}`, `copy the fetch command of ${f.artifact}`, f.command)}`)}` : ""}
<h2>Verifications</h2>
<table id="verifications"><thead><tr><th>When</th><th>Level</th><th>Result</th><th>Details</th></tr></thead><tbody>
${view.verifications.map((v) => html`<tr><td>${when(v.time)}</td><td>${v.level}</td><td>${badges([v.result])}</td><td><details><summary>details</summary><pre>${JSON.stringify(v.details, null, 2)}</pre></details></td></tr>`)}
${view.verifications.length === 0 ? html`<tr><td colspan="4" class="muted">Never verified: ${c.verify}</td></tr>` : ""}</tbody></table>
<h2>The job that wrote it</h2>
<table id="job"><thead><tr><th>Started</th><th>Kind</th><th>Trigger</th><th>Status</th><th class="num">Took</th><th class="num">Stored</th><th>Snapshot</th><th>Errors and hooks</th></tr></thead><tbody>
${runRows(s.host, view.job ? [view.job] : [])}</tbody></table>
<p class="muted">The same data: <a href="/api/hosts/${encodeURIComponent(s.host)}/snapshots/${encodeURIComponent(s.id)}">JSON</a>.</p>`,
  );
}
