/** @module The restore plan as an operator reads it (`controller restore --plan`). */
import { formatBytes, formatDuration } from "../output/format";
import { table } from "../output/table";
import type { RestorePlan } from "./restore-plan";

/** The plan as text: what, where, in which order, how big, how long, and what stops it from starting. */
export function planText(plan: RestorePlan): string {
  const taken = plan.snapshot.startedAt.slice(0, 16).replace("T", " ");
  const lines = [`Restore plan: snapshot ${plan.snapshot.id} of "${plan.source}" (taken ${taken} UTC) onto "${plan.target}"${plan.into ? `, under ${plan.into}` : ", in place"}`];
  for (const note of plan.notes) lines.push(`  note: ${note}`);
  if (plan.runtime) lines.push(`  runtime: ${plan.runtime}`);
  if (plan.replace) lines.push("  --replace: existing databases and files are replaced whatever the configuration says");
  if (plan.paths) lines.push(`  --path: only files matching ${plan.paths.join(", ")}`);
  lines.push("");
  lines.push(
    table(
      ["#", "STAGE", "INSTANCE", "PLUGIN", "SIZE", "WHERE", "BEFORE DATA GOES IN", "EST."],
      plan.steps.map((s, i) => [
        String(i + 1),
        s.stage,
        s.instance,
        s.plugin,
        formatBytes(s.plainBytes),
        s.places.join(", ") || "-",
        [...s.prepare.map((c) => `prepare: ${c}`), ...(s.hooks.before ? [`${s.hooks.before} before hook(s)`] : [])].join("; ") || "-",
        formatDuration(s.estimateMs),
      ]),
    ).replace(/^/gm, "  "),
  );
  const tools = [...new Map(plan.steps.flatMap((s) => s.tools.map((t) => [t.command, t] as const))).values()];
  if (tools.length > 0) {
    const missing = new Set(plan.missingTools.map((m) => m.tool.command));
    lines.push("", `  tools on "${plan.target}": ${tools.map((t) => `${t.command} ${missing.has(t.command) ? "MISSING" : "ok"}`).join(", ")}`);
  }
  lines.push("", `  estimated time: ${formatDuration(plan.estimate.totalMs)} (${plan.estimate.basis})`);
  if (plan.missingTools.length > 0) {
    lines.push("", `  The restore cannot start: "${plan.target}" lacks what its plugins run:`);
    for (const m of plan.missingTools) lines.push(`    ${m.tool.command} (for ${m.instance}): ${m.tool.install}`);
  }
  return lines.join("\n");
}
