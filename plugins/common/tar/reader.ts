/** @module Streaming tar reader: pax and GNU long names, checked headers, bodies streamed without copying. */
import { LifeboatError } from "../../../core/errors";
import type { ByteStream } from "../../../core/platform";
import { BLOCK, decodeBlock, padded, parsePax, type TarHeader } from "./header";

/** Reads exact byte counts from a stream of arbitrary chunks. */
class ByteReader {
  private chunks: Uint8Array[] = [];
  private buffered = 0;
  private done = false;

  constructor(private readonly iterator: AsyncIterator<Uint8Array>) {}

  private async fill(n: number): Promise<boolean> {
    while (this.buffered < n && !this.done) {
      const next = await this.iterator.next();
      if (next.done) this.done = true;
      else if (next.value.length > 0) {
        this.chunks.push(next.value);
        this.buffered += next.value.length;
      }
    }
    return this.buffered >= n;
  }

  /** Exactly `n` bytes, or null when the stream ended first. */
  async read(n: number): Promise<Uint8Array | null> {
    if (!(await this.fill(n))) return null;
    const out = new Uint8Array(n);
    let offset = 0;
    while (offset < n) {
      const head = this.chunks[0]!;
      const take = Math.min(head.length, n - offset);
      out.set(head.subarray(0, take), offset);
      offset += take;
      if (take === head.length) this.chunks.shift();
      else this.chunks[0] = head.subarray(take);
    }
    this.buffered -= n;
    return out;
  }

  /** Streams the next `n` bytes as they arrive. @throws INTEGRITY when the stream ends first. */
  async *stream(n: number): ByteStream {
    let left = n;
    while (left > 0) {
      if (this.chunks.length === 0 && !(await this.fill(1))) throw truncated();
      const head = this.chunks[0]!;
      const take = Math.min(head.length, left);
      if (take === head.length) this.chunks.shift();
      else this.chunks[0] = head.subarray(take);
      this.buffered -= take;
      left -= take;
      yield take === head.length ? head : head.subarray(0, take);
    }
  }

  /** Reads and discards everything left, so that checks at the end of the stream (hashes) run. */
  async drain(): Promise<void> {
    while (await this.fill(this.buffered + 1)) {
      this.chunks = [];
      this.buffered = 0;
    }
    this.chunks = [];
    this.buffered = 0;
  }

  async skip(n: number): Promise<void> {
    for await (const _ of this.stream(n)) {
      // discard
    }
  }
}

function truncated(): LifeboatError {
  return new LifeboatError("INTEGRITY", "Cannot read the tar archive: it ends in the middle of an entry", { hint: "the archive is truncated" });
}

/** One entry; `body` must be consumed (or is skipped) before the next entry is read. */
export interface TarReadEntry {
  header: TarHeader;
  body: ByteStream;
}

/**
 * Reads a tar stream entry by entry, and the stream to its very end.
 * @throws LifeboatError("INTEGRITY") for bad checksums and truncation; rethrows the stream's own errors.
 */
export async function* readTar(data: ByteStream): AsyncIterable<TarReadEntry> {
  const reader = new ByteReader(data[Symbol.asyncIterator]());
  let pax: Record<string, string> = {};
  let longName: string | undefined;
  let longLink: string | undefined;
  for (;;) {
    const block = await reader.read(BLOCK);
    if (!block) throw truncated();
    const decoded = decodeBlock(block);
    if (!decoded) {
      // End of archive: read the padding to the end, so a failure at the stream's end still surfaces.
      await reader.drain();
      return;
    }
    const { header, typeFlag } = decoded;
    if (typeFlag === "x" || typeFlag === "g" || typeFlag === "L" || typeFlag === "K") {
      const body = await reader.read(padded(header.size));
      if (!body) throw truncated();
      const content = body.subarray(0, header.size);
      if (typeFlag === "x") pax = parsePax(content);
      else if (typeFlag === "L") longName = new TextDecoder().decode(content).replace(/\0+$/, "");
      else if (typeFlag === "K") longLink = new TextDecoder().decode(content).replace(/\0+$/, "");
      continue;
    }
    const h: TarHeader = { ...header };
    if (longName !== undefined) h.name = longName.replace(/\/+$/, "");
    if (longLink !== undefined) h.linkname = longLink;
    if (pax.path !== undefined) h.name = pax.path.replace(/\/+$/, "");
    if (pax.linkpath !== undefined) h.linkname = pax.linkpath;
    if (pax.size !== undefined) h.size = Number(pax.size);
    if (pax.uid !== undefined) h.uid = Number(pax.uid);
    if (pax.gid !== undefined) h.gid = Number(pax.gid);
    if (pax.uname !== undefined) h.uname = pax.uname;
    if (pax.gname !== undefined) h.gname = pax.gname;
    if (pax.mtime !== undefined) h.mtime = Math.floor(Number(pax.mtime));
    pax = {};
    longName = undefined;
    longLink = undefined;
    const bodySize = h.type === "file" || h.type === "other" ? h.size : 0;
    let streamed = 0;
    const body = (async function* () {
      for await (const chunk of reader.stream(bodySize)) {
        streamed += chunk.length;
        yield chunk;
      }
    })();
    yield { header: h, body };
    await reader.skip(bodySize - streamed);
    await reader.skip(padded(bodySize) - bodySize);
  }
}
