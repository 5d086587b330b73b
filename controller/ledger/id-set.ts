/**
 * @module Sets of chunk ids as the ledger stores them (`snapshot_chunks.ids`):
 * sorted, unique ids cut into runs of consecutive ids, each run written as
 * unsigned LEB128 varints of its distance from the previous run and its length.
 *
 * Chunk ids are the `chunks` rows' ids, given in upload order, so the chunks of
 * data that did not change since it was first stored form long runs: a set of
 * 10^6 ids takes a few bytes when nothing changed, under a byte per id when
 * changes are scattered everywhere, and garbage collection sets the bits of a
 * run a bitmap word at a time (400 sets of 10^6 ids in about a second: see
 * id-set.test.ts).
 *
 * Layout: a format byte ({@link ID_SET_FORMAT}), then per run, in ascending
 * order, `varint(gap * 2 + (length > 1 ? 1 : 0))` and, for a run longer than
 * one id, `varint(length - 2)`. `gap` is the run's first id minus the cursor,
 * which starts at 0 and after each run is its last id + 2 (runs are maximal, so
 * the next one starts there or later).
 */
import { LifeboatError } from "../../core/errors";

/** The first byte of every encoded set; another value is refused. */
export const ID_SET_FORMAT = 1;

/** Ids must be below this (so that `gap * 2 + 1` stays a safe integer). */
export const MAX_ID = 2 ** 52;

/** A bitmap of ids: bit `id - base` of word `(id - base) / (bits per element)`, least significant bit first. */
export type IdBitmap = Uint8Array | Uint32Array;

const malformed = (why: string) =>
  new LifeboatError("INTERNAL", `Cannot read a set of chunk ids from the ledger: ${why}`, {
    hint: "the ledger is damaged or was written by another program: restore it from a copy (sqlite3 ledger.db \".backup ...\") before pruning",
  });

/** A growable byte buffer of varints. */
class Writer {
  bytes: Uint8Array;
  length = 0;

  constructor(capacity: number) {
    this.bytes = new Uint8Array(Math.max(16, capacity));
  }

  varint(value: number): void {
    if (this.length + 8 > this.bytes.length) {
      const grown = new Uint8Array(this.bytes.length * 2);
      grown.set(this.bytes.subarray(0, this.length));
      this.bytes = grown;
    }
    while (value >= 0x80) {
      this.bytes[this.length++] = (value % 0x80) | 0x80;
      value = Math.floor(value / 0x80);
    }
    this.bytes[this.length++] = value;
  }
}

/**
 * Encodes a set of ids (any order, duplicates allowed: the set is what is
 * stored). An empty set encodes to the format byte alone.
 * @throws LifeboatError("INTERNAL") for an id that is not a whole number in [0, {@link MAX_ID}).
 */
export function encodeIdSet(ids: ArrayLike<number>): Uint8Array {
  const sorted = Float64Array.from(ids).sort();
  for (let i = 0; i < sorted.length; i++) {
    const id = sorted[i]!;
    if (!Number.isInteger(id) || id < 0 || id >= MAX_ID) throw new LifeboatError("INTERNAL", `Cannot store the chunk id ${id}: ids are whole numbers from 0 to 2^52`);
  }
  const out = new Writer(1 + sorted.length + 8);
  out.bytes[out.length++] = ID_SET_FORMAT;
  let cursor = 0;
  for (let i = 0; i < sorted.length; ) {
    const start = sorted[i]!;
    let end = start; // the run's last id
    while (++i < sorted.length && sorted[i]! <= end + 1) end = sorted[i]!;
    const length = end - start + 1;
    out.varint((start - cursor) * 2 + (length > 1 ? 1 : 0));
    if (length > 1) out.varint(length - 2);
    cursor = end + 2;
  }
  return out.bytes.slice(0, out.length);
}

/** Where the last {@link longVarint} ended. */
let after = 0;

/**
 * The unsigned LEB128 varint of more than one byte at `pos` (callers read a
 * one-byte varint, nearly every one, themselves); it ends before {@link after}.
 */
function longVarint(blob: Uint8Array, pos: number): number {
  let value = 0;
  for (let scale = 1; ; scale *= 0x80) {
    if (pos >= blob.length || scale > 2 ** 49) throw malformed("a number runs past its end");
    const b = blob[pos++]!;
    value += (b & 0x7f) * scale;
    if (b < 0x80) {
      after = pos;
      return value;
    }
  }
}

/** @throws LifeboatError("INTERNAL") when `blob` does not start as an encoded set */
function checkFormat(blob: Uint8Array): void {
  if (blob.length === 0 || blob[0] !== ID_SET_FORMAT) throw malformed(blob.length === 0 ? "it is empty" : `unknown format ${blob[0]}`);
}

