/** @module The fleet's storage: totals, bytes added per day, per destination with its growth, per host. */
import { formatBytes } from "../../output/format";
import { html } from "../html";
import type { StorageView } from "../views";
import { barChart, lineChart, type Point } from "./chart";
import { page, sizeCell, type PageContext } from "./layout";
import { hostHref } from "./overview-page";

/** The storage page of `view`. */
export function storagePage(view: StorageView, ctx: PageContext): string {
  const t = view.totals;
  const perDay = new Map<string, number>();
  for (const d of view.days) perDay.set(d.day, (perDay.get(d.day) ?? 0) + d.storedBytes);
  // Per destination, what the kept snapshots store, day by day.
  const cumulative = new Map<string, Point[]>();
  for (const d of view.days) cumulative.set(d.destination, [...(cumulative.get(d.destination) ?? []), { x: Date.parse(`${d.day}T00:00:00Z`), y: d.totalStoredBytes }]);
  const tile = (label: string, value: string) => html`<div class="tile"><b>${value}</b>${label}</div>`;
  const ratio = t.storedBytes > 0 ? `${((t.plainBytes + t.reusedBytes) / t.storedBytes).toFixed(1)}×` : "-";
  return page(
    "Storage",
    ctx,
    html`<h1>Storage</h1>
<div class="tiles">${tile("stored", formatBytes(t.storedBytes))}${tile("before compression", formatBytes(t.plainBytes))}${tile("saved by dedup", formatBytes(t.reusedBytes))}${tile("data per stored byte", ratio)}${tile("snapshots", String(t.snapshots))}</div>
${barChart(
  [...perDay].map(([day, bytes]) => ({ x: Date.parse(`${day}T00:00:00Z`), y: bytes })),
  { title: "Bytes stored per day, the last 90 days (snapshots the ledger still keeps)", format: formatBytes },
)}
<h2>Destinations</h2>
<table class="sortable" id="destinations"><thead><tr><th>Destination</th><th class="num">Snapshots</th><th class="num">Stored</th><th class="num">Before compression</th><th class="num">Saved by dedup</th><th class="num">Growth per day (7 days)</th></tr></thead><tbody>
${view.destinations.map((d) => html`<tr><td>${d.destination}</td><td class="num">${d.snapshots}</td>${sizeCell(d.storedBytes)}${sizeCell(d.plainBytes)}${sizeCell(d.reusedBytes)}${sizeCell(d.growthPerDayBytes)}</tr>`)}
</tbody></table>
${[...cumulative].map(([destination, points]) => lineChart(points, { title: `${destination}: bytes stored by the snapshots kept, by the day they were taken (last 90 days)`, format: formatBytes }))}
<h2>Hosts</h2>
<table class="sortable" id="storage-hosts"><thead><tr><th>Host</th><th>Destination</th><th class="num">Snapshots</th><th class="num">Stored</th><th class="num">Before compression</th><th class="num">Saved by dedup</th></tr></thead><tbody>
${view.hosts.map((h) => html`<tr><td><a href="${hostHref(h.host)}">${h.host}</a></td><td>${h.destination}</td><td class="num">${h.snapshots}</td>${sizeCell(h.storedBytes)}${sizeCell(h.plainBytes)}${sizeCell(h.reusedBytes)}</tr>`)}
</tbody></table>
<p class="muted">"Saved by dedup" counts chunks snapshots referenced without uploading them again. The same data: <a href="/api/storage">/api/storage</a>.</p>`,
  );
}
