/** @module The records the agent reports and the ledger stores: stored artifacts and content-addressed blobs. */

/** How an artifact's bytes should be compressed before encryption (`auto`: zstd unless the data does not compress). */
export const COMPRESSION_HINTS = ["auto", "none", "zstd", "gzip"] as const;
export type CompressionHint = (typeof COMPRESSION_HINTS)[number];

/**
 * How a stored artifact's bytes were compressed; `chunked`: the stored object is
 * a {@link ChunkIndex} and the artifact's bytes are its chunks, in order.
 */
export const STORED_COMPRESSIONS = ["none", "zstd", "gzip", "chunked"] as const;

/** How one stored chunk's bytes were compressed before encryption. */
export const CHUNK_COMPRESSIONS = ["none", "gzip"] as const;

/** One chunk of a chunked artifact, as its index lists it. */
export interface ChunkRef {
  /** Object key under the destination: `<host>/chunks/<2 hex>/<keyed name>.age`. */
  key: string;
  /** Plain size in bytes. */
  size: number;
  /** SHA-256 (hex) of the plain bytes. */
  sha256: string;
  compression: (typeof CHUNK_COMPRESSIONS)[number];
  /** The stored object's SHA-256 (hex) and size. */
  stored: { sha256: string; size: number };
}

/**
 * The stored object of a chunked artifact (`compression: "chunked"`): an age
 * file of this JSON. The artifact's bytes are the chunks' plain bytes in order.
 */
export interface ChunkIndex {
  format: "lifeboat-chunks/1";
  /** Plain size of the whole artifact (the sum of its chunks' sizes). */
  size: number;
  chunks: ChunkRef[];
}

/** How much of a chunked artifact its job uploaded and how much it referenced as already stored. */
export interface ChunkStats {
  count: number;
  uploaded: number;
  uploadedBytes: number;
  reusedBytes: number;
}

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
  /** For a chunked artifact: what its job uploaded and what it reused. */
  chunks?: ChunkStats;
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
