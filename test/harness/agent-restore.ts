/**
 * @module Restores run by the agent's own code in this process (no SSH, no
 * controller), of a snapshot an {@link AgentBench} backed up: the job the
 * controller would send, the events collected. For tests of what the agent does
 * around a plugin's restore (hooks, prepare, readiness).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { AgentEvent } from "../../core/events";
import type { PluginSpec, RestoreJob } from "../../core/spec";
import type { EventSink } from "../../agent/event-sink";
import { JobContext } from "../../agent/job-context";
import { runRestore } from "../../agent/restore";
import type { AgentBench, AgentRun } from "./agent-backup";

/** One restore's outcome. */
export interface RestoreRun {
  status: "ok" | "partial" | "failed";
  events: AgentEvent[];
  /** The agent's log lines. */
  logs: string[];
}

let restores = 0;

/** Restores `run`'s snapshot (host "web") with the given plugin configuration (the target's), in place or under `into`. */
export async function restoreOnBench(bench: AgentBench, run: AgentRun, plugins: PluginSpec[], options: { into?: string; replace?: boolean } = {}): Promise<RestoreRun> {
  if (!run.manifest) throw new Error("restoreOnBench: the backup wrote no manifest");
  const n = restores++;
  const job: RestoreJob = {
    version: 1,
    kind: "restore",
    host: "web",
    jobId: `restore-${n}`,
    issuedAt: "",
    expiresAt: "",
    nonce: "",
    destination: { type: "local", path: bench.store },
    plugins,
    sourceHost: "web",
    snapshotId: run.snapshotId,
    artifacts: run.records,
    manifest: run.manifest,
    identity: bench.identity,
    ...(options.into ? { into: options.into } : {}),
    ...(options.replace ? { replace: true } : {}),
  };
  const events: AgentEvent[] = [];
  const logs: string[] = [];
  const sink = { emit: (e: AgentEvent) => events.push(e), log: (line: string) => logs.push(line), flush: async () => {} } as unknown as EventSink;
  const scratch = path.join(bench.root, `restore-scratch-${n}`);
  fs.mkdirSync(scratch);
  const status = await runRestore(job, new JobContext(bench.platform, sink, job.jobId, scratch, [], undefined, "restore"), bench.destination);
  return { status, events, logs };
}
