/** @module The Node.js (and Deno, through its `node:` compatibility) implementation of {@link Platform}. */
import { spawn as spawnChild } from "node:child_process";
import * as crypto from "node:crypto";
import { constants as fsConstants, createWriteStream } from "node:fs";
import * as fs from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { once } from "node:events";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import * as zlib from "node:zlib";
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import type { ByteStream, ChildProcess, FileInfo, NewFileOptions, Platform, RunResult, SpawnOptions, WorkerPool, X25519 } from "../core/platform";

const STDERR_TAIL = 64 * 1024;

function toInfo(st: import("node:fs").Stats): FileInfo {
  const kind = st.isFile() ? "file" : st.isDirectory() ? "directory" : st.isSymbolicLink() ? "symlink" : "other";
  return {
    kind,
    size: st.size,
    mode: st.mode & 0o7777,
    uid: st.uid,
    gid: st.gid,
    mtimeMs: st.mtimeMs,
    atimeMs: st.atimeMs,
    ctimeMs: st.ctimeMs,
    ino: st.ino,
    dev: st.dev,
  };
}

function stdinSource(stdin: SpawnOptions["stdin"]): Readable | null {
  if (stdin === undefined) return null;
  if (typeof stdin === "string" || stdin instanceof Uint8Array) return Readable.from([Buffer.from(stdin)]);
  return Readable.from(stdin, { objectMode: false });
}

/**
 * PATH for the tools the agent runs: the inherited PATH, then the sbin
 * directories, where Debian and others install service tools (nginx) and which
 * a non-root SSH session's PATH lacks.
 */
function toolPath(): string {
  return [...new Set([...(process.env.PATH ?? "").split(path.delimiter), "/usr/local/sbin", "/usr/sbin", "/sbin"].filter(Boolean))].join(path.delimiter);
}

/** Children still running, for {@link stopChildren}. */
const running = new Set<ReturnType<typeof spawnChild>>();

function spawn(command: string, args: string[], options: SpawnOptions = {}): ChildProcess {
  const child = spawnChild(command, args, {
    cwd: options.cwd,
    env: { ...process.env, PATH: toolPath(), ...options.env },
    stdio: [options.stdin === undefined ? "ignore" : "pipe", "pipe", "pipe"],
    signal: options.signal,
    // A group of its own: stopChildren reaches what the child started too (a hook's commands).
    detached: true,
  });
  running.add(child);
  child.on("close", () => running.delete(child));
  let stderr = "";
  child.stderr!.setEncoding("utf8");
  child.stderr!.on("data", (s: string) => {
    stderr += s;
    if (stderr.length > STDERR_TAIL * 2) stderr = stderr.slice(-STDERR_TAIL);
  });
  let spawnError: Error | undefined;
  const exited = new Promise<{ code: number; stderr: string }>((resolve, reject) => {
    child.on("error", (err) => {
      spawnError = err;
      reject(err);
    });
    child.on("close", (code, signal) => {
      if (spawnError) return;
      const signalCode = signal ? 128 + (os.constants.signals[signal] ?? 0) : 0;
      resolve({ code: code ?? signalCode, stderr: stderr.slice(-STDERR_TAIL) });
    });
  });
  // A command that cannot start rejects `exited` before the caller (done reading stdout) awaits it:
  // mark it handled here so Node does not end the process; awaiting `exited` still throws.
  exited.catch(() => {});
  const source = stdinSource(options.stdin);
  if (source && child.stdin) {
    // EPIPE on stdin means the child stopped reading; its exit code tells the story.
    child.stdin.on("error", () => {});
    pipeline(source, child.stdin).catch(() => child.kill());
  }
  return {
    stdout: child.stdout as AsyncIterable<Uint8Array>,
    exited,
    kill: () => child.kill(),
  };
}

function stopChildren(): void {
  for (const child of running) {
    try {
      process.kill(-child.pid!, "SIGTERM");
    } catch {
      child.kill();
    }
  }
}

let pipesTolerated = false;

/** Output to a reader that is gone (EPIPE: the controller's connection dropped) is dropped instead of ending the process. */
function toleratePipesClosed(): void {
  if (pipesTolerated) return;
  pipesTolerated = true;
  for (const stream of [process.stdout, process.stderr]) {
    stream.on("error", (err: NodeJS.ErrnoException) => {
      if (err.code !== "EPIPE") throw err;
    });
  }
}

