// Compression against the real zstd and gzip programs: round trips, the "auto" choice, and failures that say what went wrong.
import { execFileSync } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { LifeboatError } from "../errors";
import { currentPlatform } from "../../platform/current";
import { chooseCompression, type CompressionMethod, compress, decompress } from "./compression";

const platform = currentPlatform();
const MiB = 1024 * 1024;

async function collect(stream: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of stream) parts.push(Buffer.from(c));
  return Buffer.concat(parts);
}

async function* pieces(data: Uint8Array, size = 1 * MiB): AsyncIterable<Uint8Array> {
  for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size);
}

/** Log-like text, about `bytes` long: compressible, but not trivially. */
function logText(bytes: number): Buffer {
  const lines: string[] = [];
  let total = 0;
  for (let i = 0; total < bytes; i++) {
    const line = `2024-05-${String((i % 28) + 1).padStart(2, "0")}T12:${String(i % 60).padStart(2, "0")}:00Z INFO request id=${(i * 7919) % 100000} path=/api/v1/items/${i % 977} status=${i % 13 === 0 ? 500 : 200} ms=${(i * 31) % 1000}\n`;
    lines.push(line);
    total += line.length;
  }
  return Buffer.from(lines.join("")).subarray(0, bytes);
}

/** Runs `body` with a PATH on which no zstd can be found (the real lookup, not a stub). */
async function withoutZstdOnPath<T>(body: () => Promise<T>): Promise<T> {
  const saved = process.env.PATH;
  const empty = fs.mkdtempSync(path.join(os.tmpdir(), "lifeboat-nopath-"));
  process.env.PATH = empty;
  try {
    return await body();
  } finally {
    process.env.PATH = saved;
    fs.rmSync(empty, { recursive: true, force: true });
  }
}

