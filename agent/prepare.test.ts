// The prepare step of an in-place restore, run by the agent's own code against real redis-servers:
// prepare starts the service, the agent waits for it to answer, and only then do hooks and data go in.
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AgentEvent, HookEvent } from "../core/events";
import { AgentBench, type AgentRun } from "../test/harness/agent-backup";
import { restoreOnBench } from "../test/harness/agent-restore";
import { fillRedis, startRedis, type RedisServer } from "../test/harness/redis";

/** A redis-server that was started once (for its config, dir and port) and is now stopped: a service that is not running yet. */
async function stoppedRedis(): Promise<RedisServer> {
  const server = await startRedis();
  execFileSync("sh", ["-c", server.stopCommand]);
  return server;
}

const hooksOf = (events: AgentEvent[]) => events.filter((e): e is HookEvent => e.type === "hook").map((e) => `${e.phase} ${e.code}`);
const errorsOf = (events: AgentEvent[]) => events.filter((e): e is Extract<AgentEvent, { type: "error" }> => e.type === "error");
/** Names, sizes and times of the files in a directory: what "unchanged" means here. */
const listing = (dir: string) => fs.readdirSync(dir).sort().map((name) => ({ name, ...(({ size, mtimeMs }) => ({ size, mtimeMs }))(fs.statSync(path.join(dir, name))) }));

describe("prepare and readiness before an in-place restore", () => {
  let bench: AgentBench;
  let source: RedisServer;
  let run: AgentRun;
  let keys: string;
  const servers: RedisServer[] = [];

  beforeAll(async () => {
    bench = await AgentBench.create();
    source = await startRedis();
    fillRedis(source, 300);
    keys = source.cli("DBSIZE");
    // A prepare step in the source's configuration changes nothing about a backup.
    run = await bench.backup([{ instance: "cache", plugin: "redis", config: { port: source.port, password: source.password, hooks: { prepare: "exit 3" } } }], {});
    expect(run.status).toBe("ok");
  });
  afterAll(async () => {
    for (const s of [source, ...servers]) await s?.stop();
    bench?.cleanup();
  });

  /** The target's configuration of the instance: its own server, stop/start, a marker the before hook leaves. */
  const targetSpec = (target: RedisServer, hooks: Record<string, unknown>) => [
    {
      instance: "cache",
      plugin: "redis",
      config: { port: target.port, password: target.password, stop: target.stopCommand, start: target.startCommand, hooks: { before: `touch ${target.dir}/before-ran`, after: `touch ${target.dir}/after-ran`, ...hooks } },
    },
  ];

  it("runs prepare first (it starts the server), waits for it to answer, then runs the hooks and restores the data into it", async () => {
    const target = await stoppedRedis();
    servers.push(target);
    const result = await restoreOnBench(bench, run, targetSpec(target, { prepare: [`echo starting redis`, target.startCommand] }));
    expect(result.status, JSON.stringify(errorsOf(result.events))).toBe("ok");
    expect(hooksOf(result.events)).toEqual(["prepare 0", "prepare 0", "before 0", "after 0"]);
    expect(result.events.find((e): e is HookEvent => e.type === "hook")?.output).toContain("starting redis");
    expect(target.cli("DBSIZE")).toBe(keys);
    expect(target.cli("-n", "1", "GET", "other:1")).toBe("one");
    expect(result.logs.join("\n")).toMatch(/\[cache\] the service answered after \d+ ms/);
  });

  it("fails the instance when prepare fails: no hook runs, no server is touched, nothing changes", async () => {
    const target = await stoppedRedis();
    servers.push(target);
    const before = listing(target.dir);
    const result = await restoreOnBench(bench, run, targetSpec(target, { prepare: "echo cannot start the db; exit 3" }));
    expect(result.status).toBe("failed");
    expect(hooksOf(result.events)).toEqual(["prepare 3"]);
    const [error] = errorsOf(result.events);
    expect(error).toMatchObject({ plugin: "cache", message: expect.stringContaining('Cannot run the prepare hook "echo cannot start the db; exit 3": it exited with code 3: cannot start the db'), hint: expect.stringContaining("nothing was restored") });
    expect(listing(target.dir)).toEqual(before);
    expect(() => target.cli("PING")).toThrow();
  });

  it("fails the instance, naming the service and what it last said, when the service does not answer within readyTimeout; nothing changes", async () => {
    const target = await stoppedRedis();
    servers.push(target);
    const before = listing(target.dir);
    const result = await restoreOnBench(bench, run, targetSpec(target, { prepare: "true", readyTimeout: "1s" }));
    expect(result.status).toBe("failed");
    expect(hooksOf(result.events)).toEqual(["prepare 0"]);
    const [error] = errorsOf(result.events);
    expect(error).toMatchObject({ code: "RESTORE", plugin: "cache", message: expect.stringMatching(new RegExp(`^Cannot restore into Redis on 127\\.0\\.0\\.1:${target.port}: it did not answer within 1s; it last said: .*Connection refused`)), hint: expect.stringContaining("hooks.prepare") });
    expect(listing(target.dir)).toEqual(before);
  });

  it("waits for a service that is already running without a prepare step, and runs no prepare for a restore under --into", async () => {
    const target = await startRedis();
    servers.push(target);
    const inPlace = await restoreOnBench(bench, run, targetSpec(target, {}));
    expect(inPlace.status, JSON.stringify(errorsOf(inPlace.events))).toBe("ok");
    expect(hooksOf(inPlace.events)).toEqual(["before 0", "after 0"]);
    const into = path.join(bench.root, "into");
    const under = await restoreOnBench(bench, run, targetSpec(target, { prepare: "exit 3" }), { into });
    expect(under.status, JSON.stringify(errorsOf(under.events))).toBe("ok");
    expect(hooksOf(under.events)).toEqual([]);
  });

  it("takes readyTimeout: 0 to mean no wait: a restore into a server that is down on purpose goes to the paths the snapshot recorded", async () => {
    execFileSync("sh", ["-c", source.stopCommand]);
    fs.rmSync(path.join(source.dir, "dump.rdb"), { force: true });
    const result = await restoreOnBench(bench, run, targetSpec(source, { readyTimeout: 0 }));
    expect(result.status, JSON.stringify(errorsOf(result.events))).toBe("ok");
    expect(hooksOf(result.events)).toEqual(["before 0", "after 0"]);
    expect(source.cli("DBSIZE")).toBe(keys);
  });
});