/** Standard input read line-first and watched to its end (see Platform.readStdinLine). */
let stdinWatch: { line: Promise<string>; closed: Promise<void> } | undefined;

function watchStdin(): { line: Promise<string>; closed: Promise<void> } {
  if (stdinWatch) return stdinWatch;
  let buffer = "";
  let lineDone = false;
  let giveLine!: (line: string) => void;
  let giveClosed!: () => void;
  const line = new Promise<string>((resolve) => (giveLine = resolve));
  const closed = new Promise<void>((resolve) => (giveClosed = resolve));
  process.stdin.setEncoding("utf8");
  process.stdin.on("data", (text: string) => {
    if (lineDone) return;
    buffer += text;
    const end = buffer.indexOf("\n");
    if (end === -1) return;
    lineDone = true;
    giveLine(buffer.slice(0, end));
  });
  const ended = () => {
    if (!lineDone) giveLine(buffer);
    lineDone = true;
    giveClosed();
  };
  process.stdin.on("end", ended);
  process.stdin.on("close", ended);
  process.stdin.on("error", ended);
  stdinWatch = { line, closed };
  return stdinWatch;
}

async function run(command: string, args: string[], options: SpawnOptions = {}): Promise<RunResult> {
  const child = spawn(command, args, options);
  const chunks: Buffer[] = [];
  for await (const chunk of child.stdout) chunks.push(Buffer.from(chunk));
  const { code, stderr } = await child.exited;
  return { code, stdout: Buffer.concat(chunks).toString("utf8"), stderr };
}

async function which(command: string): Promise<string | null> {
  if (command.includes("/")) return (await isExecutable(command)) ? command : null;
  for (const dir of toolPath().split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, command);
    if (await isExecutable(candidate)) return candidate;
  }
  return null;
}

async function isExecutable(file: string): Promise<boolean> {
  try {
    await fs.access(file, fsConstants.X_OK);
    return (await fs.stat(file)).isFile();
  } catch {
    return false;
  }
}

async function* readStream(file: string, chunkSize = 1024 * 1024): ByteStream {
  const handle = await fs.open(file, "r");
  try {
    for (;;) {
      const buffer = Buffer.allocUnsafe(chunkSize);
      const { bytesRead } = await handle.read(buffer, 0, chunkSize, null);
      if (bytesRead === 0) return;
      yield bytesRead === chunkSize ? buffer : buffer.subarray(0, bytesRead);
    }
  } finally {
    await handle.close();
  }
}

/**
 * Writes `data` to an open file in batches of about 1 MiB, one batch in flight
 * while the next is gathered (one system call per batch, not per small chunk).
 * @returns bytes written.
 */
async function writeAll(handle: fs.FileHandle, data: ByteStream): Promise<number> {
  let batch: Uint8Array[] = [];
  let batched = 0;
  let written = 0;
  let inFlight: Promise<void> = Promise.resolve();
  const take = () => {
    const bytes = batch.length === 1 ? batch[0]! : Buffer.concat(batch, batched);
    batch = [];
    batched = 0;
    written += bytes.length;
    return bytes;
  };
  const writeOut = async (bytes: Uint8Array) => {
    for (let at = 0; at < bytes.length; ) at += (await handle.write(bytes, at, bytes.length - at)).bytesWritten;
  };
  for await (const chunk of data) {
    batch.push(chunk);
    batched += chunk.length;
    if (batched >= 1 << 20) {
      await inFlight;
      inFlight = writeOut(take());
      inFlight.catch(() => {}); // awaited before the next batch or at the end
    }
  }
  await inFlight;
  if (batched > 0) await writeOut(take());
  return written;
}

/** The file is open (and exists) before any data is read: a failed write leaves nothing created after the caller's cleanup. */
async function writeStream(file: string, data: ByteStream, mode = 0o600): Promise<number> {
  let written = 0;
  const counted = async function* () {
    for await (const chunk of data) {
      written += chunk.length;
      yield chunk;
    }
  };
  const out = createWriteStream(file, { mode });
  await once(out, "open");
  await pipeline(Readable.from(counted()), out);
  return written;
}

async function writeNewFile(file: string, data: ByteStream, options: NewFileOptions): Promise<number> {
  const handle = await fs.open(file, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_NOFOLLOW, 0o600);
  let written: number;
  try {
    written = await writeAll(handle, data);
    if (options.owner) await handle.chown(options.owner.uid, options.owner.gid);
    await handle.chmod(options.mode);
    if (options.mtimeMs !== undefined) await handle.utimes(options.mtimeMs / 1000, options.mtimeMs / 1000);
  } finally {
    await handle.close();
  }
  return written;
}

