/**
 * @module The Deno binary the controller carries for hosts without a runtime:
 * the `@deno/linux-<arch>-glibc` npm package installed beside the controller
 * (a dependency of the `deno` package), and its gzip-compressed copy for uploads.
 */
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import { createRequire } from "node:module";
import * as os from "node:os";
import * as path from "node:path";
import { pipeline } from "node:stream/promises";
import * as zlib from "node:zlib";

/** A Deno binary the controller can push. */
export interface CarriedRuntime {
  kind: "deno";
  /** `2.9.6`, from the package's version (the Deno it holds). */
  version: string;
  /** What it runs on, as the run reports it: `x86_64-linux`. */
  target: string;
  /** The npm package it comes from. */
  packageName: string;
  /** The binary on the controller. */
  path: string;
  size: number;
  /** SHA-256 of the binary (hex): what the host must hold after the upload. */
  sha256: string;
}

/** Either the runtime, or why there is none for that host. */
export type CarriedLookup = { runtime: CarriedRuntime } | { missing: string };

/** The host's machine (`uname -m`) and C library, as the probe found them. */
export interface HostPlatform {
  arch: string;
  /** `glibc 2.36`, `musl`, or empty when unknown. */
  libc: string;
}

/** Deno's npm builds for Linux, by `uname -m`. */
const PACKAGES: Record<string, { packageName: string; target: string }> = {
  x86_64: { packageName: "@deno/linux-x64-glibc", target: "x86_64-linux" },
  amd64: { packageName: "@deno/linux-x64-glibc", target: "x86_64-linux" },
  aarch64: { packageName: "@deno/linux-arm64-glibc", target: "aarch64-linux" },
  arm64: { packageName: "@deno/linux-arm64-glibc", target: "aarch64-linux" },
};

const hashes = new Map<string, Promise<string>>();
const compressed = new Map<string, Promise<string>>();

async function sha256Of(file: string): Promise<string> {
  const hash = crypto.createHash("sha256");
  await pipeline(fs.createReadStream(file), hash);
  return hash.digest("hex");
}

/**
 * The Deno binary for a host, resolved from the controller's own location
 * (`createRequire(import.meta.url)`: the node_modules beside dist/controller.mjs).
 * Missing for musl hosts, other machines, or when the package for that machine
 * is not installed (only the controller's own platform's is, by default).
 */
export async function carriedDeno(host: HostPlatform): Promise<CarriedLookup> {
  if (/musl/i.test(host.libc)) return { missing: "the host's C library is musl, and Deno's npm builds need glibc" };
  const choice = PACKAGES[host.arch];
  if (!choice) return { missing: `Deno's npm builds exist for x86_64 and aarch64 Linux, not for "${host.arch || "an unknown machine"}"` };
  const require = createRequire(import.meta.url);
  let manifest: string;
  try {
    manifest = require.resolve(`${choice.packageName}/package.json`);
  } catch {
    let version = "";
    try {
      version = `@${String((JSON.parse(fs.readFileSync(require.resolve("deno/package.json"), "utf8")) as { version?: unknown }).version)}`;
    } catch {
      // no deno package either: the command without a version
    }
    return {
      missing: `the npm package ${choice.packageName} is not installed beside this controller (install it where the controller's node_modules are: npm install --no-save --force ${choice.packageName}${version}; see docs/inventory.md, "The agent's runtime")`,
    };
  }
  const binary = path.join(path.dirname(manifest), "deno");
  if (!fs.existsSync(binary)) return { missing: `${choice.packageName} beside this controller has no deno binary (${binary})` };
  const version = String((JSON.parse(fs.readFileSync(manifest, "utf8")) as { version?: unknown }).version ?? "");
  if (!/^\d+\.\d+\.\d+[0-9A-Za-z.+-]*$/.test(version)) return { missing: `${manifest} gives no Deno version ("${version.slice(0, 40)}")` };
  const key = fs.realpathSync(binary);
  let hashing = hashes.get(key);
  if (!hashing) {
    hashing = sha256Of(binary);
    hashes.set(key, hashing);
    hashing.catch(() => hashes.delete(key));
  }
  return { runtime: { kind: "deno", version, target: choice.target, packageName: choice.packageName, path: binary, size: fs.statSync(binary).size, sha256: await hashing } };
}

/** The cache of compressed runtimes: one directory per controller user, 0700, under the temp dir. */
function cacheDir(): string {
  const dir = path.join(os.tmpdir(), `lifeboat-runtime-cache-${typeof process.getuid === "function" ? process.getuid() : "user"}`);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const st = fs.lstatSync(dir);
  if (!st.isDirectory() || (typeof process.getuid === "function" && st.uid !== process.getuid()) || (st.mode & 0o077) !== 0) {
    // Someone else's, or open to others: keep nothing there, use a fresh private one.
    return fs.mkdtempSync(path.join(os.tmpdir(), "lifeboat-runtime-cache-"));
  }
  return dir;
}

/**
 * The binary gzip-compressed, made once and cached by its SHA-256
 * (`<tmp>/lifeboat-runtime-cache-<uid>/deno-<sha256>.gz`). The host checks
 * the SHA-256 of what it decompressed, so a damaged cache only fails the push;
 * {@link forgetCompressed} then drops it.
 */
export function compressedRuntime(runtime: CarriedRuntime): Promise<string> {
  let making = compressed.get(runtime.sha256);
  if (!making) {
    making = (async () => {
      const file = path.join(cacheDir(), `deno-${runtime.sha256}.gz`);
      if (fs.existsSync(file)) return file;
      const temp = `${file}.${process.pid}.${crypto.randomBytes(4).toString("hex")}`;
      try {
        await pipeline(fs.createReadStream(runtime.path), zlib.createGzip({ level: 6 }), fs.createWriteStream(temp, { mode: 0o600 }));
        fs.renameSync(temp, file);
      } catch (err) {
        fs.rmSync(temp, { force: true });
        throw err;
      }
      return file;
    })();
    compressed.set(runtime.sha256, making);
    making.catch(() => compressed.delete(runtime.sha256));
  }
  return making;
}

/** Drops the cached compressed copy of `runtime` (after a host found it damaged). */
export function forgetCompressed(runtime: CarriedRuntime): void {
  const making = compressed.get(runtime.sha256);
  compressed.delete(runtime.sha256);
  void making?.then((file) => fs.rmSync(file, { force: true })).catch(() => undefined);
}
