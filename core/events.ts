/** @module The agent's NDJSON event stream (stdout), one object per line, discriminated by `type`. */
import type { ArtifactRecord } from "./records";

/** A chunk a backup job stored: its keyed name, object key, plain size and stored hash and size. */
export interface ChunkUpload {
  name: string;
  key: string;
  size: number;
  stored: { sha256: string; size: number };
}

/** Emitted once, first. */
export interface StartEvent {
  type: "start";
  jobId: string;
  kind: "backup" | "restore" | "verify" | "prune";
  host: string;
  agentVersion: string;
  runtime: string;
  time: string;
  snapshotId: string;
}

/** Bytes read from the source (`bytes`) and stored/written so far, for live progress. */
export interface ProgressEvent {
  type: "progress";
  plugin: string;
  artifact: string;
  bytes: number;
  storedBytes: number;
}

/** One artifact finished and stored (backup) or restored (restore). */
export interface ArtifactEvent extends ArtifactRecord {
  type: "artifact";
}

/**
 * Chunks of a chunked artifact, emitted before its `artifact` event (in
 * batches): `uploaded` lists chunks this job stored, `refs` the keyed names of
 * every chunk the artifact references (uploaded now or before). A chunk appears
 * in `uploaded` no later than the first `refs` that names it.
 */
export interface ChunksEvent {
  type: "chunks";
  plugin: string;
  artifact: string;
  uploaded: ChunkUpload[];
  refs: string[];
}

/** A plugin finished; for restore, what it restored; for verify, what it checked. */
export interface PluginDoneEvent {
  type: "plugin-done";
  plugin: string;
  status: "ok" | "failed";
  durationMs: number;
  restored?: string[];
  details?: Record<string, unknown>;
  checks?: string[];
}

/** A hook command ran (its output is part of the run's log). */
export interface HookEvent {
  type: "hook";
  plugin: string;
  /** `prepare` runs only for an in-place restore, before `before`. */
  phase: "prepare" | "before" | "after";
  command: string;
  code: number;
  output: string;
}

export interface WarningEvent {
  type: "warning";
  plugin?: string;
  message: string;
}

export interface ErrorEvent {
  type: "error";
  code: string;
  message: string;
  hint?: string;
  plugin?: string;
  /** `manifest`: the snapshot's manifest is missing or does not match the ledger (the controller marks the snapshot damaged). */
  subject?: "manifest";
  /** The key of the stored object at fault, when one is (a missing or damaged chunk: the controller marks it damaged). */
  object?: string;
}

/** Emitted once, last. `ok`: everything done; `partial`: some plugins failed; `failed`: nothing usable. */
export interface DoneEvent {
  type: "done";
  status: "ok" | "partial" | "failed";
  durationMs: number;
  snapshotId: string;
  /** The manifest's object key when a backup completed (absent if no manifest was written). */
  manifestKey?: string;
  manifestSha256?: string;
  manifestStoredSize?: number;
}

/** Every event the agent writes. */
export type AgentEvent = StartEvent | ProgressEvent | ArtifactEvent | ChunksEvent | PluginDoneEvent | HookEvent | WarningEvent | ErrorEvent | DoneEvent;