async function writeFile(file: string, data: Uint8Array | string, mode = 0o600): Promise<void> {
  const temp = `${file}.tmp-${process.pid}-${crypto.randomBytes(4).toString("hex")}`;
  try {
    await fs.writeFile(temp, data, { mode });
    await fs.chmod(temp, mode);
    await fs.rename(temp, file);
  } catch (err) {
    await fs.rm(temp, { force: true });
    throw err;
  }
}

async function createExclusive(file: string, data: Uint8Array | string, mode = 0o600): Promise<boolean> {
  try {
    await fs.writeFile(file, data, { mode, flag: "wx" });
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw err;
  }
}

/** Pipes `data` through a zlib transform; errors on either side reach the consumer. */
async function* zlibStream(data: ByteStream, transform: zlib.Gzip | zlib.Gunzip): ByteStream {
  const source = Readable.from(data);
  source.on("error", (err) => transform.destroy(err));
  source.pipe(transform);
  yield* transform as AsyncIterable<Uint8Array>;
}

const hasNativeChaCha = crypto.getCiphers().includes("chacha20-poly1305");

/**
 * X25519 through `node:crypto` KeyObjects; callers see raw bytes.
 *
 * Keys go in as JWK: OpenSSL 3's DER decoder costs about half a millisecond per
 * private key, a JWK some tens of microseconds. An X25519 private JWK needs no
 * `x` (the runtime derives the public key from `d`), hence the empty one; the
 * self-test catches a runtime that would read it. Key pairs are not made with
 * `generateKeyPairSync`: on Node 20, exporting a key that it made deadlocks when
 * a garbage collection during the export finalizes the spent job, which takes the
 * key's lock that the export holds (seen within a few thousand headers).
 */
function keyObjectX25519(): X25519 {
  const importPrivate = (secret: Uint8Array): crypto.KeyObject =>
    crypto.createPrivateKey({ key: { kty: "OKP", crv: "X25519", d: base64url(secret), x: "" }, format: "jwk" });
  // The private keys that `generate` made, so that `sharedSecret` need not import them again.
  const generated = new WeakMap<Uint8Array, { key: crypto.KeyObject; raw: Buffer }>();
  // Peers' public keys: a backup encrypts to the same few recipients thousands of times.
  const peers = new Map<string, crypto.KeyObject>();
  const peerKey = (raw: Uint8Array): crypto.KeyObject => {
    const x = base64url(raw);
    let key = peers.get(x);
    if (!key) {
      if (peers.size >= 64) peers.clear();
      key = crypto.createPublicKey({ key: { kty: "OKP", crv: "X25519", x }, format: "jwk" });
      peers.set(x, key);
    }
    return key;
  };
  const privateKey = (secret: Uint8Array): crypto.KeyObject => {
    const known = generated.get(secret);
    return known && known.raw.equals(secret) ? known.key : importPrivate(secret);
  };
  return {
    generate() {
      const raw = crypto.randomBytes(32);
      const key = importPrivate(raw);
      const pub = Buffer.from(crypto.createPublicKey(key).export({ format: "jwk" }).x ?? "", "base64url");
      if (pub.length !== 32) throw new Error("X25519 key generation returned a malformed public key");
      const secret = new Uint8Array(raw);
      generated.set(secret, { key, raw });
      return { secret, public: new Uint8Array(pub.buffer, pub.byteOffset, pub.byteLength) };
    },
    sharedSecret(secret, peerPublic) {
      if (secret.length !== 32 || peerPublic.length !== 32) throw new Error("X25519 keys are 32 bytes");
      const shared = crypto.diffieHellman({ privateKey: privateKey(secret), publicKey: peerKey(peerPublic) });
      if (shared.length !== 32 || shared.every((b) => b === 0)) throw new Error("X25519 with a low-order point");
      return new Uint8Array(shared.buffer, shared.byteOffset, shared.byteLength);
    },
  };
}

function base64url(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64url");
}

/**
 * The X25519 that `make` returns once it has passed a self-test, else null (and
 * the age header falls back to typage): a runtime (Deno's `node:` layer, an
 * OpenSSL without X25519) may lack a piece or get one wrong. Exported for tests.
 */
