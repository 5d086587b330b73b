/**
 * @module Small SVG charts drawn on the server: a page with a chart needs no
 * script and no charting library, and works under the dashboard's strict CSP.
 */
import { html, type Html } from "../html";

/** A point of a series: x is a time (ms since the epoch), y a value. */
export interface Point {
  x: number;
  y: number;
}

interface ChartOptions {
  /** What the chart shows, for screen readers and as its caption. */
  title: string;
  /** How y values read, e.g. formatBytes. */
  format: (y: number) => string;
  width?: number;
  height?: number;
}

const PAD = { left: 70, right: 12, top: 10, bottom: 24 };
const day = (t: number) => new Date(t).toISOString().slice(0, 10);

function frame(o: ChartOptions, xs: number[], maxY: number, body: Html): Html {
  const w = o.width ?? 720;
  const h = o.height ?? 180;
  const bottom = h - PAD.bottom;
  return html`<figure class="chart"><svg viewBox="0 0 ${w} ${h}" role="img" aria-label="${o.title}" width="100%" preserveAspectRatio="xMidYMid meet">
<line class="axis" x1="${PAD.left}" y1="${bottom}" x2="${w - PAD.right}" y2="${bottom}"/>
<line class="axis" x1="${PAD.left}" y1="${PAD.top}" x2="${PAD.left}" y2="${bottom}"/>
<text class="label" x="${PAD.left - 6}" y="${PAD.top + 10}" text-anchor="end">${o.format(maxY)}</text>
<text class="label" x="${PAD.left - 6}" y="${bottom}" text-anchor="end">${o.format(0)}</text>
<text class="label" x="${PAD.left}" y="${h - 6}">${xs.length ? day(Math.min(...xs)) : ""}</text>
<text class="label" x="${w - PAD.right}" y="${h - 6}" text-anchor="end">${xs.length ? day(Math.max(...xs)) : ""}</text>
${body}</svg><figcaption>${o.title}</figcaption></figure>`;
}

/** Scales for a chart of `points` in a w × h box. */
function scales(points: Point[], w: number, h: number) {
  const xs = points.map((p) => p.x);
  const minX = Math.min(...xs);
  const spanX = Math.max(...xs) - minX || 1;
  const maxY = Math.max(1, ...points.map((p) => p.y));
  const x = (v: number) => PAD.left + ((v - minX) / spanX) * (w - PAD.left - PAD.right);
  const y = (v: number) => h - PAD.bottom - (v / maxY) * (h - PAD.top - PAD.bottom);
  return { xs, maxY, x, y };
}

/** A line through `points` (sorted by x). */
export function lineChart(points: Point[], o: ChartOptions): Html {
  if (points.length === 0) return html`<p class="empty">${o.title}: no data yet.</p>`;
  const w = o.width ?? 720;
  const h = o.height ?? 180;
  const s = scales(points, w, h);
  const path = points.map((p, i) => `${i === 0 ? "M" : "L"}${s.x(p.x).toFixed(1)},${s.y(p.y).toFixed(1)}`).join(" ");
  // A marker per point while there are few (a single snapshot is a point, not a line).
  const dots = points.length <= 60 ? points.map((p) => html`<circle class="dot" cx="${s.x(p.x).toFixed(1)}" cy="${s.y(p.y).toFixed(1)}" r="3"><title>${day(p.x)}: ${o.format(p.y)}</title></circle>`) : [];
  return frame(o, s.xs, s.maxY, html`<path class="series" d="${path}"/>${dots}`);
}

/** A bar per point (one per day, say). */
export function barChart(points: Point[], o: ChartOptions): Html {
  if (points.length === 0) return html`<p class="empty">${o.title}: no data yet.</p>`;
  const w = o.width ?? 720;
  const h = o.height ?? 180;
  const s = scales(points, w, h);
  const slot = Math.min(24, Math.max(2, (w - PAD.left - PAD.right) / Math.max(points.length, 1) - 1));
  const bars = points.map((p) => html`<rect class="bar" x="${Math.min(s.x(p.x), w - PAD.right - slot).toFixed(1)}" y="${s.y(p.y).toFixed(1)}" width="${slot.toFixed(1)}" height="${(h - PAD.bottom - s.y(p.y)).toFixed(1)}"><title>${day(p.x)}: ${o.format(p.y)}</title></rect>`);
  return frame(o, s.xs, s.maxY, html`${bars}`);
}
