/** @module Streaming tar writer: headers plus file bodies read in 1 MiB chunks, never a whole file in memory. */
import type { ByteStream, Platform } from "../../../core/platform";
import { BLOCK, encodeHeader, padded, type TarHeader } from "./header";

/** One entry to write; files carry the path to read their content from. */
export interface TarEntry {
  header: TarHeader;
  /** For files: where to read the content. */
  source?: string;
}

const ZEROS = new Uint8Array(BLOCK * 2);

/** What {@link writeTar} reports instead of failing. */
export interface TarWriteOptions {
  /** A file's size changed while it was read (it is padded or cut to `expected`). */
  onChanged?(name: string, expected: number, actual: number): void;
  /**
   * A file could not be opened. Return true to leave the entry out (nothing of
   * it is written); return false (or omit) to fail the archive with `error`.
   */
  onUnreadable?(entry: TarEntry, error: unknown): boolean;
}

/**
 * Writes a POSIX tar stream of `entries`. Each file is opened before its
 * header is written, so one that cannot be read is either left out whole or
 * fails the archive, never leaves a header without a body. A file whose size
 * changes while it is read is padded with zeros or cut to the size in its
 * header (the archive stays valid) and reported.
 */
export async function* writeTar(platform: Platform, entries: AsyncIterable<TarEntry> | Iterable<TarEntry>, options: TarWriteOptions = {}): ByteStream {
  for await (const entry of entries) yield* writeEntry(platform, entry, options);
  yield END_OF_ARCHIVE;
}

/** The two zero blocks that end a tar archive. */
export const END_OF_ARCHIVE = ZEROS;

/**
 * One entry of a tar stream: its header, then (for a file) its body read from
 * `source`, cut or padded to the header's size, and the padding to a block.
 * Nothing at all when `options.onUnreadable` leaves an unreadable file out.
 */
export async function* writeEntry(platform: Platform, entry: TarEntry, options: TarWriteOptions = {}): ByteStream {
  if (entry.header.type !== "file" || !entry.source) {
    yield encodeHeader(entry.header);
    return;
  }
  const body = platform.readStream(entry.source)[Symbol.asyncIterator]();
  let first: IteratorResult<Uint8Array>;
  try {
    first = await body.next();
  } catch (err) {
    if (options.onUnreadable?.(entry, err)) return;
    throw err;
  }
  yield encodeHeader(entry.header);
  const size = entry.header.size;
  let written = 0;
  try {
    for (let next = first; !next.done; next = await body.next()) {
      const chunk = next.value;
      if (written + chunk.length > size) {
        const part = chunk.subarray(0, size - written);
        if (part.length > 0) yield part;
        written += part.length;
        options.onChanged?.(entry.header.name, size, written + chunk.length - part.length);
        break;
      }
      written += chunk.length;
      yield chunk;
    }
  } finally {
    // Closes the file however the loop ended (a cut, an error, or a consumer that stopped).
    await body.return?.();
  }
  if (written < size) {
    options.onChanged?.(entry.header.name, size, written);
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
