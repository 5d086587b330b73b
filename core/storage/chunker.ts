/** @module Content-defined chunking (FastCDC with normalized chunking): where a stream is cut into the chunks that deduplicate across versions. */
import { LifeboatError } from "../errors";
import type { ByteStream } from "../platform";

/**
 * Chunk size bounds, in bytes. A chunk is never longer than `max` and never
 * shorter than `min`, except the last chunk of a stream; on random data the
 * mean size is close to `avg` (about 1.15 × `avg` when `min` is `avg / 4`, as
 * the first `min` bytes of a chunk are never cut).
 * A size left out takes its value from {@link DEFAULT_CHUNKING}.
 */
export interface ChunkerOptions {
  min?: number;
  /** A power of two, between 64 B and 256 MiB; `min < avg < max`. */
  avg?: number;
  max?: number;
}

const KiB = 1024;
const MiB = 1024 * KiB;

/**
 * The sizes Lifeboat stores chunks with: min 256 KiB, avg 1 MiB, max 4 MiB.
 * Part of the storage format: other sizes give other boundaries, so nothing
 * stored before would deduplicate against what is stored after.
 */
export const DEFAULT_CHUNKING: Required<ChunkerOptions> = Object.freeze({ min: 256 * KiB, avg: 1 * MiB, max: 4 * MiB });

/**
 * Seed of the gear table: ASCII "LIFE". The table, the seed and the masks below
 * decide every chunk boundary, so they are part of the storage format and must
 * never change (`chunker.test.ts` pins them).
 */
const GEAR_SEED = 0x4c494645;

/**
 * The gear table: `GEAR[i] = fmix32(GEAR_SEED + (i + 1) * 0x9E3779B9 mod 2^32)`
 * for i = 0..255, where fmix32 is MurmurHash3's finalizer (`x ^= x >>> 16;
 * x *= 0x85EBCA6B; x ^= x >>> 13; x *= 0xC2B2AE35; x ^= x >>> 16`, mod 2^32).
 * That is splitmix32: a Weyl sequence through a mixer. Held as int32 (same bits
 * as the uint32 values) so the hot loop stays in small-integer arithmetic.
 */
const GEAR: Int32Array = (() => {
  const table = new Int32Array(256);
  let state = GEAR_SEED;
  for (let i = 0; i < 256; i++) {
    state = (state + 0x9e3779b9) | 0;
    let x = state;
    x ^= x >>> 16;
    x = Math.imul(x, 0x85ebca6b);
    x ^= x >>> 13;
    x = Math.imul(x, 0xc2b2ae35);
    x ^= x >>> 16;
    table[i] = x;
  }
  return table;
})();

/** A copy of the gear table as uint32 values, for tests and format documentation. */
export function gearTable(): Uint32Array {
  return new Uint32Array(GEAR.buffer.slice(0));
}

/** The gear hash where {@link scan} stopped without a cut (a module variable, so that scan returns one number). */
let scanned = 0;

/** True where a Uint32Array reads bytes 0..3 as bits 0..31 (everywhere Node and Deno run, in practice); else {@link scan} reads bytes one by one. */
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** Below this many bytes {@link scan} does not set up a word view. */
const WORDS_FROM = 64;

/**
 * Rolls the gear hash `fp` over data[from, end) and returns the index just past
 * the first byte at which `fp & mask` is 0, or -1 (leaving the hash in
 * {@link scanned}). The hot loop: it reads aligned 32-bit words, eight bytes per
 * round, with all state in locals (about 15% faster than an unrolled byte loop
 * on V8); the same cuts as the byte loop it ends with.
 */
