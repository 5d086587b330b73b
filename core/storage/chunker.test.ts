// The content-defined chunker: pinned boundaries (they are part of the storage format), bounds, push-size independence and shift resistance.
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { isLifeboatError } from "../errors";
import { Chunker, type ChunkerOptions, chunkStream, DEFAULT_CHUNKING, gearTable } from "./chunker";

const KiB = 1024;
const MiB = 1024 * KiB;
const SMALL = { min: 2 * KiB, avg: 8 * KiB, max: 32 * KiB };

/** xorshift32 from `seed`, one byte (the top one) per step: the same bytes on every run and platform. */
function pseudoRandom(bytes: number, seed: number): Uint8Array {
  const out = new Uint8Array(bytes);
  let x = seed >>> 0;
  for (let i = 0; i < bytes; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x >>> 24;
  }
  return out;
}

/** Pushes `data` in pieces of `piece` bytes (or of the sizes `piece` returns) and returns every chunk, the last included. */
function chunkAll(data: Uint8Array, options: ChunkerOptions, piece: number | (() => number) = data.length || 1): Uint8Array[] {
  const chunker = new Chunker(options);
  const chunks: Uint8Array[] = [];
  for (let at = 0; at < data.length; ) {
    const size = typeof piece === "number" ? piece : piece();
    chunks.push(...chunker.push(data.subarray(at, at + size)));
    at += size;
  }
  const last = chunker.end();
  if (last !== null) chunks.push(last);
  return chunks;
}

const lengths = (chunks: Uint8Array[]): number[] => chunks.map((c) => c.length);
const sha256 = (bytes: Uint8Array): string => createHash("sha256").update(bytes).digest("hex");

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/**
 * FastCDC as the papers write it, byte by byte over a whole buffer: the
 * specification the streaming, word-at-a-time implementation must match.
 */
function referenceLengths(data: Uint8Array, { min, avg, max }: Required<ChunkerOptions>): number[] {
  const gear = gearTable();
  const bits = Math.log2(avg);
  const highBits = (n: number): number => (0xffffffff << (32 - n)) >>> 0;
  const small = highBits(bits + 2);
  const large = highBits(bits - 2);
  const out: number[] = [];
  for (let start = 0; start < data.length; ) {
    const n = Math.min(data.length - start, max);
    let length = n;
    let fp = 0;
    for (let k = min; k < n; k++) {
      fp = ((fp << 1) + gear[data[start + k]!]!) >>> 0;
      if ((fp & (k < avg ? small : large)) === 0) {
        length = k + 1;
        break;
      }
    }
    out.push(length);
    start += length;
  }
  return out;
}

/** Share of `before`'s chunks (by count) whose content is also a chunk of `after`. */
function keptShare(before: Uint8Array[], after: Uint8Array[]): number {
  const present = new Set(after.map(sha256));
  return before.filter((c) => present.has(sha256(c))).length / before.length;
}

async function* stream(data: Uint8Array, piece: number): AsyncGenerator<Uint8Array> {
  for (let at = 0; at < data.length; at += piece) yield data.subarray(at, at + piece);
}

async function collect(chunks: AsyncIterable<Uint8Array>): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for await (const c of chunks) out.push(c);
  return out;
}

