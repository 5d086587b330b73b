/** @module Compression per artifact: none for incompressible data, zstd (the host's `zstd` program) or gzip (the platform's zlib) for the rest. */
import { isLifeboatError, LifeboatError, type ErrorCode, messageOf } from "../errors";
import type { ByteStream, Platform } from "../platform";

/** A compression method as recorded in manifests and the ledger. */
export type CompressionMethod = "none" | "zstd" | "gzip";

/** How much of an artifact's start "auto" looks at. */
const SAMPLE_BYTES = 4 * 1024 * 1024;
/** Size of each of the windows of the sample that are test-compressed. */
const PROBE_BYTES = 256 * 1024;
/** Where the windows start, as fractions of the sample: its start, middle and end. */
const PROBE_AT = [0, 0.5, 1];
/** A sample that gzip -1 shrinks to more than this fraction is not worth compressing. */
const INCOMPRESSIBLE_RATIO = 0.9;
/** Fast on purpose, like `zstd -1`: the agent shares a small VPS with the services it backs up. */
const GZIP_LEVEL = 1;

const ZSTD_HINT = "install zstd (apt-get install zstd)";
const DAMAGED_HINT = "the stored object was compressed incorrectly or is damaged; restore from another snapshot";

/**
 * Compresses `data` with `method` ("none" passes it through unchanged).
 * zstd runs as `zstd -1 -T0 -q -c`; gzip uses the platform's zlib at level 1.
 * Errors of `data` itself surface unchanged.
 * @throws LifeboatError("TOOL_MISSING") when zstd cannot be started, LifeboatError("SOURCE") when it fails.
 */
export function compress(platform: Platform, method: CompressionMethod, data: ByteStream): ByteStream {
  if (method === "zstd") return throughTool(platform, "zstd", ["-1", "-T0", "-q", "-c"], data, { action: "compress", code: "SOURCE" });
  if (method === "gzip") return platform.gzip(data, GZIP_LEVEL);
  return data;
}

/**
 * Decompresses `data` that was stored with `method`. A corrupt or truncated
 * compressed stream never ends normally: it throws.
 * @throws LifeboatError("TOOL_MISSING", hint "install zstd ...") when zstd is needed but not on this host;
 * LifeboatError("INTEGRITY") when the data does not decompress (naming the tool, its exit code and stderr).
 */
export function decompress(platform: Platform, method: CompressionMethod, data: ByteStream): ByteStream {
  if (method === "zstd") {
    return (async function* () {
      if (!(await platform.which("zstd"))) {
        throw new LifeboatError("TOOL_MISSING", 'Cannot decompress "zstd" data: the zstd program is not installed on this host', { hint: ZSTD_HINT });
      }
      yield* throughTool(platform, "zstd", ["-d", "-q", "-c"], data, { action: "decompress", code: "INTEGRITY", hint: DAMAGED_HINT });
    })();
  }
  if (method === "gzip") return gunzipChecked(platform, data);
  return data;
}

/**
 * Picks the method for an artifact and returns its compressed stream.
 * An explicit "zstd" becomes "gzip" on a host without zstd. For "auto", buffers
 * up to the first 4 MiB, test-compresses three 256 KiB windows of them with
 * gzip -1, and replays them ahead of the rest (nothing is lost or reordered):
 * data that does not shrink below 90% → "none"; else "zstd" when the host has
 * it, otherwise "gzip". The returned `method` is what must be recorded.
 */
