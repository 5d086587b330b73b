/** @module The signed job spec: what the controller asks an agent to do. */
import type { DestinationSpec } from "./storage/destination";
import type { ArtifactRecord } from "./records";

/** One plugin instance of a host, as configured in the inventory. */
export interface PluginSpec {
  /** Instance name (key in the inventory's `plugins` map); names the storage folder. */
  instance: string;
  /** The plugin implementing it, e.g. `files`. */
  plugin: string;
  config: unknown;
}

/** Fields every job has. */
interface JobBase {
  /** Format version of the spec. */
  version: 1;
  /** The inventory name of the host this job is for; the agent refuses any other. */
  host: string;
  jobId: string;
  /** ISO-8601 times; the agent refuses a spec outside [issuedAt - skew, expiresAt]. */
  issuedAt: string;
  expiresAt: string;
  /** Random, unique per spec; the agent's replay journal refuses a nonce seen before. */
  nonce: string;
  destination: DestinationSpec;
  plugins: PluginSpec[];
}

/** Back up the plugins into a new snapshot. */
export interface BackupJob extends JobBase {
  kind: "backup";
  snapshotId: string;
  /** age recipients (`age1...`): the controller's plus the inventory's extra ones. */
  recipients: string[];
  /** The fleet's key for naming content-addressed blobs (base64, 32 bytes); see core/storage/blob-store.ts. */
  blobKey?: string;
  /** Recipients of blob contents: the blob area's own key, the master and escrow recipients. */
  blobRecipients?: string[];
  /**
   * The blobs of this destination that the controller's ledger knows and has
   * checked: keyed name → object key. Only these are referenced without upload.
   */
  knownBlobs?: Record<string, string>;
  /** Chunked artifacts (deduplicated per host); absent: every artifact is one object. */
  chunking?: ChunkingSpec;
}

/**
 * How a backup stores chunked artifacts. The controller's ledger is the
 * authority on which chunks exist: the agent references without upload only
 * chunks of the snapshot named for each instance in `parents` (through its
 * local chunk cache, which must come from exactly that snapshot) and chunks it
 * uploads in this job.
 */
export interface ChunkingSpec {
  /** The host's chunk naming key (base64, 32 bytes): keyed name = HMAC-SHA-256(key, "sha256:<hex>"). */
  key: string;
  /** Plugin instance → the complete snapshot whose chunks it may reference. */
  parents: Record<string, string>;
  /** Keyed names of chunks that must not be referenced (damaged): they are uploaded again. */
  exclude: string[];
  /** Read every file, even one whose metadata says it did not change. */
  rehash: boolean;
}

/** Restore a stored snapshot (possibly taken on another host) onto this host. */
export interface RestoreJob extends JobBase {
  kind: "restore";
  /** The host the snapshot was taken on. */
  sourceHost: string;
  snapshotId: string;
  /** The artifacts to restore with their expected hashes (from the controller's ledger). */
  artifacts: ArtifactRecord[];
  /** The snapshot's manifest as the ledger recorded it: fetched, authenticated and compared before anything is restored. */
  manifest: { key: string; sha256: string; size: number };
  /** The age identity (`AGE-SECRET-KEY-1...`) of the snapshot: its host's key (or, for snapshots made before hosts had keys, the master); held in memory only. */
  identity: string;
  /** The identity of the blob area, only for a snapshot that references blobs; held in memory only. */
  blobIdentity?: string;
  /** Restore under this directory, each instance's paths relative to its root under `<into>/<instance>/` (see plugins' RestoreTarget). */
  into?: string;
  /** Replace what exists (databases, files) whatever the plugin configuration says: `controller restore --replace`. */
  replace?: boolean;
  /** Restore only files matching these patterns (files-type plugins): `controller restore --path`. */
  paths?: string[];
}

/** Deep-check a stored snapshot on this host: restore it into scratch space, check it as the service would, remove it. */
export interface VerifyJob extends Omit<RestoreJob, "kind" | "into" | "replace" | "paths"> {
  kind: "verify";
}

/** A job that reads a stored snapshot. */
export type ReadJob = RestoreJob | VerifyJob;

/**
 * Delete exactly these objects of a destination only the host reaches (a
 * `local` one): the controller's retention, carried out by the agent under
 * the host's job lock. `plugins` is empty.
 */
export interface PruneJob extends JobBase {
  kind: "prune";
  /** The prune run's id: names the job in events. */
  snapshotId: string;
  /** Objects to delete; a missing one is fine. */
  keys: string[];
  /** Snapshot folders (`<host>/<snapshot>/`) whose every object is deleted, including those the ledger does not know. */
  prefixes: string[];
}

export type JobSpec = BackupJob | RestoreJob | VerifyJob | PruneJob;

/** What travels to the agent: the spec plus the controller's Ed25519 signature over its canonical JSON. */
export interface SignedSpec {
  format: "lifeboat-job/1";
  spec: JobSpec;
  /** base64 Ed25519 signature of `canonicalJson(spec)`. */
  signature: string;
}