function scan(data: Uint8Array, from: number, end: number, fp: number, mask: number): number {
  const gear = GEAR;
  let i = from;
  if (LITTLE_ENDIAN && end - i >= WORDS_FROM) {
    for (const aligned = i + ((4 - ((data.byteOffset + i) & 3)) & 3); i < aligned; i++) {
      fp = ((fp << 1) + gear[data[i]!]!) | 0;
      if ((fp & mask) === 0) return i + 1;
    }
    const words = new Uint32Array(data.buffer, data.byteOffset + i, (end - i) >>> 2);
    for (let w = 0, pairs = words.length - 1; w < pairs; w += 2, i += 8) {
      const low = words[w]!;
      const high = words[w + 1]!;
      fp = ((fp << 1) + gear[low & 255]!) | 0;
      if ((fp & mask) === 0) return i + 1;
      fp = ((fp << 1) + gear[(low >>> 8) & 255]!) | 0;
      if ((fp & mask) === 0) return i + 2;
      fp = ((fp << 1) + gear[(low >>> 16) & 255]!) | 0;
      if ((fp & mask) === 0) return i + 3;
      fp = ((fp << 1) + gear[low >>> 24]!) | 0;
      if ((fp & mask) === 0) return i + 4;
      fp = ((fp << 1) + gear[high & 255]!) | 0;
      if ((fp & mask) === 0) return i + 5;
      fp = ((fp << 1) + gear[(high >>> 8) & 255]!) | 0;
      if ((fp & mask) === 0) return i + 6;
      fp = ((fp << 1) + gear[(high >>> 16) & 255]!) | 0;
      if ((fp & mask) === 0) return i + 7;
      fp = ((fp << 1) + gear[high >>> 24]!) | 0;
      if ((fp & mask) === 0) return i + 8;
    }
  }
  for (; i < end; i++) {
    fp = ((fp << 1) + gear[data[i]!]!) | 0;
    if ((fp & mask) === 0) return i + 1;
  }
  scanned = fp;
  return -1;
}

/** A mask of the `bits` highest bits of a 32-bit word: the gear hash's high bits depend on the most recent bytes (bit k on the last k + 1). */
function highBits(bits: number): number {
  return (0xffffffff << (32 - bits)) | 0;
}

function checkedOptions(options: ChunkerOptions): Required<ChunkerOptions> {
  const sizes = { min: options.min ?? DEFAULT_CHUNKING.min, avg: options.avg ?? DEFAULT_CHUNKING.avg, max: options.max ?? DEFAULT_CHUNKING.max };
  const fail = (details: string): never => {
    throw new LifeboatError("CONFIG", `Cannot chunk with sizes min ${sizes.min}, avg ${sizes.avg}, max ${sizes.max}: ${details}`);
  };
  for (const name of ["min", "avg", "max"] as const) {
    const value = sizes[name];
    if (!Number.isSafeInteger(value) || value < 1) fail(`${name} must be a positive whole number of bytes`);
  }
  if (sizes.avg < 64 || sizes.avg > 256 * MiB || (sizes.avg & (sizes.avg - 1)) !== 0) fail("avg must be a power of two from 64 B to 256 MiB");
  if (!(sizes.min < sizes.avg && sizes.avg < sizes.max)) fail("they must satisfy min < avg < max");
  if (sizes.max > 1024 * MiB) fail("max must be at most 1 GiB");
  return sizes;
}

/** Key of the chunker's lazy form of `push`, for {@link chunkStream} only. */
const split = Symbol("split");

/**
 * Streaming content-defined chunker: feed bytes with {@link push}, get the
 * chunks completed so far; {@link end} gives the last one.
 *
 * FastCDC (Xia et al., 2016/2020) with normalization level 2. Each chunk's
 * first `min` bytes are skipped unhashed; from there a gear hash
 * `fp = (fp << 1) + GEAR[byte]` (32-bit, starting at 0) runs, and the chunk ends
 * after the first byte at which `fp & mask` is 0. The mask is the highest
 * log2(avg) + 2 bits while the chunk is shorter than `avg` (so cuts are rare),
 * then the highest log2(avg) − 2 bits (so they come soon); at `max` bytes the
 * chunk ends regardless. Cut points depend only on the bytes, never on how they
 * were split into pushes. Memory: one buffer of `max` bytes for the open chunk.
 */
export class Chunker {
  private readonly min: number;
  private readonly avg: number;
  private readonly max: number;
  private readonly maskSmall: number;
  private readonly maskLarge: number;
  /** Bytes of the open chunk kept from earlier pushes (allocated on first need, `max` long). */
  private pending: Uint8Array | null = null;
  private pendingLength = 0;
  /** Length of the open chunk, counted up to where the scan stopped. */
  private length = 0;
  /** The gear hash of the open chunk's bytes after its first `min`. */
  private fp = 0;

