/** @module An `artifacts` row and the ArtifactRecord it holds: what every part of the ledger that reads artifacts maps through. */
import type { ArtifactRecord, ChunkStats } from "../../core/records";

/** The columns an {@link ArtifactRow} is read from. */
export const ARTIFACT_COLUMNS = "plugin, instance, name, object_key, plain_size, stored_size, sha256, compression, metadata, chunks";

/** An `artifacts` row (its {@link ARTIFACT_COLUMNS}). */
export interface ArtifactRow {
  plugin: string;
  instance: string;
  name: string;
  object_key: string;
  plain_size: number;
  stored_size: number;
  sha256: string;
  compression: ArtifactRecord["compression"];
  metadata: string;
  /** ChunkStats JSON of a chunked artifact, else null. */
  chunks: string | null;
}

/** The record a row holds (`chunks` only for a chunked artifact). */
export function artifactOfRow(a: ArtifactRow): ArtifactRecord {
  return {
    plugin: a.plugin,
    instance: a.instance,
    name: a.name,
    key: a.object_key,
    plainSize: a.plain_size,
    storedSize: a.stored_size,
    sha256: a.sha256,
    compression: a.compression,
    metadata: JSON.parse(a.metadata) as Record<string, unknown>,
    ...(a.chunks !== null ? { chunks: JSON.parse(a.chunks) as ChunkStats } : {}),
  };
}