export async function chooseCompression(
  platform: Platform,
  hint: "auto" | CompressionMethod,
  data: ByteStream,
): Promise<{ method: CompressionMethod; data: ByteStream }> {
  if (hint !== "auto") {
    const method = hint === "zstd" ? await zstdOrGzip(platform) : hint;
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
  const method = (await looksCompressible(platform, head, headBytes)) ? await zstdOrGzip(platform) : "none";
  return { method, data: compress(platform, method, replay(head, ended ? null : iterator)) };
}

async function zstdOrGzip(platform: Platform): Promise<CompressionMethod> {
  return (await platform.which("zstd")) ? "zstd" : "gzip";
}

/** True when gzip -1 shrinks windows of the sample below {@link INCOMPRESSIBLE_RATIO}. */
async function looksCompressible(platform: Platform, head: Uint8Array[], headBytes: number): Promise<boolean> {
  if (headBytes === 0) return false;
  const windows: [number, number][] =
    headBytes <= PROBE_AT.length * PROBE_BYTES
      ? [[0, headBytes]]
      : PROBE_AT.map((at) => {
          const start = Math.floor((headBytes - PROBE_BYTES) * at);
          return [start, start + PROBE_BYTES];
        });
  async function* probe(): ByteStream {
    for (const [start, end] of windows) yield* slice(head, start, end);
  }
  const plain = windows.reduce((n, [start, end]) => n + end - start, 0);
  let packed = 0;
  for await (const piece of platform.gzip(probe(), 1)) packed += piece.length;
  return packed <= plain * INCOMPRESSIBLE_RATIO;
}

/** Bytes [start, end) of the concatenation of `parts`, without copying. */
function* slice(parts: Uint8Array[], start: number, end: number): Generator<Uint8Array> {
  let offset = 0;
  for (const part of parts) {
    const from = Math.max(start - offset, 0);
    const to = Math.min(end - offset, part.length);
    if (from < to) yield part.subarray(from, to);
    offset += part.length;
    if (offset >= end) return;
  }
}

/** The buffered head, then the rest of the source; closes the source if the consumer stops early. */
async function* replay(head: Uint8Array[], rest: AsyncIterator<Uint8Array> | null): ByteStream {
  let done = rest === null;
  try {
    yield* head;
    while (rest && !done) {
      const next = await rest.next();
      if (next.done) done = true;
      else yield next.value;
    }
  } finally {
    if (!done) await rest?.return?.();
  }
}

/** gunzip whose failures on corrupt input name gzip; errors from upstream pass through unchanged. */
async function* gunzipChecked(platform: Platform, data: ByteStream): ByteStream {
  try {
    yield* platform.gunzip(data);
  } catch (err) {
    if (isLifeboatError(err)) throw err;
    throw new LifeboatError("INTEGRITY", `Cannot decompress "gzip" data: ${messageOf(err)}`, { cause: err, hint: DAMAGED_HINT });
  }
}

/**
 * Runs `data` through an external tool's stdin → stdout. The source's own error
 * wins over the tool's exit status (the tool is killed when the source fails).
 * A tool that exits non-zero raises `failure.code` with its exit code and
 * trimmed stderr; a tool that cannot be started raises TOOL_MISSING.
 */
async function* throughTool(
  platform: Platform,
  tool: string,
  args: string[],
  data: ByteStream,
  failure: { action: string; code: ErrorCode; hint?: string },
): ByteStream {
  let sourceError: unknown;
  async function* watched(): ByteStream {
    try {
      yield* data;
    } catch (err) {
      sourceError = err;
      throw err;
    }
  }
  const child = platform.spawn(tool, args, { stdin: watched() });
  // Settle `exited` at once: a spawn failure must not become an unhandled rejection while stdout drains.
  const outcome = child.exited.then(
    (result) => ({ ...result, spawnError: undefined }),
    (spawnError: unknown) => ({ code: -1, stderr: "", spawnError }),
  );
  let finished = false;
  try {
    yield* child.stdout;
    const { code, stderr, spawnError } = await outcome;
    finished = true;
    if (sourceError !== undefined) throw sourceError;
    if (spawnError !== undefined) {
      const missing = (spawnError as { code?: string }).code === "ENOENT";
      throw new LifeboatError(missing ? "TOOL_MISSING" : failure.code, `Cannot ${failure.action} with "${tool}": ${missing ? "it is not installed on this host" : messageOf(spawnError)}`, {
        cause: spawnError,
        ...(missing ? { hint: `install ${tool} (apt-get install ${tool})` } : {}),
      });
    }
    if (code !== 0) {
      const tail = stderr.trim().slice(-500);
      throw new LifeboatError(failure.code, `Cannot ${failure.action} with "${tool}": ${tool} exited with code ${code}${tail ? `: ${tail}` : ""}`, failure.hint ? { hint: failure.hint } : {});
    }
  } finally {
    if (!finished) child.kill();
  }
}
