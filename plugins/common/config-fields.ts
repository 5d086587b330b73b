/** @module Configuration fields that several plugins share, each declared once. */
import { COMPRESSION_HINTS, type CompressionHint } from "../../core/records";
import type { FieldReader } from "../../core/validate";

/** The `compression` field: auto, none, zstd or gzip; `fallback` when absent. */
export function readCompression(r: FieldReader, fallback: CompressionHint = "auto"): CompressionHint {
  return r.oneOf("compression", COMPRESSION_HINTS, fallback);
}
