/** @module Streaming tar writer: headers plus file bodies read in 1 MiB chunks, never a whole file in memory. */
import type { ByteStream, Platform } from "../platform";
import { BLOCK, encodeHeader, padded, type TarHeader } from "./header";

/** One entry to write; files carry the path to read their content from. */
export interface TarEntry {
  header: TarHeader;
  /** For files: where to read the content. */
  source?: string;
}

const ZEROS = new Uint8Array(BLOCK * 2);

/**
 * Writes a POSIX tar stream of `entries`. A file whose size changes while it is
 * read is padded with zeros or cut to the size in its header (the archive stays
 * valid) and reported through `onChanged`.
 */
export async function* writeTar(platform: Platform, entries: AsyncIterable<TarEntry> | Iterable<TarEntry>, onChanged: (name: string, expected: number, actual: number) => void = () => {}): ByteStream {
  for await (const entry of entries) {
    yield encodeHeader(entry.header);
    if (entry.header.type !== "file" || !entry.source) continue;
    const size = entry.header.size;
    let written = 0;
    for await (const chunk of platform.readStream(entry.source)) {
      if (written + chunk.length > size) {
        const part = chunk.subarray(0, size - written);
        if (part.length > 0) yield part;
        written += part.length;
        onChanged(entry.header.name, size, written + chunk.length - part.length);
        break;
      }
      written += chunk.length;
      yield chunk;
    }
    if (written < size) {
      onChanged(entry.header.name, size, written);
      let missing = size - written;
      while (missing > 0) {
        const n = Math.min(missing, 1024 * 1024);
        yield new Uint8Array(n);
        missing -= n;
      }
    }
    const pad = padded(size) - size;
    if (pad > 0) yield new Uint8Array(pad);
  }
  yield ZEROS;
}
