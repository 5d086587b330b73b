// Jobs on a host as they run through the real controller and sshd: one job per host at a time,
// debris of dead jobs swept, and a secret a hook needs kept out of every output and of argv.
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp, type AppData } from "../harness/app-data";
import { controller, jsonLines } from "../harness/controller-cli";
import { startFleet, type Fleet } from "../harness/fleet";
import { testRuntime } from "../harness/test-runtime";

describe("jobs on one host", () => {
  let fleet: Fleet;
  let app: AppData;
  const home = () => fleet.hosts.delta!.home;

  beforeAll(async () => {
    fleet = await startFleet(["delta"]);
    app = createApp(fleet.hosts.delta!);
    expect((await fleet.controller(["init"])).code).toBe(0);
  });
  afterAll(async () => {
    await fleet?.stop();
  });

  it("runs one job per host at a time: a second run waits, and their hooks never interleave", async () => {
    const log = path.join(home(), "hooks.log");
    fleet.writeInventory({ delta: { destination: "local", plugins: { files: { paths: [app.data], hooks: { before: `echo before >> ${log}; sleep 2`, after: `echo after >> ${log}` } } } } });
    const [first, second] = await Promise.all([fleet.controller(["run", "--host", "delta"]), fleet.controller(["run", "--host", "delta"])]);
    expect(first.code, first.stdout + first.stderr).toBe(0);
    expect(second.code, second.stdout + second.stderr).toBe(0);
    expect(fs.readFileSync(log, "utf8")).toBe("before\nafter\nbefore\nafter\n");
  });

  it("sweeps the scratch space a dead job left behind", async () => {
    const dead = path.join(home(), ".lifeboat", "scratch", "job-0123456789abcdef");
    fs.mkdirSync(dead, { recursive: true });
    fs.writeFileSync(path.join(dead, "leftover.db"), "x".repeat(1000));
    execFileSync("chown", ["-R", `${fleet.hosts.delta!.user}:${fleet.hosts.delta!.user}`, path.join(home(), ".lifeboat")]);
    fleet.writeInventory({ delta: { destination: "local", plugins: { files: { paths: [app.data] } } } });
    const run = await fleet.controller(["run", "--host", "delta"]);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(fs.existsSync(dead)).toBe(false);
  });

  it("gives a hook its secret through the environment: never in output, --json, the ledger, or the host's process list", async () => {
    const secret = "hook-secret-7f3a91c2e5";
    const got = path.join(home(), "got-secret");
    const ps = path.join(home(), "ps.txt");
    fleet.writeInventory({
      delta: { destination: "local", plugins: { files: { paths: [app.data], hooks: { before: `echo "\${HOOK_SECRET}" > ${got}; ps -eo args > ${ps}; echo "token is \${HOOK_SECRET}"` } } } },
    });
    for (const args of [["run", "--host", "delta"], ["run", "--host", "delta", "--json"]]) {
      const run = await controller(args, { ...fleet.env, HOOK_SECRET: secret });
      expect(run.code, run.stdout + run.stderr).toBe(0);
      expect(run.stdout + run.stderr).not.toContain(secret);
      expect(fs.readFileSync(got, "utf8")).toBe(`${secret}\n`);
      expect(fs.readFileSync(ps, "utf8")).not.toContain(secret);
      expect(fs.readFileSync(ps, "utf8")).toContain("${HOOK_SECRET}");
    }
    for (const file of fs.readdirSync(fleet.state).filter((f) => f.startsWith("ledger.db"))) {
      expect(fs.readFileSync(path.join(fleet.state, file)).includes(Buffer.from(secret)), file).toBe(false);
    }
  });

  it("runs the agent with the test runtime (LIFEBOAT_TEST_RUNTIME: node by default, or deno), and the ledger records it", async () => {
    fleet.writeInventory({ delta: { destination: "local", plugins: { files: { paths: [app.data] } } } });
    const run = await fleet.controller(["run", "--host", "delta", "--json"]);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    const expected = testRuntime() === "deno" ? /^deno 2\.\d+\.\d+$/ : new RegExp(`^node ${process.version.replace(/\./g, "\\.")}$`);
    expect(jsonLines(run.stdout).find((l) => l.type === "start")?.runtime).toMatch(expected);
  });

  it("refuses a second inventory name for a machine pinned under the first, instead of re-pinning it", async () => {
    const delta = fleet.hosts.delta!;
    fleet.writeInventory({
      delta: { destination: "local", plugins: { files: { paths: [app.data] } } },
      "delta-alias": { destination: "local", plugins: { files: { paths: [app.data] } }, sshOverride: { host: delta.hostname, port: delta.port, user: delta.user } },
    });
    expect((await fleet.controller(["run", "--host", "delta"])).code).toBe(0);
    const alias = await fleet.controller(["run", "--host", "delta-alias", "--json"]);
    expect(alias.code).toBe(1);
    expect(alias.stdout).toContain('Cannot use \\"delta-alias\\": the machine behind it is pinned as \\"delta\\"');
    expect(JSON.parse(fs.readFileSync(path.join(delta.home, ".lifeboat", "pinned.json"), "utf8"))).toMatchObject({ host: "delta" });
  });
});