describe("storage format (boundaries must never change)", () => {
  it("the gear table is splitmix32 from the seed 0x4C494645", () => {
    const gear = gearTable();
    expect(gear.length).toBe(256);
    expect([0, 1, 2, 127, 255].map((i) => gear[i])).toEqual([0x54372838, 0xadd2c6ed, 0xbb7eba2c, 0x47ac5f19, 0x1b22b777]);
    const littleEndian = new Uint8Array(256 * 4);
    const view = new DataView(littleEndian.buffer);
    gear.forEach((value, i) => view.setUint32(i * 4, value, true));
    expect(sha256(littleEndian)).toBe("48f50cc8169bd8fe248b234b3838109e83cddf7cb819d915fce596ccdb0e43d7");
  });

  it("gearTable returns a copy that cannot change the chunker's table", () => {
    const data = pseudoRandom(256 * KiB, 7);
    const before = lengths(chunkAll(data, SMALL));
    gearTable().fill(0);
    expect(lengths(chunkAll(data, SMALL))).toEqual(before);
  });

  it("cuts a seeded 1 MiB input at pinned points (min 2 KiB, avg 8 KiB, max 32 KiB)", () => {
    expect(lengths(chunkAll(pseudoRandom(1 * MiB, 1), SMALL))).toEqual([
      9973, 4221, 8605, 14210, 10068, 9051, 4426, 13548, 9654, 11164, 8508, 9466, 7295, 8365, 10638, 8579, 11140, 11509,
      8518, 12242, 10705, 10141, 10472, 11088, 12405, 9166, 4432, 6727, 8694, 4574, 10609, 8311, 11452, 10499, 9530, 9823,
      8532, 5186, 9171, 15232, 16835, 9065, 11077, 12463, 9428, 9605, 13729, 15508, 10544, 8070, 8013, 11362, 10708, 8886,
      11485, 9974, 8776, 10033, 2816, 7908, 9575, 10765, 8211, 12462, 10393, 12195, 11249, 12008, 8932, 8715, 10854, 12689,
      8286, 3882, 9417, 9995, 8512, 13478, 9603, 9270, 8694, 5238, 5481, 21611, 8381, 8994, 8417, 11090, 8722, 8874, 4012,
      9706, 8635, 8418, 8573, 11736, 11436, 10570, 10362, 3920, 8415, 9651, 8373, 6770, 13018, 9824, 9101, 12399, 3450,
    ]);
  });

  it("cuts a seeded 16 MiB input at pinned points with the default sizes (256 KiB / 1 MiB / 4 MiB)", () => {
    expect(DEFAULT_CHUNKING).toEqual({ min: 256 * KiB, avg: 1 * MiB, max: 4 * MiB });
    expect(lengths(chunkAll(pseudoRandom(16 * MiB, 2), {}))).toEqual([
      1160723, 1817424, 1173922, 1117538, 1486218, 1786570, 1181405, 1112261, 1385584, 1057121, 1316636, 1137672, 1044142,
    ]);
  });

  it("matches a plain byte-by-byte FastCDC reference for several sizes", () => {
    const data = pseudoRandom(3 * MiB + 123, 3);
    for (const options of [SMALL, { min: 100, avg: 256, max: 1000 }, { min: 16 * KiB, avg: 64 * KiB, max: 256 * KiB }, DEFAULT_CHUNKING]) {
      const full = { ...DEFAULT_CHUNKING, ...options };
      expect(lengths(chunkAll(data, options, 1 * MiB + 1)), JSON.stringify(options)).toEqual(referenceLengths(data, full));
    }
  });
});

