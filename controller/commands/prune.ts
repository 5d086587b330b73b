/** @module `controller prune`: apply each host's retention policy, delete what no rule keeps, collect unreferenced blobs. */
import { parseDuration } from "../../core/durations";
import { LifeboatError } from "../../core/errors";
import type { RetentionPolicy } from "../../inventory/operations";
import { selectHosts } from "../../inventory/resolve";
import { hostOptions, hostSelection, parseCommandArgs } from "../cli-args";
import { ControllerContext } from "../context";
import { EXIT_JOB_FAILED, EXIT_OK } from "../exit-codes";
import { table } from "../output/table";
import { formatWithin } from "../retention/plan";
import { DEFAULT_GRACE_MS, pruneHosts, type HostPrune, type PruneResult, type SnapshotAction } from "../retention/prune";
import type { Command } from "./command";

const usage = `usage: controller prune (--host H[,H2] | --group G | --all) [--dry-run] [--grace DURATION] [--json]
Applies each selected host's retention policy (inventory retention:, restic's forget rules with
periods in UTC) to its snapshots in the ledger, and deletes the snapshots that no rule keeps: with
the controller's own storage credentials, every object under <host>/<snapshot>/ first, then the
snapshot's ledger rows (each deleted object recorded in the ledger with its rule and the run).
Whatever the rules say, a host's newest complete snapshot ("newest") and its newest snapshot with
a passed deep verification ("newest verified") are kept. Damaged snapshots count like any other.
Also deleted: failed or unfinished snapshots older than the grace period (rule debris; never the
one a running job writes), and then blobs that no snapshot of any host references any more and
that are older than the grace period (rule "unreferenced blob"; not while a backup runs).
A host without retention: keeps everything. A host on a local destination (a directory on the
host): its agent deletes, through a signed job naming exactly what to delete. A prune that
stopped half way (a crash, a storage error) is finished by the next one.
  --dry-run         print the plan; delete and record nothing
  --grace DURATION  debris and unreferenced blobs younger than this are kept (default 24h)
With --json: one {"type":"prune-host", host, status, message?, retention, snapshots:[{id, status,
startedAt, destination, damage, action, rules, result, objects, error?}], notes} per host, one
{"type":"prune-blob", destination, key, rule, result, error?} per blob, then {"type":"prune-summary",
dryRun, runId, snapshots, objects, blobs, failed, notes}.
Exit code: 0 done (or planned), 1 some deletion failed, 2 usage or configuration error.`;

/** `keepDaily 30, keepMonthly 12, keepWithin 7d`. */
function describePolicy(p: RetentionPolicy): string {
  const { keepWithinMs, ...counts } = p;
  return [...Object.entries(counts).map(([k, v]) => `${k} ${v}`), ...(keepWithinMs ? [`keepWithin ${formatWithin(keepWithinMs)}`] : [])].join(", ");
}

const taken = (iso: string) => iso.replace("T", " ").replace(/\.\d+Z$/, "Z");

function resultText(s: SnapshotAction): string {
  switch (s.result) {
    case "deleted":
      return `deleted (${s.objects} objects)`;
    case "failed":
      return `FAILED: ${s.error}`;
    default:
      return "";
  }
}

/** One host's part of the text output. */
function hostText(h: HostPrune, dryRun: boolean): string {
  if (h.status !== "pruned") return `${h.host}: ${h.message}`;
  const head = `${h.host}: retention ${describePolicy(h.retention!)} (periods in UTC)`;
  if (h.snapshots.length === 0) return `${head}\n  no snapshots yet`;
  const header = ["SNAPSHOT", "TAKEN", "STATUS", "ACTION", "RULES", ...(dryRun ? [] : ["RESULT"])];
  const rows = h.snapshots.map((s) => [
    s.id,
    taken(s.startedAt),
    s.damage ? "DAMAGED" : s.status,
    s.action === "keep" ? "KEEP" : "DELETE",
    s.rules.join(", "),
    ...(dryRun ? [] : [resultText(s)]),
  ]);
  const body = table(header, rows)
    .split("\n")
    .map((l) => `  ${l}`)
    .join("\n");
  return [head, body, ...h.notes.map((n) => `  note: ${n}`)].join("\n");
}

function summary(r: PruneResult) {
  const deleted = r.hosts.flatMap((h) => h.snapshots).filter((s) => s.action === "delete" && (r.dryRun ? s.result === "planned" : s.result === "deleted"));
  const blobs = r.blobs.filter((b) => (r.dryRun ? b.result === "planned" : b.result === "deleted"));
  return { snapshots: deleted.length, objects: deleted.reduce((n, s) => n + s.objects, 0), blobs: blobs.length };
}

export const pruneCommand: Command = {
  name: "prune",
  summary: "apply retention: delete the snapshots no rule keeps, debris and unreferenced blobs",
  usage,
  async run(argv) {
    const { globals, values } = parseCommandArgs(
      argv,
      { host: hostOptions.host, group: hostOptions.group, all: hostOptions.all, "dry-run": { type: "boolean" }, grace: { type: "string" } },
      usage,
    );
    const graceMs = values.grace === undefined ? DEFAULT_GRACE_MS : parseDuration(values.grace);
    if (graceMs === null) throw new LifeboatError("USAGE", `--grace: expected a duration such as 24h or 3d, got "${values.grace}"`);
    const dryRun = values["dry-run"] === true;
    const ctx = await ControllerContext.open(globals);
    try {
      const hosts = selectHosts(ctx.inventory, hostSelection(values));
      const out = (line: string) => process.stdout.write(`${line}\n`);
      const result = await pruneHosts(ctx, hosts, { dryRun, graceMs, trigger: "cli" }, (h) =>
        out(globals.json ? JSON.stringify({ type: "prune-host", ...h }) : hostText(h, dryRun)),
      );
      const totals = summary(result);
      if (globals.json) {
        for (const b of result.blobs) out(JSON.stringify({ type: "prune-blob", ...b }));
        out(JSON.stringify({ type: "prune-summary", dryRun, runId: result.runId, ...totals, failed: result.failed, notes: result.notes }));
      } else {
        if (result.blobs.length > 0) {
          out(`blobs no snapshot references (older than the grace period):`);
          for (const b of result.blobs) out(`  DELETE  ${b.key}  (${b.destination}): ${b.rule}${dryRun ? "" : `  ${b.result === "failed" ? `FAILED: ${b.error}` : b.result}`}`);
        }
        for (const n of result.notes) out(`note: ${n}`);
        out(
          dryRun
            ? `dry run: would delete ${totals.snapshots} snapshot(s) (${totals.objects} objects) and ${totals.blobs} blob(s); nothing was deleted`
            : `deleted ${totals.snapshots} snapshot(s) (${totals.objects} objects) and ${totals.blobs} blob(s) in ${result.runId}${result.failed ? `; ${result.failed} deletion(s) FAILED: run controller prune again to finish them` : ""}`,
        );
      }
      return result.failed === 0 ? EXIT_OK : EXIT_JOB_FAILED;
    } finally {
      ctx.close();
    }
  },
};
