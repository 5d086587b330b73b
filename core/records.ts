/** @module The records the agent reports and the ledger stores: stored artifacts and content-addressed blobs. */

/** How an artifact's bytes should be compressed before encryption (`auto`: zstd unless the data does not compress). */
export const COMPRESSION_HINTS = ["auto", "none", "zstd", "gzip"] as const;
export type CompressionHint = (typeof COMPRESSION_HINTS)[number];

/** How a stored artifact's bytes were compressed. */
export const STORED_COMPRESSIONS = ["none", "zstd", "gzip"] as const;

/** A stored content-addressed blob, as manifests record it. */
export interface BlobRef {
  /** `sha256:<hex>` of the plain content. */
  digest: string;
  size: number;
  /** Object key under the destination (`blobs/...`). */
  key: string;
  /** The stored object's hash and size, reported by the job that uploaded it (the controller's ledger checks and keeps them). */
  stored?: { sha256: string; size: number };
}

/** An artifact of a stored snapshot, as the manifest recorded it. */
export interface ArtifactRecord {
  plugin: string;
  /** The plugin instance's name in the inventory (often the same as `plugin`). */
  instance: string;
  name: string;
  key: string;
  plainSize: number;
  storedSize: number;
  sha256: string;
  compression: (typeof STORED_COMPRESSIONS)[number];
  metadata: Record<string, unknown>;
}

/** The decrypted manifest: the snapshot's table of contents, stored last. */
export interface Manifest {
  format: "lifeboat-manifest/1";
  host: string;
  snapshotId: string;
  jobId: string;
  startedAt: string;
  finishedAt: string;
  agentVersion: string;
  runtime: string;
  plugins: { instance: string; plugin: string }[];
  artifacts: ArtifactRecord[];
}
