// `npm run bench:dashboard`: the web dashboard of `controller serve` over a big ledger. The
// target: the overview and /metrics answer in under 100 ms with 200 hosts × 400 snapshots, and
// the server's memory stays flat over 10,000 requests.
//
// It makes a state directory with `controller init`, the simulated fleet's inventory and ledger
// (bench/fleet-ledger.ts: 200 hosts × 400 snapshots, BENCH_FLEET_HOSTS × BENCH_FLEET_SNAPSHOTS),
// and starts the built bundle (`dist/controller.mjs serve`) on a free loopback port, without a
// token, as its own process. Then, from this process with Node's fetch (one keep-alive connection,
// one request at a time, the body read in full):
// - per route (the overview, /metrics, the JSON API, a host page, /storage): 3 warm-up requests
//   (the first one's time is shown: it may fill the server's per-ledger-change cache), then 30
//   timed ones; median, p95, fastest and slowest in ms, and the response's size. A route that
//   answers anything but 200 is reported with its status (and left out of what follows);
// - REQUESTS requests (BENCH_DASHBOARD_REQUESTS, default 10,000) round-robin over the routes,
//   sampling the server's resident memory (VmRSS from /proc/PID/status) every tenth of them:
//   the samples, the growth from the first sample to the last, requests per second.
// The times include the client's share (fetch, reading the body): on a busy machine the fastest
// is the closest to the server's own cost. The server is stopped (SIGTERM) at the end and the
// directory removed; BENCH_FLEET_KEEP=1 keeps it.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { freePort } from "../test/harness/free-port";
import { root } from "./bench-agent";
import { fill, hostName, HOSTS, inventory, SNAPSHOTS } from "./fleet-ledger";

const REQUESTS = Number(process.env.BENCH_DASHBOARD_REQUESTS ?? 10_000);
const WARMUPS = 3;
const TIMED = 30;
/** The server's memory is sampled this many times over the REQUESTS requests. */
const SAMPLES = 10;
const bundle = path.join(root, "dist", "controller.mjs");
const host = hostName(0);
const ROUTES = ["/", "/metrics", "/api/hosts", "/api/status", `/hosts/${host}`, `/api/hosts/${host}`, "/storage"];

/** One request: its status, body size and milliseconds (the body read in full). */
async function request(base: string, route: string): Promise<{ status: number; bytes: number; ms: number }> {
  const began = performance.now();
  const res = await fetch(`${base}${route}`);
  const body = await res.arrayBuffer();
  return { status: res.status, bytes: body.byteLength, ms: performance.now() - began };
}

/** The tail of what the server wrote to stderr (errors it logged while answering). */
let serverStderr = "";

/** Resolves with the child's first stdout line containing "serving"; rejects when it exits first or after `timeoutMs`. */
function servingLine(child: ChildProcess, timeoutMs = 60_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let stdout = "";
    const timer = setTimeout(() => reject(new Error(`controller serve did not say "serving" within ${timeoutMs} ms: ${serverStderr}`)), timeoutMs);
    child.stderr!.setEncoding("utf8").on("data", (s: string) => (serverStderr = (serverStderr + s).slice(-4000)));
    child.stdout!.setEncoding("utf8").on("data", (s: string) => {
      stdout += s;
      const line = stdout.split("\n").find((l) => l.includes("serving"));
      if (line) {
        clearTimeout(timer);
        resolve(line);
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`controller serve exited with ${code} before serving: ${serverStderr}`));
    });
  });
}

/** The server's resident memory in MiB (VmRSS). */
function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+)\s+kB/.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"));
  if (!m) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(m[1]) / 1024;
}

/** Stops the server: SIGTERM, then SIGKILL when it has not exited within 5 seconds. */
async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
  await exited;
  clearTimeout(timer);
}

const ms = (n: number) => (n < 10 ? n.toFixed(1) : n.toFixed(0));
const size = (bytes: number) => (bytes < 1024 ? `${bytes} B` : bytes < 1048576 ? `${(bytes / 1024).toFixed(1)} KiB` : `${(bytes / 1048576).toFixed(2)} MiB`);

