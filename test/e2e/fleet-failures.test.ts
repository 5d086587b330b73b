// What goes wrong in a fleet, through the real CLI: unreachable hosts, unknown host keys, bad inventories.
import { execFileSync, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp, type AppData } from "../harness/app-data";
import { controller, jsonLines } from "../harness/controller-cli";
import { freePort } from "../harness/free-port";
import { startFleet, type Fleet, type HostEntry } from "../harness/fleet";

describe("fleet failures", () => {
  let fleet: Fleet;
  let app: AppData;
  const files = (): HostEntry => ({ destination: "local", plugins: { files: { paths: [app.data] } } });

  beforeAll(async () => {
    fleet = await startFleet(["gamma"], { trustHostKeys: false });
    app = createApp(fleet.hosts.gamma!);
    expect((await fleet.controller(["init"])).code).toBe(0);
  });

  afterAll(async () => {
    await fleet?.stop();
  });

  it("refuses a host whose key is unknown, naming the host and fingerprint, until explicitly accepted", async () => {
    fleet.writeInventory({ gamma: files() });
    const refused = await fleet.controller(["run", "--host", "gamma"]);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toMatch(/gamma/);
    expect(refused.stdout).toMatch(/host key is not known/);
    expect(refused.stdout).toMatch(/SHA256:/);
    expect(refused.stdout).toMatch(/--accept-new-host-key/);
    expect(fs.readFileSync(fleet.knownHosts, "utf8")).toBe("");

    const accepted = await fleet.controller(["run", "--host", "gamma", "--accept-new-host-key"]);
    expect(accepted.code, accepted.stdout + accepted.stderr).toBe(0);
    expect(fs.readFileSync(fleet.knownHosts, "utf8")).toContain(`[127.0.0.1]:${fleet.hosts.gamma!.port}`);

    const again = await fleet.controller(["run", "--host", "gamma"]);
    expect(again.code, again.stdout + again.stderr).toBe(0);
  });

  it("upgrades the agent when its bundle changes, and refuses a host pinned to another controller", async () => {
    fleet.writeInventory({ gamma: files() });
    const bundle = path.join(fleet.dir, "agent-next.mjs");
    fs.writeFileSync(bundle, `${fs.readFileSync(path.resolve("dist/agent.mjs"), "utf8")}\n// next release\n`);
    const upgraded = await controller(["run", "--host", "gamma", "--accept-new-host-key"], { ...fleet.env, LIFEBOAT_AGENT_BUNDLE: bundle });
    expect(upgraded.code, upgraded.stdout + upgraded.stderr).toBe(0);
    expect(upgraded.stdout).toContain("agent upgrade");
    expect(fs.readFileSync(path.join(fleet.hosts.gamma!.home, ".lifeboat", "agent.mjs"), "utf8")).toContain("// next release");

    const install = await controller(["install", "--host", "gamma", "--json"], fleet.env);
    expect(install.code, install.stderr).toBe(0);
    expect(jsonLines(install.stdout)[0]).toMatchObject({ type: "install", host: "gamma", installed: true, reason: "upgrade" });
    const again = await controller(["install", "--host", "gamma", "--json"], fleet.env);
    expect(jsonLines(again.stdout)[0]).toMatchObject({ type: "install", host: "gamma", installed: false });

    const otherState = path.join(fleet.dir, "other-controller");
    expect((await controller(["init", "--state", otherState], fleet.env)).code).toBe(0);
    const refused = await controller(["run", "--host", "gamma", "--json", "--state", otherState], fleet.env);
    expect(refused.code).toBe(1);
    const summary = jsonLines(refused.stdout).find((l) => l.type === "host-summary") as { error: { code: string; message: string; hint: string } };
    expect(summary.error.code).toBe("KEYS");
    expect(summary.error.message).toContain("pinned to another controller");
    expect(summary.error.hint).toContain("pinned.json");
  });

  it("reports an unreachable host clearly while the other hosts finish", async () => {
    const closed = await freePort();
    fleet.writeInventory({
      gamma: files(),
      ghost: { ...files(), sshOverride: { host: "127.0.0.1", port: closed, user: "nobody" } },
    });
    const result = await fleet.controller(["run", "--all", "--json"]);
    expect(result.code).toBe(1);
    const summaries = Object.fromEntries(jsonLines(result.stdout).filter((l) => l.type === "host-summary").map((s) => [s.host, s]));
    expect(summaries.gamma?.status, result.stdout).toBe("ok");
    expect(summaries.ghost?.status).toBe("failed");
    const error = (summaries.ghost as { error: { code: string; message: string } }).error;
    expect(error.code).toBe("SSH");
    expect(error.message).toContain('"ghost"');
    expect(error.message).toMatch(/refused/i);
    // A host that was never reached has a failed job in the ledger, not an empty snapshot.
    const snapshots = await fleet.controller(["snapshots", "--host", "ghost", "--json"]);
    expect(JSON.parse(snapshots.stdout)).toMatchObject({ snapshots: [] });
  });

  it("exits 2 for what the command line got wrong before anything ran, and skips a spare host with nothing to back up", async () => {
    fleet.writeInventory({ gamma: files(), spare: { destination: "local", plugins: {}, sshOverride: { host: "127.0.0.1", port: 9, user: "nobody" } } });
    const noMatch = await fleet.controller(["run", "--host", "gamma", "--plugins", "nope"]);
    expect(noMatch.code).toBe(2);
    expect(noMatch.stderr).toContain('Cannot back up "gamma": none of its plugins match --plugins nope');
    const spareNamed = await fleet.controller(["run", "--host", "spare"]);
    expect(spareNamed.code).toBe(2);
    expect(spareNamed.stderr).toContain('Cannot back up "spare": it has no plugins');
    for (const args of [
      ["verify", "--host", "gamma", "--snapshot", "20200101T000000Z-0000"],
      ["restore", "--from", "gamma", "--snapshot", "20200101T000000Z-0000", "--yes"],
    ]) {
      const result = await fleet.controller(args);
      expect(result.code, args.join(" ")).toBe(2);
      expect(result.stderr).toContain('no complete snapshot "20200101T000000Z-0000"');
    }
    const all = await fleet.controller(["run", "--all", "--accept-new-host-key"]);
    expect(all.code, all.stdout + all.stderr).toBe(0);
    expect(all.stderr).toContain("skipping spare: no plugins (nothing to back up)");
  });

  it("rejects a malformed inventory with file, line and field, exit code 2", async () => {
    const file = path.join(fleet.dir, "broken.yaml");
    fs.writeFileSync(
      file,
      ["destinations:", "  usb:", "    type: local", "    path: /mnt/usb", "hosts:", "  web:", "    ssh: { host: 127.0.0.1 }", "    destination: usb", "    plugins:", "      files:", "        paths: data", ""].join("\n"),
    );
    const result = await fleet.controller(["run", "--all", "--inventory", file]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`${file}:11`);
    expect(result.stderr).toContain("hosts.web.plugins.files.paths");
  });

  it("names an unknown host and the known ones, exit code 2", async () => {
    fleet.writeInventory({ gamma: files() });
    const result = await fleet.controller(["run", "--host", "gamma-typo"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("gamma-typo");
    expect(result.stderr).toContain("gamma");
  });

  it("keeps secrets out of output when the S3 credentials are wrong", async () => {
    fleet.writeInventory({ gamma: { destination: "s3", plugins: { files: { paths: [app.data] } } } });
    const secret = "wrong-secret-key-value-1234";
    const result = await controller(["run", "--host", "gamma", "--json"], { ...fleet.env, TEST_S3_SECRET: secret, TEST_S3_KEY: "WRONGKEYID1234" });
    expect(result.code).toBe(1);
    expect(result.stdout + result.stderr).not.toContain(secret);
    expect(result.stdout + result.stderr).not.toContain("WRONGKEYID1234");
    for (const file of fs.readdirSync(fleet.state).filter((f) => f.startsWith("ledger.db"))) {
      expect(fs.readFileSync(path.join(fleet.state, file)).includes(Buffer.from(secret)), file).toBe(false);
    }
  });

  it("stops the agent's job and removes its scratch when the controller dies mid-run, and the next controller marks the run failed", async () => {
    const marker = path.join(fleet.hosts.gamma!.home, "hook-started");
    fs.rmSync(marker, { force: true });
    fleet.writeInventory({ gamma: { destination: "local", plugins: { files: { paths: [app.data], hooks: { before: `touch ${marker}; sleep 300` } } } } });
    const dying = spawn(process.execPath, [path.resolve("dist/controller.mjs"), "run", "--host", "gamma", "--accept-new-host-key"], { env: { ...process.env, ...fleet.env }, stdio: "ignore" });
    const scratch = path.join(fleet.hosts.gamma!.home, ".lifeboat", "scratch");
    const hostProcesses = () => {
      try {
        return execFileSync("pgrep", ["-a", "-u", fleet.hosts.gamma!.user], { encoding: "utf8" });
      } catch {
        return ""; // pgrep exits 1 when there are none
      }
    };
    try {
      await until(() => fs.existsSync(marker), "the job's before hook to start");
      expect(fs.readdirSync(scratch)).toHaveLength(1);
      expect(hostProcesses()).toMatch(/agent\.mjs run/);
    } finally {
      dying.kill("SIGKILL");
    }
    await until(() => !/agent\.mjs run|sleep 300/.test(hostProcesses()), "the agent and its hook to stop");
    expect(fs.readdirSync(scratch)).toEqual([]);

    const ledger = path.join(fleet.state, "ledger.db");
    const runStatus = () => new Database(ledger, { readonly: true }).prepare("SELECT status FROM runs ORDER BY started_at DESC LIMIT 1").pluck().get();
    expect(runStatus()).toBe("running");
    const snapshots = await fleet.controller(["snapshots", "--host", "gamma", "--json"]);
    expect(snapshots.code, snapshots.stderr).toBe(0);
    expect(runStatus()).toBe("failed");
    const [latest] = (JSON.parse(snapshots.stdout) as { snapshots: { status: string }[] }).snapshots;
    expect(latest!.status).toBe("failed");
    const error = new Database(ledger, { readonly: true }).prepare("SELECT code, message FROM events WHERE level = 'error' ORDER BY id DESC LIMIT 1").get();
    expect(error).toMatchObject({ code: "INTERRUPTED", message: expect.stringContaining("stopped before it finished") });
  });
});

/** Waits (polling, at most 60 s) until `done()` holds. */
async function until(done: () => boolean, what: string): Promise<void> {
  for (let waited = 0; !done(); waited += 200) {
    if (waited > 60_000) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
