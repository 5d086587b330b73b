// The codec of snapshot_chunks.ids: round trips, sizes, marking into bitmaps, refusals, and the
// speed garbage collection needs (the union of 400 snapshots of 10^6 chunks each).
import { describe, expect, it } from "vitest";
import { decodeIdSet, encodeIdSet, ID_SET_FORMAT, isMarked, markInto, MAX_ID } from "./id-set";

/** A deterministic pseudo-random source (xorshift), so that a failure repeats. */
function random(seed: number): () => number {
  let x = seed;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

const sortedUnique = (ids: number[]) => [...new Set(ids)].sort((a, b) => a - b);

/**
 * A snapshot's chunks after `changes` backups of a host of `n` chunks: each backup replaces about
 * `churn * n` of them with new ones (new ids, at the end), chosen at random among the hot ones:
 * the last `hot * n` of the first backup and every chunk made since (`hot` 1: anywhere).
 */
function evolved(n: number, changes: number, churn: number, rnd: () => number, hot = 1): number[] {
  const alive = new Uint8Array(n + 1 + Math.ceil(changes * n * churn));
  alive.fill(1, 1, n + 1);
  const cold = Math.round(n * (1 - hot));
  let next = n + 1;
  for (let c = 0; c < changes; c++) {
    for (let k = 0; k < n * churn; k++) {
      const id = cold + 1 + Math.floor(rnd() * (next - cold - 1));
      if (alive[id]) {
        alive[id] = 0;
        alive[next++] = 1;
      }
    }
  }
  const ids: number[] = [];
  for (let id = 1; id < next; id++) if (alive[id]) ids.push(id);
  return ids;
}

describe("sets of chunk ids", () => {
  it("round-trip: empty, one id, runs, gaps, unordered input with duplicates, the largest ids", () => {
    const cases: number[][] = [[], [0], [1], [5, 6, 7, 8], [1, 3, 5, 7], [1, 2, 4, 5, 6, 100, 101, 1000], [MAX_ID - 2, MAX_ID - 1, 7], [2 ** 40, 2 ** 40 + 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32]];
    for (const ids of cases) expect(decodeIdSet(encodeIdSet(ids))).toEqual(sortedUnique(ids));
    expect(decodeIdSet(encodeIdSet([9, 3, 3, 4, 9, 1]))).toEqual([1, 3, 4, 9]);
    const rnd = random(7);
    for (let t = 0; t < 50; t++) {
      const ids = Array.from({ length: Math.floor(rnd() * 500) }, () => Math.floor(rnd() * (t % 2 ? 600 : 1e9)));
      expect(decodeIdSet(encodeIdSet(ids))).toEqual(sortedUnique(ids));
    }
    expect(Array.from(encodeIdSet([]))).toEqual([ID_SET_FORMAT]);
  });

  it("is small: a run of 10^6 ids takes a few bytes, scattered ids about one byte each", () => {
    expect(encodeIdSet(Array.from({ length: 1e6 }, (_, i) => 5000 + i)).length).toBeLessThanOrEqual(1 + 3 + 3);
    expect(encodeIdSet(Array.from({ length: 1e5 }, (_, i) => 2 * i)).length).toBe(1 + 1e5);
    // A year of daily backups changing 1% of the chunks, within the tenth that ever changes, or anywhere.
    const hot = evolved(1e5, 365, 0.01, random(3), 0.1);
    expect(encodeIdSet(hot).length).toBeLessThan(hot.length / 3);
    const anywhere = evolved(1e5, 365, 0.01, random(3));
    expect(encodeIdSet(anywhere).length).toBeLessThan(anywhere.length);
  });

  it("marks into byte and word bitmaps as bit by bit would, relative to a base, and returns how many ids it marked", () => {
    const rnd = random(11);
    for (let t = 0; t < 40; t++) {
      const base = t % 3 === 0 ? 0 : Math.floor(rnd() * 100);
      const ids = Array.from({ length: Math.floor(rnd() * 300) }, () => base + Math.floor(rnd() * 2000));
      // Long runs too, crossing word boundaries.
      const from = base + Math.floor(rnd() * 1000);
      for (let i = 0; i < Math.floor(rnd() * 200); i++) ids.push(from + i);
      const expected = sortedUnique(ids);
      for (const bitmap of [new Uint8Array(2000 / 8 + 1), new Uint32Array(2000 / 32 + 1)]) {
        expect(markInto(bitmap, encodeIdSet(ids), base)).toBe(expected.length);
        const marked: number[] = [];
        for (let id = base - 5; id < base + bitmap.length * bitmap.BYTES_PER_ELEMENT * 8 + 5; id++) if (isMarked(bitmap, id, base)) marked.push(id);
        expect(marked).toEqual(expected);
      }
    }
  });

  it("marks the union of sets into one bitmap", () => {
    const bitmap = new Uint32Array(4);
    markInto(bitmap, encodeIdSet([1, 2, 3, 70]));
    markInto(bitmap, encodeIdSet([3, 4, 100]));
    expect([...Array(128).keys()].filter((id) => isMarked(bitmap, id))).toEqual([1, 2, 3, 4, 70, 100]);
  });

  it("refuses ids it cannot store, ids outside the bitmap, and bytes that are not a set", () => {
    for (const bad of [-1, 1.5, NaN, MAX_ID, Infinity]) expect(() => encodeIdSet([1, bad])).toThrow(expect.objectContaining({ code: "INTERNAL" }));
    expect(() => markInto(new Uint8Array(2), encodeIdSet([3, 16]))).toThrow(/Cannot mark chunk ids 16\.\.16: the bitmap holds ids 0\.\.15/);
    expect(() => markInto(new Uint8Array(2), encodeIdSet([3]), 4)).toThrow(/the bitmap holds ids 4\.\.19/);
    const good = encodeIdSet([1, 2, 3, 500, 100_000]);
    for (const bytes of [new Uint8Array(0), Uint8Array.of(2, 0), good.slice(0, good.length - 1), Uint8Array.of(ID_SET_FORMAT, 0x81), Uint8Array.of(ID_SET_FORMAT, ...Array(9).fill(0xff), 1)]) {
      expect(() => decodeIdSet(bytes)).toThrow(expect.objectContaining({ code: "INTERNAL" }));
      expect(() => markInto(new Uint32Array(8192), bytes)).toThrow(expect.objectContaining({ code: "INTERNAL" }));
    }
  });

  it("marks 400 snapshots of 10^6 chunks each into one bitmap within seconds", () => {
    // A host's snapshots after 1, 100 and 400 daily backups that change 1% of its chunks, within
    // the tenth of them that ever changes; and, the worst case, after 400 that change them anywhere
    // (half its runs a single id).
    const rnd = random(5);
    const shapes = [evolved(1e6, 0, 0, rnd), evolved(1e6, 100, 0.01, rnd, 0.1), evolved(1e6, 400, 0.01, rnd, 0.1), evolved(1e6, 400, 0.01, rnd)];
    const sets = shapes.map((ids) => encodeIdSet(ids));
    const bitmap = new Uint32Array(Math.ceil(6e6 / 32));
    const began = performance.now();
    let marked = 0;
    for (let s = 0; s < 400; s++) marked += markInto(bitmap, sets[s % sets.length]!);
    const ms = performance.now() - began;
    expect(marked).toBe(shapes.reduce((n, ids) => n + 100 * ids.length, 0));
    // About a second on a laptop core; the bound leaves room for a busy CI machine.
    expect(ms).toBeLessThan(4000);
  });
});