describe("compression", () => {
  let text: Buffer;
  let random: Buffer;
  beforeAll(() => {
    text = logText(6 * MiB + 123);
    random = crypto.randomBytes(6 * MiB + 123);
    expect(execFileSync("zstd", ["--version"]).toString()).toMatch(/Zstandard/);
  });

  for (const method of ["none", "gzip", "zstd"] as CompressionMethod[]) {
    it(`round-trips text and random data through ${method}, whatever the piece sizes`, async () => {
      for (const data of [text, random.subarray(0, 300_000), Buffer.alloc(0)]) {
        for (const size of [MiB, 4097]) {
          const packed = await collect(compress(platform, method, pieces(data, size)));
          expect((await collect(decompress(platform, method, pieces(packed, 65536)))).equals(data)).toBe(true);
        }
      }
    });
  }

  it("writes zstd and gzip that the stock command-line tools read", async () => {
    const zstd = await collect(compress(platform, "zstd", pieces(text)));
    expect(execFileSync("zstd", ["-d", "-q", "-c"], { input: zstd, maxBuffer: 64 * MiB }).equals(text)).toBe(true);
    const gzip = await collect(compress(platform, "gzip", pieces(text)));
    expect(execFileSync("gzip", ["-d", "-c"], { input: gzip, maxBuffer: 64 * MiB }).equals(text)).toBe(true);
    expect(zstd.length).toBeLessThan(text.length / 3);
  });

  it('"auto" stores random data uncompressed and loses none of the sampled bytes', async () => {
    const chosen = await chooseCompression(platform, "auto", pieces(random, 300_000));
    expect(chosen.method).toBe("none");
    expect((await collect(chosen.data)).equals(random)).toBe(true);
  });

  it('"auto" compresses text with zstd when the host has it, and the result decompresses to the same bytes', async () => {
    const chosen = await chooseCompression(platform, "auto", pieces(text, 100_000));
    expect(chosen.method).toBe("zstd");
    const packed = await collect(chosen.data);
    expect((await collect(decompress(platform, "zstd", pieces(packed)))).equals(text)).toBe(true);
  });

  it('"auto" sees text that begins after a run of random bytes within the sample', async () => {
    const mixed = Buffer.concat([random.subarray(0, 100_000), text.subarray(0, 2 * MiB)]);
    expect((await chooseCompression(platform, "auto", pieces(mixed))).method).toBe("zstd");
  });

  it('"auto" on a stream shorter than the sample, and on an empty one', async () => {
    const short = text.subarray(0, 5000);
    const chosen = await chooseCompression(platform, "auto", pieces(short, 1000));
    expect(chosen.method).toBe("zstd");
    expect((await collect(decompress(platform, "zstd", chosen.data))).equals(short)).toBe(true);
    const empty = await chooseCompression(platform, "auto", pieces(Buffer.alloc(0)));
    expect(empty.method).toBe("none");
    expect((await collect(empty.data)).length).toBe(0);
  });

  it('"auto" and an explicit "zstd" fall back to gzip on a host without zstd', async () => {
    await withoutZstdOnPath(async () => {
      for (const hint of ["auto", "zstd"] as const) {
        const chosen = await chooseCompression(platform, hint, pieces(text));
        expect(chosen.method).toBe("gzip");
        expect((await collect(decompress(platform, "gzip", chosen.data))).equals(text)).toBe(true);
      }
    });
  });

  it("an explicit hint is kept as given", async () => {
    for (const hint of ["none", "gzip"] as const) {
      const chosen = await chooseCompression(platform, hint, pieces(random.subarray(0, 1000)));
      expect(chosen.method).toBe(hint);
    }
  });

  it("refuses to decompress zstd data on a host without zstd, with TOOL_MISSING and the install hint", async () => {
    const packed = await collect(compress(platform, "zstd", pieces(text.subarray(0, 1000))));
    await withoutZstdOnPath(async () => {
      await expect(collect(decompress(platform, "zstd", pieces(packed)))).rejects.toMatchObject({ code: "TOOL_MISSING", hint: "install zstd (apt-get install zstd)" });
      await expect(collect(compress(platform, "zstd", pieces(text.subarray(0, 1000))))).rejects.toMatchObject({ code: "TOOL_MISSING" });
    });
  });

  it("reports corrupt zstd data with INTEGRITY, naming zstd, its exit code and its stderr", async () => {
    const failure = collect(decompress(platform, "zstd", pieces(Buffer.from("this is not zstd data at all"))));
    await expect(failure).rejects.toMatchObject({ code: "INTEGRITY" });
    await expect(failure).rejects.toThrow(/^Cannot decompress with "zstd": zstd exited with code [1-9]\d*: .*\S/s);
  });

  it("refuses truncated zstd and gzip data instead of ending early", async () => {
    for (const method of ["zstd", "gzip"] as const) {
      const packed = await collect(compress(platform, method, pieces(text)));
      const cut = packed.subarray(0, Math.floor(packed.length / 2));
      await expect(collect(decompress(platform, method, pieces(cut))), method).rejects.toMatchObject({ code: "INTEGRITY" });
    }
  });

  it("reports corrupt gzip data with INTEGRITY, naming gzip", async () => {
    await expect(collect(decompress(platform, "gzip", pieces(Buffer.from("not gzip"))))).rejects.toThrow(/Cannot decompress "gzip" data/);
  });

  it("passes the source's own error through zstd and gzip, not the tool's exit status", async () => {
    for (const method of ["zstd", "gzip"] as const) {
      async function* failing(): AsyncIterable<Uint8Array> {
        yield text.subarray(0, MiB);
        throw new LifeboatError("SOURCE", 'Cannot read "/data": disk gone');
      }
      await expect(collect(compress(platform, method, failing())), method).rejects.toThrow('Cannot read "/data": disk gone');
    }
  });

  it("stops zstd and the source when the consumer stops reading early", async () => {
    let closed = false;
    async function* endless(): AsyncIterable<Uint8Array> {
      try {
        for (;;) yield text.subarray(0, MiB);
      } finally {
        closed = true;
      }
    }
    const chosen = await chooseCompression(platform, "auto", endless());
    for await (const piece of chosen.data) {
      expect(piece.length).toBeGreaterThan(0);
      break;
    }
    await expect.poll(() => closed).toBe(true);
  });
});
