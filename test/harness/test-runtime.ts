/**
 * @module The runtime the end-to-end tests run the agent with: Node.js (the
 * default), or Deno with `LIFEBOAT_TEST_RUNTIME=deno` (the Deno binary of the
 * `deno` npm dependency, as every simulated host's pinned runtime). Also where
 * every runtime binary is, for simulated hosts that must not have one.
 */
import * as fs from "node:fs";
import { createRequire } from "node:module";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { DENO_RUN_FLAGS } from "../../controller/ssh/remote-shell";

/** `node` or `deno`, from `LIFEBOAT_TEST_RUNTIME` (default node). @throws Error for anything else. */
export function testRuntime(): "node" | "deno" {
  const value = process.env.LIFEBOAT_TEST_RUNTIME ?? "node";
  if (value !== "node" && value !== "deno") throw new Error(`LIFEBOAT_TEST_RUNTIME must be "node" or "deno", not "${value}"`);
  return value;
}

const repo = fileURLToPath(new URL("../..", import.meta.url));

/** The Deno binary of the npm dependency (`@deno/linux-x64-glibc`). @throws Error when it is not installed. */
export function npmDenoBinary(): string {
  let manifest: string;
  try {
    manifest = createRequire(import.meta.url).resolve(`@deno/linux-${process.arch === "arm64" ? "arm64" : "x64"}-glibc/package.json`);
  } catch (err) {
    throw new Error("the deno npm package's binary is missing: run npm ci (scripts/setup.sh does)", { cause: err });
  }
  return path.join(path.dirname(manifest), "deno");
}

/** Whether every user may run `file`: o+x on every directory above it, o+rx on the file. */
function everyoneMayRun(file: string): boolean {
  if ((fs.statSync(file).mode & 0o005) !== 0o005) return false;
  for (let dir = path.dirname(file); ; dir = path.dirname(dir)) {
    if ((fs.statSync(dir).mode & 0o001) === 0) return false;
    if (dir === path.dirname(dir)) return true;
  }
}

/** The copy {@link denoForHosts} makes when the checkout is not open to other users. */
function denoCopyPath(binary: string): string {
  const st = fs.statSync(binary);
  return path.join(os.tmpdir(), `lifeboat-test-deno-${st.size}-${Math.round(st.mtimeMs)}`, "deno");
}

/**
 * The Deno binary as the simulated hosts' users can run it: the npm one when
 * its path is open to every user, else a copy in a 0755 temp dir (made once,
 * kept for later runs).
 */
export function denoForHosts(): string {
  const binary = npmDenoBinary();
  if (everyoneMayRun(binary)) return binary;
  const copy = denoCopyPath(binary);
  if (!fs.existsSync(copy)) {
    fs.mkdirSync(path.dirname(copy), { recursive: true, mode: 0o755 });
    fs.chmodSync(path.dirname(copy), 0o755);
    const temp = `${copy}.${process.pid}`;
    fs.copyFileSync(binary, temp);
    fs.chmodSync(temp, 0o755);
    fs.renameSync(temp, copy);
  }
  return copy;
}

/** How tests start the agent bundle directly (not over SSH): `[command, ...args]` for the test runtime. */
export function agentArgv(bundle: string, args: string[]): { command: string; args: string[]; env: Record<string, string> } {
  if (testRuntime() === "deno") return { command: npmDenoBinary(), args: ["run", ...DENO_RUN_FLAGS, bundle, ...args], env: { DENO_NO_UPDATE_CHECK: "1" } };
  return { command: process.execPath, args: [bundle, ...args], env: {} };
}

/**
 * Every Node.js and Deno binary this machine has where a simulated host's user
 * could run it (real paths, no duplicates): the test's own node, the usual
 * places, the npm packages', the test copy, and any on PATH.
 */
export function runtimeBinaries(): string[] {
  const candidates = [process.execPath, "/usr/bin/node", "/usr/bin/nodejs", "/usr/local/bin/node", path.join(repo, "node_modules", "deno", "deno")];
  const scoped = path.join(repo, "node_modules", "@deno");
  if (fs.existsSync(scoped)) for (const dir of fs.readdirSync(scoped)) candidates.push(path.join(scoped, dir, "deno"));
  try {
    candidates.push(denoCopyPath(npmDenoBinary()));
  } catch {
    // no npm Deno: nothing to hide there
  }
  for (const dir of [...(process.env.PATH ?? "").split(path.delimiter), "/usr/local/bin", "/usr/bin", "/bin"]) {
    if (dir) candidates.push(path.join(dir, "node"), path.join(dir, "nodejs"), path.join(dir, "deno"));
  }
  const found = new Set<string>();
  for (const candidate of candidates) {
    try {
      const real = fs.realpathSync(candidate);
      if (fs.statSync(real).isFile()) found.add(real);
    } catch {
      // not there
    }
  }
  return [...found];
}
