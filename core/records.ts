/** @module The records the agent reports and the ledger stores: stored artifacts and content-addressed blobs. */

/** How an artifact's bytes should be compressed before encryption. */
export type CompressionHint = "auto" | "none" | "zstd" | "gzip";

/** A stored content-addressed blob, as manifests record it. */
export interface BlobRef {
  /** `sha256:<hex>` of the plain content. */
  digest: string;
  size: number;
  /** Object key under the destination (`blobs/...`). */
  key: string;
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
  compression: "none" | "zstd" | "gzip";
  metadata: Record<string, unknown>;
}
