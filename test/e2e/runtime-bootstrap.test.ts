// The runtime bootstrap on a simulated fresh VPS (sshd in a mount namespace where every node and
// deno binary is masked): the controller pushes the Deno it carries, checks it, uses it for backup
// and restore, reports its real version, does not push it again, replaces a changed copy; pinned
// runtimes that are missing or too old are refused, and a Deno under another name is recognised.
import { execFileSync } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import * as zlib from "node:zlib";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { controller, jsonLines } from "../harness/controller-cli";
import { startFleet, type Fleet, type HostEntry } from "../harness/fleet";
import { npmDenoBinary } from "../harness/test-runtime";

const DENO_VERSION = (JSON.parse(fs.readFileSync(path.join(path.dirname(npmDenoBinary()), "package.json"), "utf8")) as { version: string }).version;

describe("a fresh VPS without Node.js or Deno gets the controller's Deno", () => {
  let fleet: Fleet;
  let data: string;
  const fresh = () => fleet.hosts.fresh!;
  const pushed = () => path.join(fresh().home, ".lifeboat", "runtime", "deno");
  const sha256 = (file: string) => crypto.createHash("sha256").update(fs.readFileSync(file)).digest("hex");
  const entry = (runtime?: string): HostEntry => ({ destination: "local", plugins: { files: { paths: [data] } }, ...(runtime ? { runtime } : {}) });
  /** Runs `command` in a session on the host (inside its namespace), with the stock ssh client. */
  const onHost = (command: string) =>
    execFileSync(
      "ssh",
      ["-F", "none", "-i", fresh().clientKeyPath, "-p", String(fresh().port), "-o", "BatchMode=yes", "-o", `UserKnownHostsFile=${fleet.knownHosts}`, "-o", "IdentitiesOnly=yes", `${fresh().user}@${fresh().hostname}`, command],
      { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] },
    );
  const hostRuntime = () => {
    const db = new Database(path.join(fleet.state, "ledger.db"), { readonly: true });
    try {
      return (db.prepare("SELECT runtime FROM hosts WHERE name = 'fresh'").get() as { runtime: string } | undefined)?.runtime;
    } finally {
      db.close();
    }
  };

  beforeAll(async () => {
    fleet = await startFleet(["fresh", "plain"], { hosts: { fresh: { bare: true }, plain: { bare: true, mask: ["/usr/bin/gzip"] } } });
    data = path.join(fresh().home, "data");
    fs.mkdirSync(path.join(data, "docs"), { recursive: true });
    fs.writeFileSync(path.join(data, "docs", "notes.txt"), "the notes\n".repeat(100));
    fs.writeFileSync(path.join(data, "random.bin"), crypto.randomBytes(300 * 1024));
    execFileSync("chown", ["-R", `${fresh().user}:${fresh().user}`, data]);
    expect((await fleet.controller(["init"])).code).toBe(0);
  });
  afterAll(async () => {
    await fleet?.stop();
  });

  it("the host really has no runtime", () => {
    expect(onHost("echo ok")).toBe("ok\n");
    expect(() => onHost("node --version")).toThrow();
    expect(() => onHost("deno --version")).toThrow();
  });

  it("backs up with runtime: auto (the default) by pushing Deno, checked, and records its real version", async () => {
    fleet.writeInventory({ fresh: entry() });
    const run = await fleet.controller(["run", "--host", "fresh"]);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toMatch(new RegExp(`pushed runtime deno ${DENO_VERSION.replace(/\./g, "\\.")} \\(x86_64-linux\\) to ~/\\.lifeboat/runtime/deno \\(\\d+\\.\\d MB gzip in \\d+\\.\\ds\\)`));
    expect(sha256(pushed())).toBe(sha256(npmDenoBinary()));
    expect(fs.statSync(pushed()).mode & 0o777).toBe(0o700);
    expect(fs.readFileSync(path.join(fresh().home, ".lifeboat", "runtime", "deno.sha256"), "utf8").trim()).toBe(sha256(npmDenoBinary()));
    expect(fs.readdirSync(path.dirname(pushed())).sort()).toEqual(["deno", "deno.sha256"]);
    expect(hostRuntime()).toBe(`deno ${DENO_VERSION}`);
  });

  it("does not push again, says deno in the started event, and the agent reports its version as Deno's", async () => {
    const run = await fleet.controller(["run", "--host", "fresh", "--json"]);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).not.toContain("pushed runtime");
    const start = jsonLines(run.stdout).find((l) => l.type === "start");
    expect(start).toMatchObject({ runtime: `deno ${DENO_VERSION}` });
    const version = JSON.parse(onHost(`DENO_NO_UPDATE_CHECK=1 ${pushed()} run --allow-read --allow-env --allow-sys --no-prompt --quiet ~/.lifeboat/agent.mjs version`)) as Record<string, unknown>;
    expect(version).toMatchObject({ runtime: "deno", runtimeVersion: DENO_VERSION });
  });

  it("restores the snapshot in place with the pushed Deno", async () => {
    const before = fs.readFileSync(path.join(data, "random.bin"));
    fs.writeFileSync(path.join(data, "random.bin"), "changed");
    fs.rmSync(path.join(data, "docs"), { recursive: true });
    const restore = await fleet.controller(["restore", "--from", "fresh", "--snapshot", "latest", "--yes"]);
    expect(restore.code, restore.stdout + restore.stderr).toBe(0);
    expect(restore.stdout).not.toContain("pushed runtime");
    expect(fs.readFileSync(path.join(data, "random.bin")).equals(before)).toBe(true);
    expect(fs.readFileSync(path.join(data, "docs", "notes.txt"), "utf8")).toBe("the notes\n".repeat(100));
  });

  it("detects a pushed binary changed on the host and replaces it, saying so", async () => {
    fs.appendFileSync(pushed(), "x");
    const run = await fleet.controller(["run", "--host", "fresh"]);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toMatch(/pushed runtime deno .* replacing it: the Deno pushed there earlier is not the one this controller carries/);
    expect(sha256(pushed())).toBe(sha256(npmDenoBinary()));
  });

  it("refuses an upload whose SHA-256 is wrong on the host, deletes it, and pushes a good one next time", async () => {
    // The controller's cache of the compressed binary (in its TMPDIR), damaged: a valid gzip of other bytes.
    const tmp = path.join(fleet.dir, "controller-tmp");
    const cache = path.join(tmp, `lifeboat-runtime-cache-${process.getuid!()}`);
    fs.mkdirSync(cache, { recursive: true, mode: 0o700 });
    fs.writeFileSync(path.join(cache, `deno-${sha256(npmDenoBinary())}.gz`), zlib.gzipSync("not deno"));
    fs.rmSync(path.dirname(pushed()), { recursive: true });
    const env = { ...fleet.env, TMPDIR: tmp };
    const bad = await controller(["run", "--host", "fresh"], env);
    expect(bad.code).toBe(1);
    expect(bad.stdout + bad.stderr).toContain(`Cannot push Deno to "fresh": what arrived has SHA-256 ${crypto.createHash("sha256").update("not deno").digest("hex")}, not ${sha256(npmDenoBinary())}; it was deleted`);
    expect(fs.readdirSync(path.dirname(pushed()))).toEqual([]);
    const good = await controller(["run", "--host", "fresh"], env);
    expect(good.code, good.stdout + good.stderr).toBe(0);
    expect(good.stdout).toContain("pushed runtime deno");
    expect(sha256(pushed())).toBe(sha256(npmDenoBinary()));
  });

  it("sends the binary uncompressed to a host without gzip", async () => {
    const plain = fleet.hosts.plain!;
    const plainData = path.join(plain.home, "data");
    fs.mkdirSync(plainData);
    fs.writeFileSync(path.join(plainData, "a.txt"), "a\n");
    execFileSync("chown", ["-R", `${plain.user}:${plain.user}`, plainData]);
    fleet.writeInventory({ plain: { destination: "local", plugins: { files: { paths: [plainData] } } } });
    const run = await fleet.controller(["run", "--host", "plain"]);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    const size = (fs.statSync(npmDenoBinary()).size / 1e6).toFixed(1);
    expect(run.stdout).toContain(`pushed runtime deno ${DENO_VERSION} (x86_64-linux) to ~/.lifeboat/runtime/deno (${size} MB in `);
    expect(sha256(path.join(plain.home, ".lifeboat", "runtime", "deno"))).toBe(sha256(npmDenoBinary()));
    fleet.writeInventory({ fresh: entry() });
  });

  it("controller install says which runtime the host uses", async () => {
    const install = await fleet.controller(["install", "--host", "fresh"]);
    expect(install.code, install.stdout + install.stderr).toBe(0);
    expect(install.stdout).toContain(`runtime deno ${DENO_VERSION}: pushed by this controller to ~/.lifeboat/runtime/deno`);
    const json = jsonLines((await fleet.controller(["install", "--host", "fresh", "--json"])).stdout)[0];
    expect(json).toMatchObject({ host: "fresh", runtime: { command: "~/.lifeboat/runtime/deno", kind: "deno", version: DENO_VERSION, pushed: true } });
  });

  it("recognises a Deno binary pinned under another name by what it prints", async () => {
    onHost("mkdir -p ~/rt && cp ~/.lifeboat/runtime/deno ~/rt/d2");
    fleet.writeInventory({ fresh: entry(path.join(fresh().home, "rt", "d2")) });
    const run = await fleet.controller(["run", "--host", "fresh", "--json"]);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(jsonLines(run.stdout).find((l) => l.type === "start")).toMatchObject({ runtime: `deno ${DENO_VERSION}` });
  });

  it("refuses a pinned runtime that does not exist, naming it and the fix, and never pushes", async () => {
    fs.rmSync(path.dirname(pushed()), { recursive: true });
    fleet.writeInventory({ fresh: entry("/opt/nowhere/node") });
    const run = await fleet.controller(["run", "--host", "fresh", "--json"]);
    expect(run.code).toBe(1);
    const summary = jsonLines(run.stdout).find((l) => l.type === "host-summary") as { status: string; error: { code: string; message: string; hint: string } };
    expect(summary.status).toBe("failed");
    expect(summary.error).toMatchObject({ code: "TOOL_MISSING", message: 'Cannot run the agent on "fresh": the runtime "/opt/nowhere/node" set in the inventory was not found there' });
    expect(summary.error.hint).toMatch(/install Node\.js >= 20 or Deno >= 2 on the host and point runtime: at it.*runtime: auto/);
    expect(fs.existsSync(pushed())).toBe(false);
  });

  it("refuses a pinned Node.js that is too old", async () => {
    const old = path.join(fresh().home, "old-node");
    fs.writeFileSync(old, "#!/bin/sh\necho v18.19.0\n", { mode: 0o755 });
    execFileSync("chown", [`${fresh().user}:${fresh().user}`, old]);
    fleet.writeInventory({ fresh: entry(old) });
    const run = await fleet.controller(["run", "--host", "fresh"]);
    expect(run.code).toBe(1);
    expect(run.stdout + run.stderr).toContain(`Cannot run the agent on "fresh": the runtime "${old}" is Node.js v18.19.0; the agent needs Node.js >= 20`);
    expect(fs.existsSync(pushed())).toBe(false);
  });
});
