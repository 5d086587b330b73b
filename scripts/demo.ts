// `npm run demo`: a small Lifeboat fleet on loopback, backed up and restored, start to finish.
// Starts two simulated VPS hosts ("aidset" with an Open WebUI-like app, and an empty
// "fresh-vps"), each its own sshd and user; an S3 server (s3rver) and an SFTP vault.
// Then runs the real controller: init, run, verify, snapshots, restore onto the fresh host,
// fetch one artifact onto the controller, status, and the same fleet through the dashboard's
// JSON API and Prometheus metrics (controller serve).
// Needs root (it creates the simulated hosts' users); everything is removed at the end.
import { spawn } from "node:child_process";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { createApp, startWriter } from "../test/harness/app-data";
import { startFleet } from "../test/harness/fleet";
import { freePort, waitForPort } from "../test/harness/free-port";
import { listTree } from "../test/harness/tree";

const bold = (s: string) => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);

async function main(): Promise<number> {
  if (process.getuid?.() !== 0) {
    console.error("The demo creates simulated hosts (users + sshd) and needs root: sudo npm run demo");
    return 2;
  }
  console.log(bold("Starting a fleet on 127.0.0.1: hosts aidset and fresh-vps, an S3 server, an SFTP vault..."));
  const fleet = await startFleet(["aidset", "fresh-vps"]);
  try {
    const app = createApp(fleet.hosts.aidset!);
    fleet.writeInventory({
      aidset: {
        destination: "s3",
        plugins: {
          files: { paths: [app.data], exclude: ["cache/", "audit.log"] },
          webui: { plugin: "sqlite", databases: [app.database] },
        },
      },
      "fresh-vps": { destination: "sftp", plugins: {} },
    });
    const bundle = fileURLToPath(new URL("../dist/controller.mjs", import.meta.url));
    // Async on purpose: the S3 server runs in this process and must keep answering.
    const controller = (...args: string[]) =>
      new Promise<number>((resolve) => {
        console.log(`\n${bold(`$ controller ${args.join(" ")}`)}`);
        const child = spawn(process.execPath, [bundle, ...args], { stdio: "inherit", env: { ...process.env, ...fleet.env } });
        child.on("close", (code) => resolve(code ?? 1));
      });
    console.log(`inventory: ${fleet.inventory}\nstate:     ${fleet.state}`);
    if ((await controller("init")) !== 0) return 1;
    await controller("hosts");
    const writer = startWriter(fleet.hosts.aidset!, app);
    const backed = await controller("run", "--host", "aidset");
    await writer.stop();
    if (backed !== 0) return 1;
    if ((await controller("verify", "--host", "aidset")) !== 0) return 1;
    await controller("snapshots");
    const into = path.join(fleet.hosts["fresh-vps"]!.home, "restored");
    // What the restore will do, changing nothing; then the restore itself, which ends with its recovery report.
    if ((await controller("restore", "--from", "aidset", "--snapshot", "latest", "--to", "fresh-vps", "--into", into, "--plan")) !== 0) return 1;
    if ((await controller("restore", "--from", "aidset", "--snapshot", "latest", "--to", "fresh-vps", "--into", into, "--yes")) !== 0) return 1;
    const excluded = (rel: string) => rel === "cache" || rel.startsWith("cache/") || rel === "audit.log";
    const same = JSON.stringify(listTree(path.join(into, "files", path.basename(app.data)))) === JSON.stringify(listTree(app.data, excluded));
    console.log(`\n${bold(same ? "✔ fresh-vps now holds aidset's data, byte for byte (cache/ and audit.log excluded as configured)" : "✘ restored tree differs")}`);
    if (!same) return 1;
    // One artifact opened on the controller, no host involved; then the fleet at a glance (what a monitoring check runs).
    if ((await controller("fetch", "--from", "aidset", "--artifact", "webui/webui.db", "--out", path.join(fleet.dir, "webui.db"))) !== 0) return 1;
    const status = await controller("status");
    // The same fleet on the dashboard (open the address in a browser while it runs): its JSON API and a metric.
    const port = await freePort();
    console.log(`\n${bold(`$ controller serve --listen 127.0.0.1:${port}`)}`);
    const server = spawn(process.execPath, [bundle, "serve", "--listen", `127.0.0.1:${port}`], { stdio: ["ignore", "inherit", "inherit"], env: { ...process.env, ...fleet.env } });
    try {
      await waitForPort(port);
      const overview = (await (await fetch(`http://127.0.0.1:${port}/api/hosts`)).json()) as { hosts: { host: string; states: string[] }[] };
      console.log(`GET /api/hosts → ${overview.hosts.map((h) => `${h.host}: ${h.states.join(" ")}`).join(", ")}`);
      const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      console.log(`GET /metrics   → ${metrics.split("\n").find((l) => l.startsWith("lifeboat_last_success_timestamp_seconds{")) ?? "(no sample)"}`);
    } finally {
      server.kill("SIGTERM");
    }
    return status;
  } finally {
    await fleet.stop();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
