/** @module `controller prune`: apply each host's retention policy, delete what no rule keeps, collect unreferenced chunks and blobs. */
import { parseDuration } from "../../core/durations";
import { LifeboatError } from "../../core/errors";
import type { RetentionPolicy } from "../../inventory/operations";
import { selectHosts } from "../../inventory/resolve";
import { hostOptions, hostSelection, parseCommandArgs } from "../cli-args";
import { ControllerContext } from "../context";
import { EXIT_JOB_FAILED, EXIT_OK } from "../exit-codes";
import { formatBytes } from "../output/format";
import { table } from "../output/table";
import { formatWithin } from "../retention/plan";
import type { ChunkAction } from "../retention/chunk-gc";
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
one a running job writes); then each host's chunks that none of its remaining snapshots references
(rule "unreferenced chunk"; not while a backup of the host runs), and blobs that no snapshot of
any host references any more and that are older than the grace period (rule "unreferenced blob";
not while a backup runs).
A host without retention: keeps everything. A host on a local destination (a directory on the
host): its agent deletes, through a signed job naming exactly what to delete. A prune that
stopped half way (a crash, a storage error) is finished by the next one.
  --dry-run         print the plan; delete and record nothing
  --grace DURATION  debris and unreferenced blobs younger than this are kept (default 24h)