export function selfTestedX25519(make: () => X25519 = keyObjectX25519): X25519 | null {
  try {
    const x25519 = make();
    const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
    // RFC 7748, section 6.1.
    const alice = Buffer.from("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a", "hex");
    const alicePublic = Buffer.from("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a", "hex");
    const bobPublic = Buffer.from("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f", "hex");
    if (hex(x25519.sharedSecret(alice, bobPublic)) !== "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742") return null;
    // A generated pair is a pair: X25519(b, A) = X25519(a, B).
    const pair = x25519.generate();
    if (hex(x25519.sharedSecret(pair.secret, alicePublic)) !== hex(x25519.sharedSecret(alice, pair.public))) return null;
    return x25519;
  } catch {
    return null;
  }
}

/** Whether this is Deno running the platform through its `node:` layer. */
const isDeno = typeof (globalThis as { Deno?: unknown }).Deno === "object";

/** The runtime's own version: Deno's (`2.9.6`), not the Node version its `node:` layer claims (`process.version`). */
function runtimeVersion(): string {
  return isDeno ? ((globalThis as { Deno?: { version?: { deno?: string } } }).Deno?.version?.deno ?? process.version) : process.version;
}

/**
 * HKDF-SHA-256 (RFC 5869), which every small age file calls three or four times.
 * On Node, from two HMACs: the bytes of `crypto.hkdfSync` at half its cost (it
 * imports a KeyObject per call). On Deno, where `hkdfSync` is a direct native call
 * and `createHmac` the costlier one, `hkdfSync` itself.
 */
const hkdfSha256 = isDeno
  ? (ikm: Uint8Array, salt: Uint8Array, info: string, length: number): Uint8Array => new Uint8Array(crypto.hkdfSync("sha256", ikm, salt, info, length))
  : hkdfFromHmac;

function hkdfFromHmac(ikm: Uint8Array, salt: Uint8Array, info: string, length: number): Uint8Array {
  if (!Number.isInteger(length) || length < 0 || length > 255 * 32) throw new RangeError(`HKDF-SHA-256 cannot derive ${length} bytes`);
  // An empty salt is HMAC's all-zero key, the salt RFC 5869 prescribes when there is none.
  const prk = crypto.createHmac("sha256", salt).update(ikm).digest();
  const infoBytes = Buffer.from(info, "utf8");
  const out = new Uint8Array(length);
  let block: Uint8Array = new Uint8Array(0);
  for (let counter = 1, at = 0; at < length; counter++, at += 32) {
    block = crypto.createHmac("sha256", prk).update(block).update(infoBytes).update(Uint8Array.of(counter)).digest();
    out.set(block.subarray(0, Math.min(32, length - at)), at);
  }
  return out;
}

/** {@link selfTestedX25519}, run at first use; undefined until then. */
let nativeX25519: X25519 | null | undefined;

/** The platform for Node.js >= 20 (and Deno's Node compatibility layer). */
// The AWS SDK warns on every process under Node < 22 that its releases after January 2027 will need
// Node 22. Lifeboat's lockfile pins its SDK, which supports Node >= 20; the notice would only be noise
// in every command's and job's output.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

/** What a worker thread answers: the request's id and its result, or its error's code and message. */
interface WorkerReply {
  id: number;
  result?: unknown;
  error?: { message: string; code?: string; hint?: string };
}

/** Worker threads of this program (see Platform.startWorkers): each request goes to the least busy one. */
class NodeWorkerPool implements WorkerPool {
  private readonly waiting = new Map<number, { worker: Worker; resolve(value: unknown): void; reject(err: unknown): void }>();
  private readonly busy = new Map<Worker, number>();
  private nextId = 0;
  private failure: Error | null = null;

  constructor(entry: URL, size: number) {
    for (let i = 0; i < size; i++) {
      // A small young generation: the work is buffers (outside the heap), and each worker adds its heap to the agent's memory.
      const worker = new Worker(entry, { workerData: { lifeboatWorker: true }, stdout: false, stderr: false, resourceLimits: { maxYoungGenerationSizeMb: 4, maxOldGenerationSizeMb: 96 } });
      // An idle worker does not keep the program alive; one with work does (see request/answer):
      // Deno ends a program whose only pending work is an unref'd worker's answer.
      worker.unref();
      this.busy.set(worker, 0);
      worker.on("message", (reply: WorkerReply) => this.answer(worker, reply));
      const fail = (err: Error) => {
        this.failure ??= err;
        for (const [id, w] of this.waiting) if (w.worker === worker) this.waiting.delete(id), w.reject(err);
        this.busy.delete(worker);
      };
      worker.on("error", fail);
      worker.on("exit", (code) => fail(new Error(`a worker thread exited (code ${code})`)));
    }
  }

