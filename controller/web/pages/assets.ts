/**
 * @module The dashboard's stylesheet and its one small script, served from
 * `/assets/` (the CSP allows scripts and styles from the dashboard only). The
 * pages work without the script; it sorts tables by a click on their headers
 * and copies command lines.
 */

/** `/assets/dashboard.css`. */
export const STYLESHEET = `
:root { --ok: #1a7f37; --bad: #cf222e; --warn: #9a6700; --muted: #57606a; --line: #d0d7de; --bg: #f6f8fa; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0; color: #1f2328; }
header { background: #0d1117; color: #fff; padding: 10px 20px; display: flex; gap: 20px; align-items: center; }
header a { color: #fff; text-decoration: none; }
header .brand { font-weight: 700; }
header form { margin-left: auto; }
main { padding: 16px 20px 40px; max-width: 1400px; }
h1 { font-size: 20px; margin: 8px 0 12px; }
h2 { font-size: 16px; margin: 24px 0 8px; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 5px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { background: var(--bg); font-weight: 600; white-space: nowrap; }
table.sortable th { cursor: pointer; }
table.sortable th[aria-sort="ascending"]::after { content: " \\25B2"; }
table.sortable th[aria-sort="descending"]::after { content: " \\25BC"; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.tiles { display: flex; flex-wrap: wrap; gap: 10px; margin-bottom: 16px; }
.tile { border: 1px solid var(--line); border-radius: 6px; padding: 8px 14px; min-width: 110px; }
.tile b { display: block; font-size: 22px; }
.state { display: inline-block; border-radius: 10px; padding: 0 8px; font-size: 12px; font-weight: 600; color: #fff; background: var(--muted); margin-right: 3px; }
.state-fresh { background: var(--ok); }
.state-STALE, .state-FAILED, .state-failed { background: var(--bad); }
.state-UNVERIFIED, .state-CERT, .state-partial { background: var(--warn); }
.state-ok, .state-complete, .state-keep { background: var(--ok); }
.state-delete { background: var(--bad); }
.problem { color: var(--bad); font-size: 12px; }
.muted, .empty { color: var(--muted); }
pre { background: var(--bg); border: 1px solid var(--line); padding: 8px; overflow-x: auto; white-space: pre-wrap; word-break: break-all; margin: 4px 0; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 12px; }
.command { display: flex; gap: 8px; align-items: flex-start; }
.command pre { flex: 1; }
.notice { border: 1px solid var(--line); border-left: 4px solid var(--warn); padding: 8px 12px; margin: 8px 0; background: #fff8c5; }
.actions form { display: inline-block; margin-right: 8px; }
button { font: inherit; padding: 4px 12px; border: 1px solid var(--line); border-radius: 6px; background: #fff; cursor: pointer; }
figure.chart { margin: 8px 0; max-width: 760px; }
figure.chart figcaption { color: var(--muted); font-size: 12px; }
svg .axis { stroke: var(--muted); stroke-width: 1; }
svg .series { fill: none; stroke: #0969da; stroke-width: 2; }
svg .bar, svg .dot { fill: #0969da; }
svg .label { fill: var(--muted); font-size: 11px; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; }
.login { max-width: 380px; margin: 60px auto; }
.login input { width: 100%; padding: 6px; margin: 6px 0 12px; font: inherit; }
`;

/** `/assets/dashboard.js`: sortable tables and copy buttons. */
export const SCRIPT = `"use strict";
(function () {
  function key(cell) {
    var v = cell.getAttribute("data-sort");
    return v === null ? cell.textContent.trim() : v;
  }
  function compare(a, b) {
    var x = Number(a), y = Number(b);
    if (a !== "" && b !== "" && !isNaN(x) && !isNaN(y)) return x - y;
    return a.localeCompare(b);
  }
  document.querySelectorAll("table.sortable").forEach(function (table) {
    var heads = table.querySelectorAll("thead th");
    heads.forEach(function (th, column) {
      th.addEventListener("click", function () {
        var descending = th.getAttribute("aria-sort") === "ascending";
        heads.forEach(function (h) { h.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", descending ? "descending" : "ascending");
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (r1, r2) {
          var c = compare(key(r1.cells[column]), key(r2.cells[column]));
          return descending ? -c : c;
        });
        rows.forEach(function (r) { body.appendChild(r); });
      });
    });
  });
  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    button.addEventListener("click", function () {
      var source = document.getElementById(button.getAttribute("data-copy"));
      if (!source || !navigator.clipboard) return;
      navigator.clipboard.writeText(source.textContent).then(function () { button.textContent = "copied"; });
    });
  });
})();
`;
