/**
 * @module The plan of a restore: what a restore of a snapshot onto a host will
 * do, in order, with sizes, an estimated time, and what the target lacks
 * (tools, a runtime) — worked out before anything on the target changes.
 */
import { splitHooks } from "../../core/hooks";
import type { RestoreJob } from "../../core/spec";
import { restoreStageOf, restoreToolsOf, type RestoreStage, type RestoreTool } from "../../plugins/registry";
import type { ControllerContext } from "../context";
import type { TargetFacts } from "./target-probe";

/** One plugin instance of the plan, in the order it is restored. */
export interface PlanStep {
  instance: string;
  plugin: string;
  stage: RestoreStage;
  artifacts: string[];
  plainBytes: number;
  storedBytes: number;
  /** Where its data goes on the target, as its manifest records it (paths, databases). */
  places: string[];
  /** `hooks.prepare` commands run before its data goes in. */
  prepare: string[];
  /** Hook commands around it (stop/start of the service). */
  hooks: { before: number; after: number };
  tools: RestoreTool[];
  /** Estimated time of its own part. */
  estimateMs: number;
}

/** What the plan expects of the whole restore, and why. */
export interface PlanEstimate {
  totalMs: number;
  /** How it was estimated, in words. */
  basis: string;
}

/** A restore, worked out. */
export interface RestorePlan {
  source: string;
  target: string;
  snapshot: { id: string; startedAt: string; finishedAt: string | null };
  into?: string;
  replace: boolean;
  paths?: string[];
  /** What the operator should know (layout taken from the source, ...). */
  notes: string[];
  steps: PlanStep[];
  /** Tools the target lacks, per instance: the restore cannot start while any is missing. */
  missingTools: { instance: string; tool: RestoreTool }[];
  /** The runtime the agent will use on the target, in words (e.g. `node v20.19.0`, `push deno 2.9.6`). */
  runtime?: string;
  estimate: PlanEstimate;
}

/** Throughput assumed for a host never restored before: download, decrypt and write. */
const ASSUMED_BYTES_PER_SECOND = 50 * 1024 * 1024;
/** Connecting, installing the agent and checking the manifest, before the first byte. */
const FIXED_OVERHEAD_MS = 3_000;

/** Works out the plan of `spec` (built by restoreSpec); `facts` are what a probe of the target found. */
export function planRestore(ctx: ControllerContext, spec: RestoreJob, notes: string[], facts: TargetFacts): RestorePlan {
  const snapshot = ctx.ledger.getSnapshot(spec.sourceHost, spec.snapshotId)!;
  const measured = measuredRate(ctx, spec.sourceHost);
  const steps: PlanStep[] = [];
  for (const p of spec.plugins) {
    const records = spec.artifacts.filter((a) => a.instance === p.instance);
    const { hooks } = splitHooks(p.config, `plugins.${p.instance}`);
    const plainBytes = records.reduce((n, a) => n + a.plainSize, 0);
    const perInstance = measured?.instances.get(p.instance);
    steps.push({
      instance: p.instance,
      plugin: p.plugin,
      stage: restoreStageOf(p.plugin),
      artifacts: records.map((a) => a.name),
      plainBytes,
      storedBytes: records.reduce((n, a) => n + a.storedSize, 0),
      places: [...new Set(records.flatMap((a) => placesOf(a.metadata)))],
      prepare: spec.into ? [] : hooks.prepare,
      hooks: spec.into ? { before: 0, after: 0 } : { before: hooks.before.length, after: hooks.after.length },
      tools: restoreToolsOf(p.plugin, p.config, `plugins.${p.instance}`),
      estimateMs: perInstance && perInstance.bytes > 0 ? Math.round((perInstance.ms * plainBytes) / perInstance.bytes) : Math.round((plainBytes / (measured?.bytesPerSecond ?? ASSUMED_BYTES_PER_SECOND)) * 1000),
    });
  }
  const order = new Map(spec.plugins.map((p, i) => [p.instance, i]));
  steps.sort((a, b) => order.get(a.instance)! - order.get(b.instance)!);
  const missingTools = steps.flatMap((s) => s.tools.filter((t) => !facts.tools.get(t.command)).map((tool) => ({ instance: s.instance, tool })));
  const pushMs = facts.runtimePushBytes ? Math.round((facts.runtimePushBytes / ASSUMED_BYTES_PER_SECOND) * 1000) : 0;
  const totalMs = FIXED_OVERHEAD_MS + pushMs + steps.reduce((n, s) => n + s.estimateMs, 0);
  return {
    source: spec.sourceHost,
    target: spec.host,
    snapshot: { id: snapshot.id, startedAt: snapshot.startedAt, finishedAt: snapshot.finishedAt },
    ...(spec.into ? { into: spec.into } : {}),
    replace: spec.replace === true,
    ...(spec.paths ? { paths: spec.paths } : {}),
    notes,
    steps,
    missingTools,
    ...(facts.runtime ? { runtime: facts.runtime } : {}),
    estimate: { totalMs, basis: measured ? measured.basis : `no measured restore of "${spec.sourceHost}" yet: assumes ${ASSUMED_BYTES_PER_SECOND / 1048576} MiB/s` },
  };
}

/** The places a manifest record names: `path`/`paths`, `database`, `root`. */
function placesOf(metadata: Record<string, unknown>): string[] {
  const out: string[] = [];
  for (const field of ["paths", "path", "root", "models", "database"]) {
    const v = metadata[field];
    if (typeof v === "string") out.push(field === "database" ? `database ${v}` : v);
    else if (Array.isArray(v)) out.push(...v.filter((x): x is string => typeof x === "string"));
  }
  return out;
}

/** The newest measured restore (or drill) of `host`: its rate per instance and overall. */
function measuredRate(ctx: ControllerContext, host: string): { basis: string; bytesPerSecond: number; instances: Map<string, { ms: number; bytes: number }> } | undefined {
  const fact = ctx.ledger.operations.newestRestoreTime(host);
  if (!fact) return undefined;
  const snapshot = ctx.ledger.listSnapshots({ host }).find((s) => s.id === fact.snapshotId);
  if (!snapshot) return undefined;
  const instances = new Map<string, { ms: number; bytes: number }>();
  let bytes = 0;
  let ms = 0;
  for (const [instance, durationMs] of Object.entries(fact.instances)) {
    const b = snapshot.artifacts.filter((a) => a.instance === instance).reduce((n, a) => n + a.plainSize, 0);
    instances.set(instance, { ms: durationMs, bytes: b });
    bytes += b;
    ms += durationMs;
  }
  const bytesPerSecond = ms > 0 && bytes > 0 ? (bytes * 1000) / ms : ASSUMED_BYTES_PER_SECOND;
  return { basis: `from the ${fact.kind === "drill" ? "restore drill" : "restore"} of snapshot ${fact.snapshotId} on "${fact.onHost}" (${fact.time.slice(0, 16).replace("T", " ")})`, bytesPerSecond, instances };
}
