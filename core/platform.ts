/** @module The operating-system surface the agent and plugins may use; nothing else reaches `node:` or `Deno`. */

/** A byte stream: the currency of the whole pipeline (portable across Node and Deno). */
export type ByteStream = AsyncIterable<Uint8Array>;

/** What `stat`/`lstat` report. Times are milliseconds since the epoch. */
export interface FileInfo {
  kind: "file" | "directory" | "symlink" | "other";
  size: number;
  /** Permission bits including setuid/setgid/sticky (mode & 0o7777). */
  mode: number;
  uid: number;
  gid: number;
  mtimeMs: number;
  atimeMs: number;
  /** Inode change time; changes when content or metadata changes. */
  ctimeMs: number;
  ino: number;
  dev: number;
}

/** Options for {@link Platform.spawn}. */
export interface SpawnOptions {
  cwd?: string;
  /** Extra environment variables, merged over the agent's own environment. */
  env?: Record<string, string>;
  /** Bytes to write to the child's stdin; the stream is closed afterwards. Default: no stdin. */
  stdin?: ByteStream | Uint8Array | string;
  signal?: AbortSignal;
}

/** A running child process. */
export interface ChildProcess {
  /** The child's stdout as a stream; must be consumed (or the child may block). */
  stdout: ByteStream;
  /** Resolves when the child exits, with its exit code (signal deaths map to 128+n) and the tail of its stderr (at most 64 KiB). */
  exited: Promise<{ code: number; stderr: string }>;
  kill(): void;
}

/** Threads running this same program, answering requests (see {@link Platform.startWorkers}). */
export interface WorkerPool {
  /** Sends `request` to an idle worker (or queues it); `transfer` lists buffers handed over, unusable here afterwards. */
  request<T>(request: unknown, transfer?: ArrayBuffer[]): Promise<T>;
  /** Ends the workers (requests still queued fail). */
  close(): Promise<void>;
}

/** Options of {@link Platform.writeNewFile}. */
export interface NewFileOptions {
  /** Permission bits, set after the owner (which may clear setuid bits). */
  mode: number;
  owner?: { uid: number; gid: number };
  mtimeMs?: number;
}

/** Result of {@link Platform.run}. */
export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** X25519 key agreement on raw 32-byte keys (see {@link Platform.x25519}). */
export interface X25519 {
  /** A fresh random key pair. */
  generate(): { secret: Uint8Array; public: Uint8Array };
  /**
   * X25519(`secret`, `peerPublic`), 32 bytes. Fastest with a `secret` that
   * {@link generate} returned, which may keep the key ready inside the runtime.
   * @throws when the result is all zero (`peerPublic` is a low-order point) or a key is not 32 bytes.
   */
  sharedSecret(secret: Uint8Array, peerPublic: Uint8Array): Uint8Array;
}

/**
 * Everything the agent needs from the host. One implementation per runtime;
 * plugins receive it through their context and never import `node:` modules.
 *
 * File-system methods throw the runtime's errors with a `code` of
 * `ENOENT`, `EEXIST`, `EACCES`, `ENOTDIR`, `ENOTEMPTY` or `EXDEV` where applicable.
 */
export interface Platform {
  /** "node" or "deno". */
  readonly runtime: string;
  readonly runtimeVersion: string;

  env(name: string): string | undefined;
  homedir(): string;
  hostname(): string;
  tmpdir(): string;
  /** Effective uid, or -1 where the notion does not exist. */
  uid(): number;
  /** This process's id. */
  pid(): number;
  /** Whether process `pid` of this machine still runs. */
  processAlive(pid: number): boolean;

  /** Command-line arguments after the script name. */
  args(): string[];
  /** Reads all of standard input as text (the signed spec arrives here, never in argv). */
  readStdin(): Promise<string>;
  /**
   * Reads standard input up to its first newline (the line, without it; all of it
   * when it ends first), and keeps watching it: see {@link stdinClosed}.
   */
  readStdinLine(): Promise<string>;
  /** Resolves when standard input ends, after {@link readStdinLine} (for an attached job: the controller is gone). */
  stdinClosed(): Promise<void>;
  /**
   * Starts `size` worker threads, each running the program at `entry` (the
   * agent's own bundle) in worker mode, where {@link workerRequests} serves them.
   * Null where the runtime cannot (or `entry` is not a bundle it can run).
   */
  startWorkers?(entry: URL, size: number): WorkerPool | null;
  /** How many threads can run at once on this machine (cores), or 1 where unknown. */
  parallelism?(): number;
  /**
   * In a worker thread started by {@link startWorkers}: serves each request
   * with `handle` (its result, and the buffers to hand back) and returns true;
   * in the main thread returns false at once.
   */
  workerRequests?(handle: (request: unknown) => Promise<{ result: unknown; transfer?: ArrayBuffer[] }>): boolean;
  /** Calls `handler` when the process is asked to stop (SIGTERM, SIGHUP, SIGINT), instead of dying at once. */
  onStopRequest(handler: (signal: string) => void): void;
  /** Writes to standard output (NDJSON events) and waits until it is flushed. */
  writeStdout(text: string): Promise<void>;
  /** Writes a diagnostic line to standard error. */
  writeStderr(text: string): void;
  /** Ends the process once output is flushed. */
  exit(code: number): never;

