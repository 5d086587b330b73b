/** @module The one-line summary per host that every human-readable reporter prints. */
import { formatBytes, formatDuration } from "./format";
import type { HostOutcome } from "./reporter";

/** `✔ aidset  backup 20261124T...-ab12  3 artifacts  1.2 GiB → 410 MiB stored  12.3s` */
export function summaryLine(o: HostOutcome, color: boolean): string {
  const paint = (code: number, s: string) => (color ? `\x1b[${code}m${s}\x1b[0m` : s);
  const mark = o.status === "ok" ? paint(32, "✔") : o.status === "partial" ? paint(33, "◐") : paint(31, "✘");
  const who = o.target && o.target !== o.host ? `${o.host} → ${o.target}` : o.host;
  const parts = [`${mark} ${who}`];
  if (o.snapshotId) parts.push(`${o.kind} ${o.snapshotId}`);
  if (o.artifacts > 0) {
    parts.push(`${o.artifacts} artifact${o.artifacts === 1 ? "" : "s"}`);
    parts.push(o.kind === "backup" ? `${formatBytes(o.plainBytes)} → ${formatBytes(o.storedBytes)} stored` : `${formatBytes(o.plainBytes)} ${o.kind === "restore" ? "restored" : "checked"}`);
  }
  parts.push(formatDuration(o.durationMs));
  if (o.warnings.length > 0) parts.push(paint(33, `${o.warnings.length} warning${o.warnings.length === 1 ? "" : "s"}`));
  const lines = [parts.join("  ")];
  for (const e of o.errors) {
    lines.push(`    ${paint(31, "error")}${e.plugin ? ` [${e.plugin}]` : ""}: ${e.message}`);
    if (e.hint) lines.push(`    hint: ${e.hint}`);
  }
  for (const w of o.warnings) lines.push(`    ${paint(33, "warning")}: ${w}`);
  for (const r of o.restored) lines.push(`    restored ${r}`);
  for (const c of o.checks) lines.push(`    ${paint(32, "checked")} ${c}`);
  return lines.join("\n");
}