  private answer(worker: Worker, reply: WorkerReply): void {
    const waiting = this.waiting.get(reply.id);
    if (!waiting) return;
    this.waiting.delete(reply.id);
    const left = (this.busy.get(worker) ?? 1) - 1;
    this.busy.set(worker, left);
    if (left === 0) worker.unref();
    if (reply.error) waiting.reject(Object.assign(new Error(reply.error.message), reply.error.code ? { name: "LifeboatError", code: reply.error.code, hint: reply.error.hint } : {}));
    else waiting.resolve(reply.result);
  }

  request<T>(request: unknown, transfer: ArrayBuffer[] = []): Promise<T> {
    const workers = [...this.busy.entries()];
    if (workers.length === 0) return Promise.reject(this.failure ?? new Error("no worker thread is running"));
    const [worker] = workers.reduce((a, b) => (b[1] < a[1] ? b : a));
    const id = this.nextId++;
    const pending = (this.busy.get(worker) ?? 0) + 1;
    this.busy.set(worker, pending);
    if (pending === 1) worker.ref();
    return new Promise<T>((resolve, reject) => {
      this.waiting.set(id, { worker, resolve: resolve as (value: unknown) => void, reject });
      worker.postMessage({ id, request }, transfer);
    });
  }

  async close(): Promise<void> {
    const workers = [...this.busy.keys()];
    this.busy.clear();
    await Promise.allSettled(workers.map((w) => w.terminate()));
  }
}

