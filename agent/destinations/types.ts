/** @module The destination interface: where encrypted objects are stored off-site. */
import type { ByteStream } from "../platform";

/** A stored object, as listed. */
export interface StoredObject {
  key: string;
  size: number;
}

/**
 * An object store. Keys are `/`-separated relative paths (no leading `/`, no `..`).
 * Implementations are listed in `agent/destinations/registry.ts`; all pass the
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
  /** Streams an object's bytes. Throws `NOT_FOUND` if the object does not exist. */
  get(key: string, signal?: AbortSignal): ByteStream;
  /** The object's size, or null if it does not exist. */
  head(key: string): Promise<number | null>;
  /** Every object whose key starts with `prefix`, in no particular order. */
  list(prefix: string): AsyncIterable<StoredObject>;
  /** Deletes an object; no error if it does not exist. */
  delete(key: string): Promise<void>;
  /** Releases connections and temporary credentials. */
  close(): Promise<void>;
}

/** Destination settings as carried in a job spec (credentials included; never log these). */
export type DestinationSpec =
  | { type: "local"; path: string }
  | {
      type: "s3";
      endpoint?: string;
      region: string;
      bucket: string;
      prefix?: string;
      accessKeyId: string;
      secretAccessKey: string;
      sessionToken?: string;
      forcePathStyle?: boolean;
      /** Multipart part size in MiB (default 16). */
      partSizeMiB?: number;
    }
  | {
      type: "rclone";
      /** `remote:path`, e.g. `b2:my-bucket/lifeboat`. */
      remote: string;
      /** Environment for rclone, e.g. `RCLONE_CONFIG_B2_TYPE`; holds credentials. */
      env?: Record<string, string>;
      /** Path to the rclone binary (default: `rclone` on PATH). */
      binary?: string;
    };

/** The values in a destination spec that must never be printed. */
export function destinationSecrets(spec: DestinationSpec): string[] {
  switch (spec.type) {
    case "s3":
      return [spec.secretAccessKey, spec.sessionToken ?? "", spec.accessKeyId];
    case "rclone":
      return Object.entries(spec.env ?? {})
        .filter(([name]) => !/_TYPE$|_PROVIDER$|_REGION$|_ENDPOINT$|_HOST$|_PORT$|_USER$/.test(name))
        .map(([, value]) => value);
    default:
      return [];
  }
}
