// `npm run bench:fleet`: fleet operations on a big ledger, timed as whole commands (the built
// `dist/controller.mjs`, process start included): `controller status --all` (text and --json)
// and, when `controller prune` exists, `controller prune --all --dry-run`.
//
// It simulates the fleet by writing ledger rows directly (bench/fleet-ledger.ts: no host is
// contacted, nothing is stored): 200 hosts (BENCH_FLEET_HOSTS) × 400 snapshots
// (BENCH_FLEET_SNAPSHOTS) four hours apart, each with its run, job and 2–3 artifacts (a
// letsencrypt one with certificates on every tenth host), 2% failed snapshots with their hook
// runs and alerts, a weekly deep verification per host with its instances, a monthly drill per
// host, and last backups failed on every twentieth host. Five runs of each command; the median,
// fastest and slowest are reported (on a busy machine the fastest is the command's own cost).
// BENCH_FLEET_KEEP=1 keeps the state directory.
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describeTimes, root, timeController, type RunTimes } from "./bench-agent";
import { benchDaemonTicks } from "./daemon";
import { fill, HOSTS, inventory, SNAPSHOTS } from "./fleet-ledger";

const RUNS = 5;
const bundle = path.join(root, "dist", "controller.mjs");

function main(): void {
  if (!fs.existsSync(bundle)) throw new Error(`${bundle} is missing: run npm run build`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lifeboat-bench-fleet-"));
  try {
    const state = path.join(dir, "state");
    const env = { ...process.env, LIFEBOAT_STATE: state, LIFEBOAT_INVENTORY: inventory(dir), NO_COLOR: "1" };
    const init = spawnSync(process.execPath, [bundle, "init"], { env, encoding: "utf8" });
    if (init.status !== 0) throw new Error(`controller init failed: ${init.stderr}`);
    const began = Date.now();
    const counts = fill(path.join(state, "ledger.db"));
    const mib = fs.statSync(path.join(state, "ledger.db")).size / 1048576;
    console.log(`ledger: ${HOSTS} hosts × ${SNAPSHOTS} snapshots = ${counts.snapshots} snapshots, ${counts.artifacts} artifacts, ${counts.jobs} jobs, ${counts.verifications} verifications (${mib.toFixed(0)} MiB, written in ${((Date.now() - began) / 1000).toFixed(1)} s)`);
    const report = (label: string, t: RunTimes) => console.log(`${label.padEnd(40)} ${describeTimes(t)}`);
    const time = (args: string[], env: NodeJS.ProcessEnv) => timeController(bundle, args, env, RUNS);
    report("controller --version (process start)", time(["--version"], env));
    report("controller status --all", time(["status", "--all"], env));
    report("controller status --all --json", time(["status", "--all", "--json"], env));
    report("controller status --host host-007", time(["status", "--host", "host-007"], env));
    if (process.env.BENCH_FLEET_SKIP_PRUNE) {
      console.log("controller prune: skipped (BENCH_FLEET_SKIP_PRUNE)");
    } else if (fs.existsSync(path.join(root, "controller", "commands", "prune.ts"))) {
      report("controller prune --all --dry-run", time(["prune", "--all", "--dry-run"], env));
    } else {
      console.log("controller prune: not there yet (controller/commands/prune.ts), not timed");
    }
  } finally {
    if (process.env.BENCH_FLEET_KEEP) console.log(`kept ${dir} (BENCH_FLEET_KEEP)`);
    else fs.rmSync(dir, { recursive: true, force: true });
  }
}

main();
// The daemon's scheduler over 10,000 ticks with simulated agents, heap before and after (bench/daemon.ts).
if (!process.env.BENCH_FLEET_SKIP_DAEMON) await benchDaemonTicks();