/** Times each route; returns the routes that answered 200. */
async function timeRoutes(base: string): Promise<string[]> {
  const ok: string[] = [];
  console.log(`per route: ${WARMUPS} warm-ups (the first one's time shown), then ${TIMED} timed requests (ms)`);
  console.log(`${"route".padEnd(22)} ${"first".padStart(7)} ${"median".padStart(7)} ${"p95".padStart(7)} ${"fastest".padStart(7)} ${"slowest".padStart(7)}  size`);
  for (const route of ROUTES) {
    const first = await request(base, route);
    if (first.status !== 200) {
      console.log(`${route.padEnd(22)} HTTP ${first.status} (${size(first.bytes)}): not timed`);
      continue;
    }
    for (let i = 1; i < WARMUPS; i++) await request(base, route);
    const times: number[] = [];
    let bytes = 0;
    const statuses = new Set<number>();
    for (let i = 0; i < TIMED; i++) {
      const r = await request(base, route);
      times.push(r.ms);
      bytes = r.bytes;
      statuses.add(r.status);
    }
    times.sort((a, b) => a - b);
    const at = (q: number) => times[Math.min(times.length - 1, Math.ceil(q * times.length) - 1)]!;
    const odd = [...statuses].filter((s) => s !== 200);
    console.log(
      `${route.padEnd(22)} ${ms(first.ms).padStart(7)} ${ms(at(0.5)).padStart(7)} ${ms(at(0.95)).padStart(7)} ${ms(times[0]!).padStart(7)} ${ms(times[times.length - 1]!).padStart(7)}  ${size(bytes)}${odd.length ? ` (also HTTP ${odd.join(", ")})` : ""}`,
    );
    ok.push(route);
  }
  return ok;
}

/** REQUESTS requests round-robin over `routes`, the server's RSS sampled SAMPLES times. */
async function soak(base: string, routes: string[], pid: number): Promise<void> {
  const every = Math.max(1, Math.round(REQUESTS / SAMPLES));
  const samples: { after: number; mib: number }[] = [];
  const statuses = new Map<number, number>();
  const began = performance.now();
  for (let i = 1; i <= REQUESTS; i++) {
    const r = await request(base, routes[(i - 1) % routes.length]!);
    statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
    if (i % every === 0 || i === REQUESTS) samples.push({ after: i, mib: rssMiB(pid) });
  }
  const seconds = (performance.now() - began) / 1000;
  const answers = [...statuses].map(([status, n]) => `${n} × ${status}`).join(", ");
  console.log(`\n${REQUESTS} requests round-robin over ${routes.length} routes: ${seconds.toFixed(1)} s, ${(REQUESTS / seconds).toFixed(0)} requests/s (${answers})`);
  console.log(`server RSS (MiB) after n requests: ${samples.map((s) => `${s.after}: ${s.mib.toFixed(1)}`).join(", ")}`);
  const first = samples[0]!;
  const last = samples[samples.length - 1]!;
  const growth = last.mib - first.mib;
  console.log(`RSS growth from request ${first.after} to ${last.after}: ${growth >= 0 ? "+" : ""}${growth.toFixed(1)} MiB (${((growth / first.mib) * 100).toFixed(1)}%)`);
}

async function main(): Promise<void> {
  if (!fs.existsSync(bundle)) throw new Error(`${bundle} is missing: run npm run build`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lifeboat-bench-dashboard-"));
  let server: ChildProcess | undefined;
  try {
    const state = path.join(dir, "state");
    const fleet = inventory(dir);
    const init = spawnSync(process.execPath, [bundle, "--state", state, "--inventory", fleet, "init"], { env: { ...process.env, NO_COLOR: "1" }, encoding: "utf8" });
    if (init.status !== 0) throw new Error(`controller init failed: ${init.stderr}`);
    const filled = Date.now();
    const counts = fill(path.join(state, "ledger.db"));
    const mib = fs.statSync(path.join(state, "ledger.db")).size / 1048576;
    console.log(
      `ledger: ${HOSTS} hosts × ${SNAPSHOTS} snapshots = ${counts.snapshots} snapshots, ${counts.artifacts} artifacts, ${counts.verifications} verifications, ${counts.alerts} alerts (${counts.openAlerts} open), ${counts.hookRuns} hook runs (${mib.toFixed(0)} MiB, written in ${((Date.now() - filled) / 1000).toFixed(1)} s)`,
    );

    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const started = performance.now();
    server = spawn(process.execPath, [bundle, "serve", "--listen", `127.0.0.1:${port}`, "--inventory", fleet, "--state", state], { env: { ...process.env, NO_COLOR: "1" }, stdio: ["ignore", "pipe", "pipe"] });
    await servingLine(server);
    console.log(`controller serve: serving after ${ms(performance.now() - started)} ms, RSS ${rssMiB(server.pid!).toFixed(1)} MiB\n`);

    const routes = await timeRoutes(base);
    if (routes.length === 0) throw new Error("no route answered 200");
    if (routes.length < ROUTES.length) console.log(`(left out of the round-robin: ${ROUTES.filter((r) => !routes.includes(r)).join(", ")})`);
    await soak(base, routes, server.pid!);
    if (serverStderr) console.log(`\nthe server's stderr (its tail):\n${serverStderr.trimEnd()}`);
  } finally {
    if (server) await stop(server);
    if (process.env.BENCH_FLEET_KEEP) console.log(`kept ${dir} (BENCH_FLEET_KEEP)`);
    else fs.rmSync(dir, { recursive: true, force: true });
  }
}

await main();
