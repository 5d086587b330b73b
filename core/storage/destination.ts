/** @module The destination contract: where encrypted objects are stored off-site, and the types of destination that open one. */
import type { ByteStream, Platform } from "../platform";
import type { FieldReader } from "../validate";

/** A stored object, as listed. */
export interface StoredObject {
  key: string;
  size: number;
}

/**
 * An object store. Keys are `/`-separated relative paths (no leading `/`, no `..`).
 * Implementations are listed in `core/storage/destinations/registry.ts`; all pass the
 * contract suite in `test/destination-contract.ts`.
 *
 * Errors are `LifeboatError`s with code `DESTINATION` (or `NOT_FOUND` for a
 * missing object) whose messages name the destination and key, never a credential.
 */
export interface Destination {
  /** Human description without secrets, e.g. `s3 https://host/bucket/prefix`. */
  readonly description: string;
  /**
   * Stores `data` under `key`. Atomic: the object becomes visible only when
   * complete; on failure (or abort) nothing is left under `key`, and
   * multipart uploads are aborted. Overwrites an existing object.
   * @returns the number of bytes stored.
   */
  put(key: string, data: ByteStream, signal?: AbortSignal): Promise<number>;
  /**
   * Like `put`, but stores nothing when an object exists under `key` already:
   * a conditional write (`If-None-Match: *`) where the store enforces one, a
   * check before the upload where it cannot (rclone: not atomic).
   * @returns the number of bytes stored, or null when the key was taken.
   */
  putNew(key: string, data: ByteStream, signal?: AbortSignal): Promise<number | null>;
  /** Streams an object's bytes. Throws `NOT_FOUND` if the object does not exist. */
  get(key: string, signal?: AbortSignal): ByteStream;
  /** The object's size, or null if it does not exist. */
  head(key: string): Promise<number | null>;
  /** Every object whose key starts with `prefix`, in no particular order. */
  list(prefix: string): AsyncIterable<StoredObject>;
  /** Deletes an object; no error if it does not exist. */
  delete(key: string): Promise<void>;
  /**
   * Deletes many objects in few requests (S3: DeleteObjects, 1,000 keys each);
   * a missing one is fine. Absent where objects are deleted one by one.
   * @returns the keys it could not delete, each with why (empty: all are gone).
   */
  deleteMany?(keys: string[]): Promise<{ key: string; error: string }[]>;
  /**
   * Aborts the unfinished uploads that the journal it was opened with lists
   * (left by a job that was killed); absent for stores without such uploads.
   * @returns how many were aborted.
   */
  abortLeftUploads?(): Promise<number>;
  /** Releases connections and temporary credentials. */
  close(): Promise<void>;
}

/** An upload that is under way in a store (an S3 multipart upload), as journaled. */
export interface OpenUpload {
  /** The destination's description: one journal can serve several. */
  destination: string;
  key: string;
  uploadId: string;
}

/**
 * Where a destination records its unfinished uploads while they run, so that
 * the next job on the host can abort those a killed job left behind (the parts
 * of an unfinished multipart upload are stored, and billed, until aborted).
 */
export interface UploadJournal {
  opened(upload: OpenUpload): Promise<void>;
  closed(upload: OpenUpload): Promise<void>;
  list(): Promise<OpenUpload[]>;
}

/** How a destination is opened. */
export interface OpenOptions {
  /** Journal of unfinished uploads (the agent's); without one, a killed job's uploads stay until the bucket's lifecycle rule removes them. */
  journal?: UploadJournal;
}

/**
 * Destination settings as configured in the inventory and carried in a job spec:
 * `type` names the {@link DestinationType} that reads and opens them; the other
 * fields are that type's own. They hold credentials: never log them.
 */
export interface DestinationSpec {
  readonly type: string;
  readonly [field: string]: unknown;
}

/**
 * One kind of destination (local, s3, rclone, ...): one module in
 * `core/storage/destinations/`, one line in its `registry.ts`. Every type passes
 * the contract suite in `test/destination-contract.ts`.
 */
export interface DestinationType<S extends DestinationSpec = DestinationSpec> {
  readonly type: S["type"];
  /**
   * Reads and checks the type's fields (the registry has read `type`), then
   * rejects unknown fields. Errors name the field (`r.fail`) and never quote a
   * credential. The same rules serve the inventory (CONFIG) and the agent's spec check (SPEC_REJECTED).
   */
  read(r: FieldReader): S;
  /** How people recognise it, without credentials, e.g. `s3 https://host/bucket/prefix`; also the opened destination's `description`. */
  describe(spec: S): string;
  /** Every value in `spec` that must never be printed (empty strings are ignored). */
  secrets(spec: S): string[];
  /** Opens it for writing and reading. Loads heavy clients only here, so that reading an inventory stays cheap. */
  open(platform: Platform, spec: S, options?: OpenOptions): Promise<Destination>;
  /**
   * The fields a host's own `storage:` entry in the inventory may set for its
   * backups (its scoped credentials); absent when the type has none.
   */
  readonly hostFields?: readonly string[];
  /**
   * A read-only destination spec for exactly `keys`: download links that expire
   * (after the type's own bounded time), so that a restore or verify job needs no
   * credentials. Absent when the type cannot issue them (the job then carries the spec itself).
   */
  presign?(spec: S, keys: string[]): Promise<DestinationSpec>;
  /** Issued by the controller for one job (e.g. `presigned`), never configured in an inventory. */
  readonly issuedOnly?: boolean;
}