  /** Throws CONFIG when the sizes are not whole numbers with `min < avg < max` and `avg` a power of two (64 B to 256 MiB). */
  constructor(options: ChunkerOptions = {}) {
    const { min, avg, max } = checkedOptions(options);
    this.min = min;
    this.avg = avg;
    this.max = max;
    const bits = Math.log2(avg);
    this.maskSmall = highBits(bits + 2);
    this.maskLarge = highBits(bits - 2);
  }

  /**
   * Takes the next bytes of the stream (the chunker keeps no reference to
   * `data` after returning) and returns the chunks they complete, in order.
   * Each is a fresh Uint8Array over its own exactly-sized buffer.
   */
  push(data: Uint8Array): Uint8Array[] {
    return [...this[split](data)];
  }

  /** The last, possibly short, chunk (null when nothing is pending). After end(), the chunker starts afresh (boundaries reset). */
  end(): Uint8Array | null {
    const last = this.pendingLength === 0 || this.pending === null ? null : this.pending.slice(0, this.pendingLength);
    this.pendingLength = 0;
    this.length = 0;
    this.fp = 0;
    return last;
  }

  /** Yields the chunks `data` completes, lazily, and keeps the open chunk's tail; must be run to its end (hence not public). */
  *[split](data: Uint8Array): Generator<Uint8Array, void, undefined> {
    let start = 0;
    for (;;) {
      const cut = this.findCut(data, start);
      if (cut < 0) break;
      yield this.take(data, start, cut);
      start = cut;
    }
    const tail = data.length - start;
    if (tail > 0) {
      this.pending ??= new Uint8Array(this.max);
      this.pending.set(data.subarray(start), this.pendingLength);
      this.pendingLength += tail;
    }
  }

  /**
   * Scans `data` from `from` (where the open chunk is `this.length` long) and
   * returns the index just past the open chunk's last byte, or -1 when `data`
   * ends first (the hash state is kept for the next piece).
   */
  private findCut(data: Uint8Array, from: number): number {
    const n = data.length;
    let i = from;
    let length = this.length;
    if (length < this.min) {
      const skip = Math.min(this.min - length, n - i);
      i += skip;
      length += skip;
      if (length < this.min) {
        this.length = length;
        return -1;
      }
    }
    let fp = this.fp;
    // The open chunk is base + i bytes long before data[i].
    const base = length - i;
    if (length < this.avg) {
      const avgEnd = Math.min(n, this.avg - base);
      const found = scan(data, i, avgEnd, fp, this.maskSmall);
      if (found >= 0) return this.cut(found);
      i = avgEnd;
      fp = scanned;
    }
    const maxEnd = Math.min(n, this.max - base);
    const found = scan(data, i, maxEnd, fp, this.maskLarge);
    if (found >= 0) return this.cut(found);
    if (base + maxEnd === this.max) return this.cut(maxEnd);
    this.length = base + maxEnd;
    this.fp = scanned;
    return -1;
  }

  /** Resets the hash state for the chunk after the one that ends at `index`. */
  private cut(index: number): number {
    this.length = 0;
    this.fp = 0;
    return index;
  }

  /** The open chunk (pending bytes and data[start, end)) as a fresh array; the pending buffer is emptied. */
  private take(data: Uint8Array, start: number, end: number): Uint8Array {
    const chunk = new Uint8Array(this.pendingLength + end - start);
    if (this.pendingLength > 0 && this.pending !== null) chunk.set(this.pending.subarray(0, this.pendingLength));
    chunk.set(data.subarray(start, end), this.pendingLength);
    this.pendingLength = 0;
    return chunk;
  }
}

/** Chunks a whole stream: yields each chunk as soon as it is complete, then the last, short one. Fails when `data` fails. */
export async function* chunkStream(data: ByteStream, options?: ChunkerOptions): AsyncGenerator<Uint8Array> {
  const chunker = new Chunker(options);
  // Lazily, so that a big piece's chunks are not all held at once.
  for await (const piece of data) yield* chunker[split](piece);
  const last = chunker.end();
  if (last !== null) yield last;
}
