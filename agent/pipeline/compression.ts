/** @module Compression per artifact: none for incompressible data, zstd (the host's `zstd`) or gzip for the rest. */
import { concatBytes } from "../crypto/age-stream";
import { LifeboatError, messageOf } from "../errors";
import type { ByteStream, Platform } from "../platform";

/** A compression method as stored in manifests. */
export type CompressionMethod = "none" | "zstd" | "gzip";

const SAMPLE_BYTES = 4 * 1024 * 1024;
const PROBE_BYTES = 256 * 1024;
/** A sample that gzip -1 shrinks below this ratio is worth compressing. */
const COMPRESSIBLE_RATIO = 0.9;

async function collect(data: ByteStream): Promise<number> {
  let n = 0;
  for await (const chunk of data) n += chunk.length;
  return n;
}

async function* once(bytes: Uint8Array): ByteStream {
  yield bytes;
}

/**
 * Runs `data` through an external tool's stdin/stdout. The source's own error
 * wins over the tool's exit status; a tool that exits non-zero raises an error
 * with its exit code and stderr; a missing tool raises TOOL_MISSING.
 */
async function* throughTool(platform: Platform, tool: string, args: string[], data: ByteStream): ByteStream {
  let sourceError: unknown;
  async function* guarded(): ByteStream {
    try {
      yield* data;
    } catch (err) {
      sourceError = err;
      throw err;
    }
  }
  const child = platform.spawn(tool, args, { stdin: guarded() });
  let finished = false;
  try {
    yield* child.stdout;
    let result: { code: number; stderr: string };
    try {
      result = await child.exited;
    } catch (err) {
      throw new LifeboatError("TOOL_MISSING", `Cannot run "${tool}": ${messageOf(err)}`, { hint: `install ${tool} (apt-get install ${tool})` });
    }
    finished = true;
    if (sourceError !== undefined) throw sourceError;
    if (result.code !== 0) {
      throw new LifeboatError("SOURCE", `Cannot ${args.includes("-d") ? "decompress" : "compress"} with "${tool}": it exited with code ${result.code}: ${result.stderr.trim().slice(0, 500)}`);
    }
  } finally {
    if (!finished) child.kill();
  }
}

/** Compresses `data` with `method`. */
export function compress(platform: Platform, method: CompressionMethod, data: ByteStream): ByteStream {
  if (method === "zstd") return throughTool(platform, "zstd", ["-1", "-T0", "-q", "-c"], data);
  if (method === "gzip") return platform.gzip(data, 6);
  return data;
}

/** Decompresses `data` stored with `method`. @throws TOOL_MISSING when zstd is needed but absent. */
export function decompress(platform: Platform, method: CompressionMethod, data: ByteStream): ByteStream {
  if (method === "zstd") {
    return (async function* () {
      if (!(await platform.which("zstd"))) {
        throw new LifeboatError("TOOL_MISSING", "Cannot decompress a zstd artifact: the zstd program is not installed on this host", { hint: "install zstd (apt-get install zstd)" });
      }
      yield* throughTool(platform, "zstd", ["-d", "-q", "-c"], data);
    })();
  }
  if (method === "gzip") return platform.gunzip(data);
  return data;
}

/** True when gzip -1 shrinks `sample` noticeably. */
async function looksCompressible(platform: Platform, sample: Uint8Array): Promise<boolean> {
  if (sample.length === 0) return false;
  const probes: Uint8Array[] = [];
  for (const at of [0, 0.5, 0.9]) {
    const start = Math.floor((sample.length - Math.min(PROBE_BYTES, sample.length)) * at);
    probes.push(sample.subarray(start, start + PROBE_BYTES));
  }
  const plain = probes.reduce((n, p) => n + p.length, 0);
  const packed = await collect(platform.gzip(once(concatBytes(probes)), 1));
  return packed < plain * COMPRESSIBLE_RATIO;
}

/**
 * Picks the method for an artifact. For "auto", reads up to the first 4 MiB,
 * probes them with gzip -1, and replays them ahead of the rest (nothing lost):
 * incompressible → none; compressible → zstd when the host has it, else gzip.
 */
export async function chooseCompression(platform: Platform, hint: "auto" | CompressionMethod, data: ByteStream): Promise<{ method: CompressionMethod; data: ByteStream }> {
  const resolve = async (m: CompressionMethod) => (m === "zstd" && !(await platform.which("zstd")) ? "gzip" : m);
  if (hint !== "auto") {
    const method = await resolve(hint);
    return { method, data: compress(platform, method, data) };
  }
  const iterator = data[Symbol.asyncIterator]();
  const head: Uint8Array[] = [];
  let headBytes = 0;
  let ended = false;
  while (headBytes < SAMPLE_BYTES) {
    const next = await iterator.next();
    if (next.done) {
      ended = true;
      break;
    }
    head.push(next.value);
    headBytes += next.value.length;
  }
  const method = (await looksCompressible(platform, concatBytes(head, headBytes))) ? await resolve("zstd") : "none";
  async function* replay(): ByteStream {
    yield* head;
    if (ended) return;
    for (;;) {
      const next = await iterator.next();
      if (next.done) return;
      yield next.value;
    }
  }
  return { method, data: compress(platform, method, replay()) };
}