export const nodePlatform: Platform = {
  runtime: isDeno ? "deno" : "node",
  runtimeVersion: runtimeVersion(),
  env: (name) => process.env[name],
  homedir: () => os.homedir(),
  hostname: () => os.hostname(),
  tmpdir: () => os.tmpdir(),
  uid: () => (typeof process.geteuid === "function" ? process.geteuid() : -1),
  pid: () => process.pid,
  processAlive: (pid) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch (err) {
      return (err as NodeJS.ErrnoException).code === "EPERM";
    }
  },
  args: () => process.argv.slice(2),
  readStdin: async () => {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString("utf8");
  },
  startWorkers: (entry, size) => {
    // Only a program file can run as a worker (the agent's bundle; not a module loaded by a test runner).
    if (entry.protocol !== "file:" || !/\.m?js$/.test(entry.pathname) || size < 1) return null;
    return new NodeWorkerPool(entry, size);
  },
  parallelism: () => (typeof os.availableParallelism === "function" ? os.availableParallelism() : os.cpus().length) || 1,
  workerRequests: (handle) => {
    if (isMainThread || !(workerData as { lifeboatWorker?: boolean } | null)?.lifeboatWorker || !parentPort) return false;
    const port = parentPort;
    port.on("message", ({ id, request }: { id: number; request: unknown }) => {
      handle(request).then(
        ({ result, transfer }) => port.postMessage({ id, result } satisfies WorkerReply, transfer ?? []),
        (err: unknown) => {
          const e = err as { message?: string; code?: string; hint?: string };
          port.postMessage({ id, error: { message: String(e?.message ?? err), ...(typeof e?.code === "string" ? { code: e.code } : {}), ...(typeof e?.hint === "string" ? { hint: e.hint } : {}) } } satisfies WorkerReply);
        },
      );
    });
    return true;
  },
  readStdinLine: () => watchStdin().line,
  stdinClosed: () => watchStdin().closed,
  onStopRequest: (handler) => {
    for (const signal of ["SIGTERM", "SIGHUP", "SIGINT"] as const) process.on(signal, () => handler(signal));
  },
  // Once the reader is gone (EPIPE), there is nobody to tell: output is dropped, not an error.
  writeStdout: (text) =>
    new Promise<void>((resolve, reject) => {
      toleratePipesClosed();
      if (process.stdout.destroyed) return resolve();
      process.stdout.write(text, (err) => (!err || (err as { code?: string }).code === "EPIPE" ? resolve() : reject(err)));
    }),
  writeStderr: (text) => {
    toleratePipesClosed();
    process.stderr.write(text);
  },
  exit: (code) => {
    process.exitCode = code;
    process.exit(code);
  },
  spawn,
  stopChildren,
  run,
  which,
  stat: async (p) => toInfo(await fs.stat(p)),
  lstat: async (p) => toInfo(await fs.lstat(p)),
  exists: async (p) => {
    try {
      await fs.lstat(p);
      return true;
    } catch {
      return false;
    }
  },
  readdir: (p) => fs.readdir(p),
  readFile: async (p) => new Uint8Array(await fs.readFile(p)),
  readText: (p) => fs.readFile(p, "utf8"),
  writeFile,
  createExclusive,
  readStream,
  writeStream,
  writeNewFile,
  mkdir: async (p, mode = 0o700) => {
    await fs.mkdir(p, { recursive: true, mode });
  },
  mkdtemp: (prefix, parent) => fs.mkdtemp(path.join(parent ?? os.tmpdir(), prefix)),
  rename: (from, to) => fs.rename(from, to),
  async linkNew(existing, file) {
    try {
      await fs.link(existing, file);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "EEXIST") return false;
      throw err;
    }
  },
  remove: (p) => fs.rm(p, { recursive: true, force: true }),
  symlink: (target, p) => fs.symlink(target, p),
  readlink: (p) => fs.readlink(p),
  chmod: (p, mode) => fs.chmod(p, mode),
  lchown: (p, uid, gid) => fs.lchown(p, uid, gid),
  utimes: (p, atimeMs, mtimeMs, isSymlink = false) =>
    isSymlink ? fs.lutimes(p, atimeMs / 1000, mtimeMs / 1000) : fs.utimes(p, atimeMs / 1000, mtimeMs / 1000),
  freeBytes: async (p) => {
    try {
      const s = await fs.statfs(p);
      return s.bavail * s.bsize;
    } catch {
      return null;
    }
  },
  gzip: (data, level) => zlibStream(data, zlib.createGzip({ level, chunkSize: 256 * 1024 })),
  gunzip: (data) => zlibStream(data, zlib.createGunzip({ chunkSize: 256 * 1024 })),
  randomBytes: (n) => new Uint8Array(crypto.randomBytes(n)),
  sha256: () => {
    const hash = crypto.createHash("sha256");
    return { update: (d) => void hash.update(d), digestHex: () => hash.digest("hex") };
  },
  verifyEd25519: (publicKey, message, signature) => {
    const key = crypto.createPublicKey({
      key: Buffer.concat([Buffer.from("302a300506032b6570032100", "hex"), publicKey]),
      format: "der",
      type: "spki",
    });
    return crypto.verify(null, message, key, signature);
  },
  chacha20poly1305: hasNativeChaCha
    ? {
        seal(key, nonce, plaintext) {
          const cipher = crypto.createCipheriv("chacha20-poly1305", key, nonce, { authTagLength: 16 });
          const body = cipher.update(plaintext);
          cipher.final();
          return Buffer.concat([body, cipher.getAuthTag()]);
        },
        open(key, nonce, sealed) {
          if (sealed.length < 16) return null;
          const decipher = crypto.createDecipheriv("chacha20-poly1305", key, nonce, { authTagLength: 16 });
          decipher.setAuthTag(sealed.subarray(sealed.length - 16));
          const plain = decipher.update(sealed.subarray(0, sealed.length - 16));
          try {
            decipher.final();
          } catch {
            return null;
          }
          return plain;
        },
      }
    : null,
  hmacSha256Hex: (key, data) => crypto.createHmac("sha256", key).update(data).digest("hex"),
  hmacSha256: (key, data) => new Uint8Array(crypto.createHmac("sha256", key).update(data).digest()),
  get x25519() {
    if (nativeX25519 === undefined) nativeX25519 = selfTestedX25519();
    return nativeX25519;
  },
  certificate: (pem) => {
    let cert: crypto.X509Certificate;
    try {
      cert = new crypto.X509Certificate(pem);
    } catch {
      return null;
    }
    const names = (cert.subjectAltName ?? "")
      .split(",")
      .map((n) => n.trim())
      .filter((n) => n.startsWith("DNS:"))
      .map((n) => n.slice(4));
    return {
      names: names.length ? names : [cert.subject.replace(/^.*CN=/s, "").split("\n")[0]!],
      notAfter: new Date(cert.validTo).toISOString(),
      fingerprint: cert.fingerprint256,
      matchesKey: (keyPem) => {
        try {
          return cert.checkPrivateKey(crypto.createPrivateKey(keyPem));
        } catch {
          return false;
        }
      },
    };
  },
  hkdfSha256,
};
