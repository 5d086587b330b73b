/** @module The plugin interface: one module per data source, all behind this contract. */
import type { ByteStream, Platform } from "../core/platform";
import type { ArtifactRecord, CompressionHint } from "../core/records";
import type { BlobStore } from "../core/storage/blob-store";

/** What a plugin is given to reach the host: never `node:` imports of its own. */
export interface PluginContext {
  platform: Platform;
  /** The job's id (unique per run); useful for naming staging directories. */
  jobId: string;
  /** A private scratch directory for this job, removed when the job ends. */
  scratchDir: string;
  /** A diagnostic line for the run's log (agent stderr). Never pass secrets. */
  log(message: string): void;
  /** A warning that the operator sees in the run summary (a `warning` event). */
  warn(message: string): void;
  signal?: AbortSignal;
  /** Content-addressed storage shared by the whole fleet (stored once per content). */
  blobs: BlobStore;
}

/**
 * One artifact produced by a backup. The pipeline consumes `data` completely
 * before it asks the plugin for the next artifact, then calls `metadata()`.
 * `data` must throw (never end early and silently) when the source fails.
 */
export interface ArtifactSource {
  /** Unique within the plugin instance; becomes the object name `<name>.age`. Only [A-Za-z0-9._-]. */
  name: string;
  compression: CompressionHint;
  data: ByteStream;
  /** Facts for the manifest (row counts, versions, file counts), read after `data` is consumed. */
  metadata(): Record<string, unknown>;
  /**
   * The same bytes as `data`, as a sequence of units (e.g. one per large file
   * and one per group of small files of a tree). A chunked backup reads these
   * instead of `data`: chunk boundaries restart at each unit, and a unit whose
   * `cacheKey` the last snapshot stored is not read at all.
   */
  units?: AsyncIterable<ArtifactUnit>;
}

/** A part of an artifact's bytes that a chunked backup can reuse without reading it. */
export interface ArtifactUnit {
  /**
   * Names the unit's bytes by metadata (paths, sizes, times, inodes, owners,
   * modes): equal keys promise equal bytes. Null: always read.
   */
  cacheKey: string | null;
  /** The unit's bytes. May be called again (to re-read) after `settled()` said the source changed. */
  read(): ByteStream;
  /**
   * After `read()` ended: the unit's key as of the metadata the read saw, or
   * null when the source changed while it was read (its bytes may be torn).
   */
  settled?(): string | null;
}

/**
 * One artifact to restore. `open()` yields the decrypted, decompressed bytes;
 * it throws with code `INTEGRITY` (possibly only at the very end) when the
 * stored object does not match its recorded hash. A plugin must therefore
 * consume every input completely into staging before it changes the target.
 */
export interface RestoreInput {
  record: ArtifactRecord;
  open(): ByteStream;
}

/** Where a restore goes, and what of it. */
export interface RestoreTarget {
  /**
   * Restore under this directory instead of in place: each of the instance's
   * paths relative to the instance's root (the common parent of its paths), so
   * `/srv/app/data` lands at `<into>/data` (`plugins/common/restore-place.ts`).
   * For `restore --into DIR` the agent passes `DIR/<instance>`. No hooks run,
   * no service is touched.
   */
  into?: string;
  /** The operator asked to replace what exists (`restore --replace`), whatever the configuration says. */
  replace?: boolean;
  /**
   * Restore only the files whose original absolute paths match one of these
   * patterns (`*` within a name, `**` across folders; a folder matches with
   * everything below it); files-type plugins only. Other files stay as they are.
   */
  paths?: string[];
}

/** What a restore did, for the run summary. */
export interface RestoreReport {
  /** Paths (or databases) that now hold the restored data. */
  restored: string[];
  /** Facts for the report, e.g. row counts checked. */
  details?: Record<string, unknown>;
  /** Each check the restored data passed, in words (e.g. `integrity_check ok: /srv/app/app.db`), for the recovery report. */
  checks?: string[];
}

/**
 * The order of a whole-host restore, first to last: files and configuration,
 * certificates, the web server, service data, models. What later stages
 * need (a compose file, a certificate) is in place before they run.
 */
export const RESTORE_STAGES = ["files", "certificates", "web", "data", "models"] as const;
export type RestoreStage = (typeof RESTORE_STAGES)[number];

/** A program a restore runs on the target host, for the restore plan's preflight. */
export interface RestoreTool {
  /** The command as the plugin runs it (a name looked up on PATH, or an absolute path). */
  command: string;
  /** How to get it, e.g. `apt-get install postgresql-client`. */
  install: string;
}

/** What a verification proved about one plugin instance's artifacts of a snapshot. */
export interface VerifyReport {
  /** Each check that passed, in words, e.g. `integrity_check ok: /srv/app/app.db (4 tables, row counts as recorded)`. */
  checks: string[];
}

/**
 * A data source. Implementations are listed in `plugins/registry.ts`.
 *
 * Guarantees every plugin gives:
 * - `backup` yields artifacts whose streams fail loudly; it never yields a partial stream silently.
 * - `restore` stages everything, checks it, and only then swaps it into place;
 *   when it throws, the target is as it was before.
 * - Nothing is written outside the target (no `..`, no absolute paths from archives, no symlink escapes).
 */
export interface Plugin<Config = unknown> {
  readonly name: string;
  /** Validates raw inventory config. Throws `LifeboatError("CONFIG")` naming the field (`where` is its location, e.g. `hosts.web.plugins.files`). */
  parseConfig(raw: unknown, where: string): Config;
  /** Preflight on the host: tools present, paths readable. Throws with code TOOL_MISSING, SOURCE or CONFIG. */
  check(ctx: PluginContext, config: Config): Promise<void>;
  /** Produces the artifacts, one at a time. */
  backup(ctx: PluginContext, config: Config): AsyncIterable<ArtifactSource>;
  /** Restores the given artifacts (all of this plugin instance's artifacts of one snapshot). */
  restore(ctx: PluginContext, config: Config, inputs: RestoreInput[], target: RestoreTarget): Promise<RestoreReport>;
  /**
   * Deep check of stored artifacts: restores them under `scratch` (never onto
   * the live service) and checks the copy the way the service would use it
   * (integrity_check, pg_restore into a scratch database, redis-check-rdb, nginx -t, ...).
   * @throws INTEGRITY (or RESTORE) naming what is wrong.
   */
  verify(ctx: PluginContext, config: Config, inputs: RestoreInput[], scratch: string): Promise<VerifyReport>;
  /** Where this plugin's instances go in a whole-host restore (see {@link RESTORE_STAGES}). */
  readonly restoreStage: RestoreStage;
  /**
   * The programs a restore of this instance runs on the host (`docker` for a
   * containerized service, whose tools run inside it): the restore plan checks
   * them on the target before anything changes.
   */
  restoreTools(config: Config): RestoreTool[];
  /**
   * Waits, up to `timeoutMs`, until the service answers (after a `prepare`
   * step started it on a fresh host), before a restore goes into it. Absent:
   * the plugin needs no running service.
   * @throws RESTORE naming the service and what it last said, when it does not answer in time.
   */
  ready?(ctx: PluginContext, config: Config, timeoutMs: number): Promise<void>;
  /**
   * Warnings an operator should see about a stored artifact of this plugin, read
   * from its manifest record alone (no host needed), e.g. certificates about to
   * expire. Optional; never throws.
   */
  operatorWarnings?(record: ArtifactRecord, now: Date): string[];
}
