// Shared by the benchmarks: run the built agent on a signed backup spec, time commands, measure sizes.
import { execSync, spawn, spawnSync } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { generateX25519Identity, identityToRecipient } from "age-encryption";
import type { PluginSpec } from "../core/spec";
import { freshness, signSpec } from "../controller/jobs/sign-spec";

export const root = fileURLToPath(new URL("..", import.meta.url));
export const work = path.join(root, "bench", ".data");

/** Runs a command, polling its peak RSS (VmHWM); resolves with wall seconds. */
export function timed(command: string, args: string[], options: { input?: string; env?: NodeJS.ProcessEnv } = {}): Promise<{ seconds: number; peakKiB: number; stdout: string }> {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn(command, args, { env: options.env ?? process.env, stdio: ["pipe", "pipe", "inherit"] });
    let peakKiB = 0;
    const poll = setInterval(() => {
      try {
        const m = /VmHWM:\s+(\d+)/.exec(fs.readFileSync(`/proc/${child.pid}/status`, "utf8"));
        if (m) peakKiB = Math.max(peakKiB, Number(m[1]));
      } catch {
        // exited
      }
    }, 20);
    let stdout = "";
    child.stdout.setEncoding("utf8").on("data", (s: string) => (stdout += s));
    child.on("error", reject);
    child.on("close", (code) => {
      clearInterval(poll);
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      if (code !== 0) reject(new Error(`${command} exited with ${code}: ${stdout.slice(-2000)}`));
      else resolve({ seconds, peakKiB, stdout });
    });
    child.stdin.end(options.input ?? "");
  });
}

/** A command timed over several runs (seconds), with how its last run ended and how many lines it printed. */
export interface RunTimes {
  median: number;
  min: number;
  max: number;
  runs: number;
  code: number | null;
  lines: number;
}

/**
 * Runs the built controller (`bundle`) with `args` `runs` times, each a whole
 * process (start included).
 * @throws when a run exits with anything but 0 or 1
 */
export function timeController(bundle: string, args: string[], env: NodeJS.ProcessEnv, runs: number): RunTimes {
  const seconds: number[] = [];
  let code: number | null = null;
  let lines = 0;
  for (let i = 0; i < runs; i++) {
    const began = process.hrtime.bigint();
    const r = spawnSync(process.execPath, [bundle, ...args], { env, encoding: "utf8", maxBuffer: 256 * 1024 * 1024 });
    seconds.push(Number(process.hrtime.bigint() - began) / 1e9);
    code = r.status;
    lines = r.stdout.split("\n").filter(Boolean).length;
    if (code !== 0 && code !== 1) throw new Error(`controller ${args.join(" ")} exited with ${code}: ${r.stderr.slice(-2000)}`);
  }
  const sorted = [...seconds].sort((a, b) => a - b);
  return { median: sorted[Math.floor(sorted.length / 2)]!, min: sorted[0]!, max: sorted[sorted.length - 1]!, runs, code, lines };
}

/** `median 812 ms, fastest 790, slowest 901 of 5 (exit 0, 3 lines)`. */
export function describeTimes(t: RunTimes): string {
  return `median ${(t.median * 1000).toFixed(0)} ms, fastest ${(t.min * 1000).toFixed(0)}, slowest ${(t.max * 1000).toFixed(0)} of ${t.runs} (exit ${t.code}, ${t.lines} lines)`;
}

/** Total bytes of the files under `dir`. */
export function dirSize(dir: string): number {
  let total = 0;
  if (!fs.existsSync(dir)) return 0;
  for (const entry of fs.readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) total += fs.statSync(path.join(entry.parentPath ?? (entry as unknown as { path: string }).path, entry.name)).size;
  }
  return total;
}

/** True when `tool` is on PATH. */
export function has(tool: string): boolean {
  try {
    execSync(`command -v ${tool}`, { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** The built agent with its own pinned key, a recipient, and a fleet blob key. */
export class BenchAgent {
  private constructor(
    readonly recipient: string,
    private readonly key: crypto.KeyObject,
    private readonly agentDir: string,
  ) {}

  static async create(): Promise<BenchAgent> {
    const recipient = await identityToRecipient(await generateX25519Identity());
    const key = crypto.generateKeyPairSync("ed25519").privateKey;
    const der = crypto.createPublicKey(key).export({ format: "der", type: "spki" });
    const agentDir = path.join(work, "agent");
    fs.rmSync(agentDir, { recursive: true, force: true });
    fs.mkdirSync(agentDir, { recursive: true });
    fs.writeFileSync(path.join(agentDir, "pinned.json"), JSON.stringify({ host: "bench", controllerKey: der.subarray(der.length - 32).toString("base64") }));
    return new BenchAgent(recipient, key, agentDir);
  }

  /** One backup job of `plugins` to a local destination at `store`; timed, with peak RSS. `chunked`: as chunks (a first run: no parent). */
  backup(plugins: PluginSpec[], store: string, chunked = false) {
    const spec = signSpec(
      {
        version: 1,
        kind: "backup",
        host: "bench",
        jobId: `job-${crypto.randomBytes(4).toString("hex")}`,
        ...freshness(),
        snapshotId: `bench-${crypto.randomBytes(2).toString("hex")}`,
        destination: { type: "local", path: store },
        plugins,
        recipients: [this.recipient],
        blobKey: Buffer.alloc(32, 1).toString("base64"),
        ...(chunked ? { chunking: { key: Buffer.alloc(32, 2).toString("base64"), parents: {}, exclude: [], rehash: false } } : {}),
      },
      this.key,
    );
    execSync("sync");
    return timed(process.execPath, [path.join(root, "dist", "agent.mjs"), "run", "--dir", this.agentDir], { input: JSON.stringify(spec) });
  }
}