With --json: one {"type":"prune-host", host, status, message?, retention, snapshots:[{id, status,
startedAt, destination, damage, action, rules, result, objects, error?}], chunks:[{destination,
rule, chunks, bytes, deleted, deletedBytes, result, error?}], notes} per host, one {"type":"prune-blob",
destination, key, rule, result, error?} per blob, then {"type":"prune-summary", dryRun, runId,
snapshots, objects, blobs, chunks, chunkBytes, failed, notes}. A snapshot's objects are those
deleted: 0 in a dry run, whose summary counts the objects the ledger knows for the snapshots it
would delete; chunks and chunkBytes count the chunks deleted (planned, in a dry run).
Exit code: 0 done (or planned), 1 some deletion failed, 2 usage or configuration error.`;

/** `keepDaily 30, keepMonthly 12, keepWithin 7d`. */
function describePolicy(p: RetentionPolicy): string {
  const { keepWithinMs, ...counts } = p;
  return [...Object.entries(counts).map(([k, v]) => `${k} ${v}`), ...(keepWithinMs ? [`keepWithin ${formatWithin(keepWithinMs)}`] : [])].join(", ");
}

/** `2026-11-30T02:30:01.123Z` → `2026-11-30 02:30:01Z` (the ledger's times are all written so: sliced, not matched). */
const taken = (iso: string) =>
  iso.length === 24 && iso.indexOf("T") === 10 && iso[19] === "." && iso[23] === "Z" && isDigit(iso, 20) && isDigit(iso, 21) && isDigit(iso, 22)
    ? `${iso.slice(0, 10)} ${iso.slice(11, 19)}Z`
    : iso.replace("T", " ").replace(/\.\d+Z$/, "Z");
const isDigit = (s: string, i: number) => s.charCodeAt(i) >= 48 && s.charCodeAt(i) <= 57;

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

/** A host's chunk garbage in one destination: `  chunks in "s3": 37 no snapshot references (41.2 MiB): deleted`. */
function chunkLine(c: ChunkAction, dryRun: boolean): string {
  const what = `  chunks in "${c.destination}": ${c.chunks} no snapshot references (${formatBytes(c.bytes)})`;
  if (dryRun) return `${what}: DELETE (${c.rule})`;
  if (c.result === "deleted") return `${what}: deleted`;
  return `${what}: deleted ${c.deleted}, ${c.result === "failed" ? `FAILED: ${c.error}` : "the rest postponed"}`;
}

/** One host's part of the text output. */
function hostText(h: HostPrune, dryRun: boolean): string {
  if (h.status !== "pruned") return `${h.host}: ${h.message}`;
  const head = `${h.host}: retention ${describePolicy(h.retention!)} (periods in UTC)`;
  if (h.snapshots.length === 0) return [head, "  no snapshots yet", ...h.chunks.map((c) => chunkLine(c, dryRun))].join("\n");
  const header = ["SNAPSHOT", "TAKEN", "STATUS", "ACTION", "RULES", ...(dryRun ? [] : ["RESULT"])];
  // table(header, rows) with each line indented, built column by column, then line by line in one
  // template each: a fleet's dry run prints 80,000 of them.
  const columns: string[][] = header.map(() => []);
  const widths = header.map((c) => c.length);
  let multiline = false;
  /** Adds a cell to column `c`; `free`: it may hold anything (a line break too). */
  const push = (c: number, cell: string, free = true) => {
    if (cell.length > widths[c]!) widths[c] = cell.length;
    if (free && cell.includes("\n")) multiline = true;
    columns[c]!.push(cell);
  };
  for (const s of h.snapshots) {
    push(0, s.id);
    push(1, taken(s.startedAt));
    push(2, s.damage ? "DAMAGED" : s.status, false);
    push(3, s.action === "keep" ? "KEEP" : "DELETE", false);
    push(4, s.rules.length === 1 ? s.rules[0]! : s.rules.join(", "));
    if (!dryRun) push(5, resultText(s));
  }
  // A cell of several lines (an error message): each line of the table indented, as table() lays it out.
  if (multiline) {
    const rows = h.snapshots.map((_, i) => columns.map((cells) => cells[i]!));
    const body = table(header, rows)
      .split("\n")
      .map((l) => `  ${l}`)
      .join("\n");
    return [head, body, ...h.chunks.map((c) => chunkLine(c, dryRun)), ...h.notes.map((n) => `  note: ${n}`)].join("\n");
  }
  const last = header.length - 1;
  /** Line `i` of the table (-1: the header). */
  const cell = (c: number, i: number) => (i < 0 ? header[c]! : columns[c]![i]!);
  const line = (i: number) => {
    let l = `  ${cell(0, i).padEnd(widths[0]!)}  ${cell(1, i).padEnd(widths[1]!)}  ${cell(2, i).padEnd(widths[2]!)}  ${cell(3, i).padEnd(widths[3]!)}  `;
    if (last === 5) l += `${cell(4, i).padEnd(widths[4]!)}  `;
    const end = cell(last, i);
    const c = end.charCodeAt(end.length - 1);
    // trimEnd, only when the line can end in white space (the last cell is empty or ends so).
    return c > 32 && c < 127 ? l + end : `  ${(l.slice(2) + end).trimEnd()}`;
  };
  // Joined once (flat, quick to write), rather than concatenated line by line.
  const lines = [head, line(-1)];
  for (let i = 0; i < h.snapshots.length; i++) lines.push(line(i));
  for (const c of h.chunks) lines.push(chunkLine(c, dryRun));
  for (const n of h.notes) lines.push(`  note: ${n}`);
  return lines.join("\n");
}

/** What a prune deleted (planned to, in a dry run), tallied over its hosts. */
interface Tally {
  snapshots: number;
  objects: number;
  chunks: number;
  chunkBytes: number;
}

/** The snapshots a host's prune deleted (planned to, in a dry run), their objects, and its chunks. */
function tally(h: HostPrune, dryRun: boolean, into: Tally): void {
  for (const s of h.snapshots) {
    if (s.action === "delete" && s.result === (dryRun ? "planned" : "deleted")) {
      into.snapshots++;
      into.objects += s.objects;
    }
  }
  for (const c of h.chunks) {
    into.chunks += dryRun ? c.chunks : c.deleted;
    into.chunkBytes += dryRun ? c.bytes : c.deletedBytes;
  }
}

function summary(r: PruneResult, deleted: Tally) {
  const blobs = r.blobs.filter((b) => (r.dryRun ? b.result === "planned" : b.result === "deleted"));
  // A dry run counts the objects per host, not per snapshot (PruneResult.plannedObjects).
  return { snapshots: deleted.snapshots, objects: r.dryRun ? r.plannedObjects : deleted.objects, blobs: blobs.length, chunks: deleted.chunks, chunkBytes: deleted.chunkBytes };
}

/** `2 snapshot(s) (6 objects) and 3 blob(s)`, with `, ... and 37 chunk(s) (41.2 MiB)` when there are chunks. */
function deletedText(t: ReturnType<typeof summary>): string {
  const snapshots = `${t.snapshots} snapshot(s) (${t.objects} objects)`;
  return t.chunks === 0 ? `${snapshots} and ${t.blobs} blob(s)` : `${snapshots}, ${t.blobs} blob(s) and ${t.chunks} chunk(s) (${formatBytes(t.chunkBytes)})`;
}

export const pruneCommand: Command = {
  name: "prune",
  summary: "apply retention: delete the snapshots no rule keeps, debris, unreferenced chunks and blobs",
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
      // Each host printed and tallied as it is done, then let go (retainHosts: false).
      const deleted: Tally = { snapshots: 0, objects: 0, chunks: 0, chunkBytes: 0 };
      const result = await pruneHosts(ctx, hosts, { dryRun, graceMs, trigger: "cli", retainHosts: false }, (h) => {
        tally(h, dryRun, deleted);
        out(globals.json ? JSON.stringify({ type: "prune-host", ...h }) : hostText(h, dryRun));
      });
      const totals = summary(result, deleted);
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
            ? `dry run: would delete ${deletedText(totals)}; nothing was deleted`
            : `deleted ${deletedText(totals)} in ${result.runId}${result.failed ? `; ${result.failed} deletion(s) FAILED: run controller prune again to finish them` : ""}`,
        );
      }
      return result.failed === 0 ? EXIT_OK : EXIT_JOB_FAILED;
    } finally {
      ctx.close();
    }
  },
};