describe("Chunker", () => {
  it("returns chunks that concatenate to the input", () => {
    const data = pseudoRandom(2 * MiB + 17, 4);
    const chunks = chunkAll(data, SMALL, 100_003);
    expect(chunks.length).toBeGreaterThan(100);
    expect(Buffer.from(concat(chunks)).equals(Buffer.from(data))).toBe(true);
  });

  it("never makes a chunk longer than max, nor shorter than min except the last", () => {
    const random = pseudoRandom(4 * MiB, 5);
    // Low entropy: a short pattern repeated, where cut points are few or many by chance of the pattern.
    const pattern = new Uint8Array(3 * MiB).map((_, i) => (i * 7) % 13);
    for (const data of [random, pattern]) {
      const chunks = lengths(chunkAll(data, SMALL, 65_536));
      expect(Math.max(...chunks)).toBeLessThanOrEqual(SMALL.max);
      expect(Math.min(...chunks.slice(0, -1))).toBeGreaterThanOrEqual(SMALL.min);
      expect(chunks.reduce((a, b) => a + b, 0)).toBe(data.length);
    }
    const withDefaults = lengths(chunkAll(pseudoRandom(24 * MiB, 6), {}, 1 * MiB));
    expect(Math.max(...withDefaults)).toBeLessThanOrEqual(DEFAULT_CHUNKING.max);
    expect(Math.min(...withDefaults.slice(0, -1))).toBeGreaterThanOrEqual(DEFAULT_CHUNKING.min);
  });

  it("cuts at the same points however the input is split into pushes", () => {
    const data = pseudoRandom(1 * MiB, 8);
    const whole = lengths(chunkAll(data, SMALL));
    expect(whole.length).toBeGreaterThan(50);
    let state = 12345;
    const randomSize = (): number => {
      state = (Math.imul(state, 1103515245) + 12345) >>> 0;
      return 1 + (state % 20_000);
    };
    for (const piece of [1, 7, 63, 64, 4096 + 3, SMALL.max, 1 * MiB, randomSize]) {
      expect(lengths(chunkAll(data, SMALL, piece)), `pieces of ${String(piece)}`).toEqual(whole);
    }
  });

  it("cuts at the same points when the input is not aligned to four bytes", () => {
    const data = pseudoRandom(1 * MiB, 9);
    const whole = lengths(chunkAll(data, SMALL));
    for (const offset of [1, 2, 3, 5]) {
      const shifted = new Uint8Array(data.length + offset);
      shifted.set(data, offset);
      expect(lengths(chunkAll(shifted.subarray(offset), SMALL, 10_001)), `offset ${offset}`).toEqual(whole);
    }
  });

  it("gives identical chunks for the same input every time", () => {
    const data = pseudoRandom(1 * MiB, 10);
    expect(chunkAll(data, SMALL, 65_536).map(sha256)).toEqual(chunkAll(data, SMALL, 12_345).map(sha256));
  });

  it("returns fresh arrays that the caller owns, not views of the input or of its buffer", () => {
    const input = Buffer.from(pseudoRandom(256 * KiB, 11));
    const original = Buffer.from(input);
    const chunker = new Chunker(SMALL);
    const chunks = [...chunker.push(input.subarray(0, 100 * KiB)), ...chunker.push(input.subarray(100 * KiB))];
    const last = chunker.end();
    expect(last).not.toBeNull();
    chunks.push(last!);
    input.fill(0);
    expect(Buffer.from(concat(chunks)).equals(original)).toBe(true);
    for (const chunk of chunks) {
      expect(chunk.byteOffset).toBe(0);
      expect(chunk.buffer.byteLength).toBe(chunk.length);
      expect(Buffer.isBuffer(chunk)).toBe(false);
    }
    expect(new Set(chunks.map((c) => c.buffer)).size).toBe(chunks.length);
  });

  it("gives no chunks for empty input", async () => {
    const chunker = new Chunker(SMALL);
    expect(chunker.push(new Uint8Array(0))).toEqual([]);
    expect(chunker.end()).toBeNull();
    expect(await collect(chunkStream(stream(new Uint8Array(0), 1)))).toEqual([]);
    expect(await collect(chunkStream((async function* () { yield new Uint8Array(0); yield new Uint8Array(0); })()))).toEqual([]);
  });

  it("cuts a stream of zeros at max", () => {
    expect(lengths(chunkAll(new Uint8Array(2 * SMALL.max + 5), SMALL, 1000))).toEqual([SMALL.max, SMALL.max, 5]);
    expect(lengths(chunkAll(new Uint8Array(10 * MiB), {}, 1 * MiB))).toEqual([4 * MiB, 4 * MiB, 2 * MiB]);
  });

  it("starts afresh after end(), cutting as a new chunker would", () => {
    const data = pseudoRandom(512 * KiB, 12);
    const chunker = new Chunker(SMALL);
    chunker.push(pseudoRandom(5000, 13));
    expect(chunker.end()?.length).toBe(5000);
    const again = [...chunker.push(data)];
    const last = chunker.end();
    if (last !== null) again.push(last);
    expect(lengths(again)).toEqual(lengths(chunkAll(data, SMALL)));
  });

  it("keeps a short stream whole and returns it from end()", () => {
    const chunker = new Chunker(SMALL);
    expect(chunker.push(new Uint8Array([1, 2, 3]))).toEqual([]);
    expect(chunker.push(new Uint8Array([4]))).toEqual([]);
    expect(Array.from(chunker.end() ?? [])).toEqual([1, 2, 3, 4]);
    expect(chunker.end()).toBeNull();
  });

  it("makes chunks of about avg on random data (within 25%)", () => {
    for (const options of [SMALL, { min: 16 * KiB, avg: 64 * KiB, max: 256 * KiB }]) {
      const chunks = lengths(chunkAll(pseudoRandom(16 * MiB, 14), options, 1 * MiB)).slice(0, -1);
      const mean = chunks.reduce((a, b) => a + b, 0) / chunks.length;
      expect(mean, JSON.stringify(options)).toBeGreaterThan(options.avg * 0.75);
      expect(mean, JSON.stringify(options)).toBeLessThan(options.avg * 1.25);
    }
  });

  it("keeps at least 90% of the chunks when 100 bytes are inserted at the start or 1 byte in the middle", () => {
    const data = pseudoRandom(16 * MiB, 15);
    const before = chunkAll(data, SMALL, 1 * MiB);
    const prefixed = concat([pseudoRandom(100, 16), data]);
    const middle = data.length >> 1;
    const inserted = concat([data.subarray(0, middle), new Uint8Array([0x5a]), data.subarray(middle)]);
    const both = concat([pseudoRandom(100, 16), inserted]);
    for (const [name, after] of [["prefix", prefixed], ["middle", inserted], ["both", both]] as const) {
      const share = keptShare(before, chunkAll(after, SMALL, 1 * MiB));
      expect(share, name).toBeGreaterThanOrEqual(0.9);
    }
  });

  it("rejects sizes that are not min < avg < max with avg a power of two", () => {
    const bad: ChunkerOptions[] = [
      { avg: 3000, min: 1000, max: 9000 },
      { min: 8 * KiB, avg: 8 * KiB, max: 32 * KiB },
      { min: 2 * KiB, avg: 8 * KiB, max: 8 * KiB },
      { min: 0, avg: 8 * KiB, max: 32 * KiB },
      { min: 2.5, avg: 8 * KiB, max: 32 * KiB },
      { min: 16, avg: 32, max: 64 },
      { min: 2 * MiB },
    ];
    for (const options of bad) {
      let thrown: unknown;
      try {
        new Chunker(options);
      } catch (err) {
        thrown = err;
      }
      expect(isLifeboatError(thrown) && thrown.code === "CONFIG", JSON.stringify(options)).toBe(true);
      expect((thrown as Error).message).toMatch(/^Cannot chunk with sizes min \S+, avg \S+, max \S+: /);
    }
    expect(() => new Chunker({ avg: 3000 })).toThrow(/avg must be a power of two/);
    expect(() => new Chunker({ min: 2 * MiB })).toThrow(/min < avg < max/);
  });
});

describe("chunkStream", () => {
  it("yields the chunks that push and end give, for any piece size", async () => {
    const data = pseudoRandom(1 * MiB + 999, 17);
    const expected = chunkAll(data, SMALL).map(sha256);
    for (const piece of [1000, 65_536, 4 * MiB]) {
      expect((await collect(chunkStream(stream(data, piece), SMALL))).map(sha256)).toEqual(expected);
    }
  });

  it("uses the default sizes when given no options", async () => {
    const data = pseudoRandom(9 * MiB, 18);
    expect(lengths(await collect(chunkStream(stream(data, 65_536))))).toEqual(lengths(chunkAll(data, DEFAULT_CHUNKING)));
  });

  it("fails when its source fails", async () => {
    async function* failing(): AsyncGenerator<Uint8Array> {
      yield pseudoRandom(100 * KiB, 19);
      throw new Error("disk gone");
    }
    await expect(collect(chunkStream(failing(), SMALL))).rejects.toThrow("disk gone");
  });
});