/**
 * Calls `run(start, length)` for each run of consecutive ids of an encoded set,
 * in ascending order.
 * @returns how many ids the set holds
 * @throws LifeboatError("INTERNAL") for bytes that are not an encoded set
 */
export function forEachRun(blob: Uint8Array, run: (start: number, length: number) => void): number {
  checkFormat(blob);
  const limit = blob.length;
  let pos = 1;
  let cursor = 0;
  let count = 0;
  // The same reading as markInto's (kept in step with it).
  while (pos < limit) {
    let head = blob[pos++]!;
    if (head >= 0x80) (head = longVarint(blob, pos - 1)), (pos = after);
    let length = 1;
    if (head % 2 === 1) {
      if (pos >= limit) throw malformed("a run has no length");
      length = blob[pos++]!;
      if (length >= 0x80) (length = longVarint(blob, pos - 1)), (pos = after);
      length += 2;
    }
    const start = cursor + (head - (head % 2)) / 2;
    if (start + length > MAX_ID) throw malformed("an id beyond 2^52");
    cursor = start + length + 1;
    count += length;
    run(start, length);
  }
  return count;
}

/** The ids of an encoded set, ascending. @throws LifeboatError("INTERNAL") for bytes that are not an encoded set */
export function decodeIdSet(blob: Uint8Array): number[] {
  const ids: number[] = [];
  forEachRun(blob, (start, length) => {
    for (let id = start; id < start + length; id++) ids.push(id);
  });
  return ids;
}

/** How many ids an encoded set holds. @throws LifeboatError("INTERNAL") for bytes that are not an encoded set */
export function countIds(blob: Uint8Array): number {
  return forEachRun(blob, () => {});
}

/**
 * Sets the bit of every id of an encoded set in `bitmap` (bit `id - base`),
 * each run with one OR per word it touches (a fill for long ones). Ids already
 * set stay set: the union of many sets is marking each of them into one bitmap.
 * @returns how many ids the set holds (compare with the row's `count`)
 * @throws LifeboatError("INTERNAL") for bytes that are not an encoded set, or an id outside [base, base + bits of bitmap)
 */
export function markInto(bitmap: IdBitmap, blob: Uint8Array, base = 0): number {
  const shift = bitmap.BYTES_PER_ELEMENT === 4 ? 5 : 3;
  const mask = (1 << shift) - 1;
  const full = bitmap.BYTES_PER_ELEMENT === 4 ? 0xffffffff : 0xff;
  const capacity = bitmap.length * (mask + 1);
  if (capacity > 2 ** 32) throw new LifeboatError("INTERNAL", "Cannot mark chunk ids: a bitmap holds at most 2^32 ids");
  checkFormat(blob);
  const limit = blob.length;
  let pos = 1;
  let cursor = 0;
  let count = 0;
  // forEachRun's reading, inlined: garbage collection marks hundreds of millions of ids, and a
  // call per run would double its time.
  while (pos < limit) {
    let head = blob[pos++]!;
    if (head >= 0x80) (head = longVarint(blob, pos - 1)), (pos = after);
    let length = 1;
    if (head % 2 === 1) {
      if (pos >= limit) throw malformed("a run has no length");
      length = blob[pos++]!;
      if (length >= 0x80) (length = longVarint(blob, pos - 1)), (pos = after);
      length += 2;
    }
    const start = cursor + (head - (head % 2)) / 2;
    cursor = start + length + 1;
    count += length;
    const first = start - base;
    const last = first + length - 1;
    if (first < 0 || last >= capacity) throw new LifeboatError("INTERNAL", `Cannot mark chunk ids ${start}..${start + length - 1}: the bitmap holds ids ${base}..${base + capacity - 1}`);
    let word = first >>> shift;
    const lastWord = last >>> shift;
    const lo = first & mask;
    const hi = last & mask;
    if (word === lastWord) {
      bitmap[word] = bitmap[word]! | ((full >>> (mask - hi + lo)) << lo);
      continue;
    }
    bitmap[word] = bitmap[word]! | (full << lo);
    if (lastWord - word > 64) bitmap.fill(full, word + 1, lastWord);
    else for (word++; word < lastWord; word++) bitmap[word] = full;
    bitmap[lastWord] = bitmap[lastWord]! | (full >>> (mask - hi));
  }
  return count;
}

/** Whether bit `id - base` of `bitmap` is set (false outside it). */
export function isMarked(bitmap: IdBitmap, id: number, base = 0): boolean {
  const i = id - base;
  const shift = bitmap.BYTES_PER_ELEMENT === 4 ? 5 : 3;
  if (i < 0 || i >= bitmap.length * 2 ** shift) return false;
  return ((bitmap[i >>> shift]! >>> (i & ((1 << shift) - 1))) & 1) === 1;
}