  // processes
  /** Starts a command in a process group of its own (see {@link stopChildren}). */
  spawn(command: string, args: string[], options?: SpawnOptions): ChildProcess;
  /** Sends SIGTERM to every child process still running, and to what each started: for a job that is abandoned. */
  stopChildren(): void;
  /** Runs a command to completion and buffers its output (for small outputs only). */
  run(command: string, args: string[], options?: SpawnOptions): Promise<RunResult>;
  /**
   * The absolute path of `command`, or null. Commands (here and in `spawn`/`run`) are
   * looked up on PATH and then in /usr/local/sbin, /usr/sbin and /sbin, where service
   * tools such as nginx live and which a non-root SSH session's PATH lacks.
   */
  which(command: string): Promise<string | null>;

  // files
  stat(path: string): Promise<FileInfo>;
  lstat(path: string): Promise<FileInfo>;
  exists(path: string): Promise<boolean>;
  readdir(path: string): Promise<string[]>;
  readFile(path: string): Promise<Uint8Array>;
  readText(path: string): Promise<string>;
  /** Writes atomically (temp file + rename) with the given mode (default 0o600). */
  writeFile(path: string, data: Uint8Array | string, mode?: number): Promise<void>;
  /** Creates `path` only if it does not exist; returns false if it already did. */
  createExclusive(path: string, data: Uint8Array | string, mode?: number): Promise<boolean>;
  /** Reads a file as a stream of chunks of at most `chunkSize` bytes (default 1 MiB). */
  readStream(path: string, chunkSize?: number): ByteStream;
  /** Writes a stream to a file (created or truncated) with `mode`; returns bytes written. */
  writeStream(path: string, data: ByteStream, mode?: number): Promise<number>;
  /**
   * Creates `path`, which must not exist, without following a symlink there
   * (O_CREAT | O_EXCL | O_NOFOLLOW), writes `data`, then applies the owner (when
   * given), the mode and the time to the open file, never to the path.
   * @returns bytes written. @throws with code EEXIST when anything (a symlink included) is at `path`.
   */
  writeNewFile(path: string, data: ByteStream, options: NewFileOptions): Promise<number>;
  mkdir(path: string, mode?: number): Promise<void>;
  /** A new empty directory under `parent` (default: the system temp dir) whose name starts with `prefix`. */
  mkdtemp(prefix: string, parent?: string): Promise<string>;
  rename(from: string, to: string): Promise<void>;
  /** Gives the file `existing` the further name `path`, atomically; false (changing nothing) when `path` exists. */
  linkNew(existing: string, path: string): Promise<boolean>;
  /** Removes a file or a whole tree; no error if it does not exist. */
  remove(path: string): Promise<void>;
  symlink(target: string, path: string): Promise<void>;
  readlink(path: string): Promise<string>;
  chmod(path: string, mode: number): Promise<void>;
  /** Changes owner without following symlinks. */
  lchown(path: string, uid: number, gid: number): Promise<void>;
  /** Sets times; for symlinks uses lutimes. Times in milliseconds. */
  utimes(path: string, atimeMs: number, mtimeMs: number, isSymlink?: boolean): Promise<void>;
  /** Free bytes on the file system that holds `path`, or null if unknown. */
  freeBytes(path: string): Promise<number | null>;

  // compression
  /** gzip-compresses a stream (level 1-9). */
  gzip(data: ByteStream, level: number): ByteStream;
  /** Decompresses a gzip stream; throws on corrupt input. */
  gunzip(data: ByteStream): ByteStream;

  // crypto
  randomBytes(n: number): Uint8Array;
  /** An incremental SHA-256. */
  sha256(): { update(data: Uint8Array): void; digestHex(): string };
  /** Verifies an Ed25519 signature with a raw 32-byte public key. */
  verifyEd25519(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean;
  /**
   * Native ChaCha20-Poly1305 (RFC 8439), or null when the runtime lacks it
   * (the age stream then falls back to the pure-JS implementation).
   */
  chacha20poly1305: null | {
    seal(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array): Uint8Array;
    /** Returns null when authentication fails. */
    open(key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array): Uint8Array | null;
  };
  /** Parses a PEM certificate; null when it does not parse. */
  certificate(pem: string): null | { names: string[]; notAfter: string; fingerprint: string; matchesKey(keyPem: string): boolean };
  /** HMAC-SHA-256 of `data` under `key`, hex. */
  hmacSha256Hex(key: Uint8Array, data: string): string;
  /**
   * HMAC-SHA-256 of `data` under `key`, the 32 raw bytes (the age header MAC).
   * Optional: without it the age header is written by typage (age-encryption), more slowly.
   */
  hmacSha256?: (key: Uint8Array, data: Uint8Array) => Uint8Array;
  /**
   * Native X25519 (RFC 7748) on raw 32-byte keys, or null/absent when the runtime
   * lacks it or it failed its self-test (the age header is then written by typage,
   * age-encryption, more slowly).
   */
  x25519?: X25519 | null;
  /** HMAC-SHA-256 and HKDF-SHA-256, used by the age header. */
  hkdfSha256(ikm: Uint8Array, salt: Uint8Array, info: string, length: number): Uint8Array;
}
