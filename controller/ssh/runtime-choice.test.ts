// Choosing the agent's runtime: recognised by --version output, pinned or auto, pushed Deno reused
// only when its hash matches; the probe script run by a real shell; the Deno launch line.
import { execFileSync } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { HostConfig } from "../../inventory/schema";
import { npmDenoBinary } from "../../test/harness/test-runtime";
import { recogniseRuntime } from "./agent-runtime";
import { carriedDeno, type CarriedLookup, type CarriedRuntime } from "./carried-runtime";
import { parseProbe, probeScript, type HostProbe } from "./host-probe";
import { agentCommand } from "./remote-shell";
import { chooseRuntime } from "./runtime-choice";

const host = (runtime: string): HostConfig => ({ name: "web1", runtime, agentDir: "~/.lifeboat" }) as HostConfig;
const probe = (over: Partial<HostProbe>): HostProbe => ({ bundleSha256: "", runtimes: [], arch: "x86_64", libc: "glibc 2.36", gzip: true, sha256sum: true, ...over });
const carried: CarriedRuntime = { kind: "deno", version: "2.9.6", target: "x86_64-linux", packageName: "@deno/linux-x64-glibc", path: "/x/deno", size: 1, sha256: "ab".repeat(32) };
const have = async (): Promise<CarriedLookup> => ({ runtime: carried });
const none = async (): Promise<CarriedLookup> => ({ missing: "the host's C library is musl, and Deno's npm builds need glibc" });

describe("recognising a runtime by what --version prints", () => {
  it("tells Deno from Node.js whatever the file is called", () => {
    expect(recogniseRuntime("deno 2.9.6 (stable, release, x86_64-unknown-linux-gnu)")).toEqual({ kind: "deno", version: "2.9.6", major: 2 });
    expect(recogniseRuntime("v20.19.0")).toEqual({ kind: "node", version: "v20.19.0", major: 20 });
    expect(recogniseRuntime("v18.19.0")).toMatchObject({ kind: "node", major: 18 });
    expect(recogniseRuntime("deno 1.46.3 (release, x86_64-unknown-linux-gnu)")).toMatchObject({ kind: "deno", major: 1 });
    expect(recogniseRuntime("Python 3.11.2")).toBeNull();
    expect(recogniseRuntime("")).toBeNull();
  });
});

describe("choosing the runtime", () => {
  it("auto: takes node from PATH first, then deno", async () => {
    const node = { asked: "node", path: "/usr/bin/node", versionLine: "v20.19.0" };
    const deno = { asked: "deno", path: "/usr/local/bin/deno", versionLine: "deno 2.1.0 (stable)" };
    expect(await chooseRuntime(host("auto"), probe({ runtimes: [node, deno] }), have)).toEqual({ use: { command: "/usr/bin/node", kind: "node", version: "v20.19.0", pushed: false } });
    const old = { ...node, versionLine: "v18.19.0" };
    expect(await chooseRuntime(host("auto"), probe({ runtimes: [old, deno] }), have)).toEqual({ use: { command: "/usr/local/bin/deno", kind: "deno", version: "2.1.0", pushed: false } });
  });

  it("auto: reuses the pushed Deno only when its SHA-256 is the carried binary's, else pushes (saying it replaces one)", async () => {
    const nothing = [
      { asked: "node", path: "", versionLine: "" },
      { asked: "deno", path: "", versionLine: "" },
    ];
    expect(await chooseRuntime(host("auto"), probe({ runtimes: nothing, pushedSha256: carried.sha256 }), have)).toEqual({ use: { command: "~/.lifeboat/runtime/deno", kind: "deno", version: "2.9.6", pushed: true } });
    const changed = await chooseRuntime(host("auto"), probe({ runtimes: nothing, pushedSha256: "cd".repeat(32) }), have);
    expect(changed).toMatchObject({ push: carried, replacing: expect.stringContaining("changed on the host") });
    const fresh = await chooseRuntime(host("auto"), probe({ runtimes: [{ asked: "node", path: "/usr/bin/node", versionLine: "v18.19.0" }] }), have);
    expect(fresh).toEqual({ push: carried, why: "the host has no Node.js >= 20 or Deno >= 2 on its PATH (/usr/bin/node: Node.js v18.19.0 is too old)" });
  });

  it("auto: refuses with what does fit when there is nothing to push (musl, other machines)", async () => {
    const err = await chooseRuntime(host("auto"), probe({ runtimes: [{ asked: "node", path: "", versionLine: "" }] }), none).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "TOOL_MISSING", message: expect.stringContaining("musl"), hint: expect.stringContaining("install Node.js >= 20 or Deno >= 2 on the host") });
  });

  it("pinned: must exist, be Node.js or Deno, and be new enough; it never pushes", async () => {
    let asked = 0;
    const counting = async () => (asked++, have());
    const pinned = (versionLine: string, path = "/opt/rt/d2") => chooseRuntime(host("/opt/rt/d2"), probe({ runtimes: [{ asked: "/opt/rt/d2", path, versionLine }] }), counting);
    expect(await pinned("deno 2.9.6 (stable)")).toEqual({ use: { command: "/opt/rt/d2", kind: "deno", version: "2.9.6", pushed: false } });
    await expect(pinned("", "")).rejects.toMatchObject({ code: "TOOL_MISSING", message: 'Cannot run the agent on "web1": the runtime "/opt/rt/d2" set in the inventory was not found there' });
    await expect(pinned("v18.19.0")).rejects.toMatchObject({ code: "TOOL_MISSING", message: 'Cannot run the agent on "web1": the runtime "/opt/rt/d2" is Node.js v18.19.0; the agent needs Node.js >= 20' });
    await expect(pinned("deno 1.46.3 (stable)")).rejects.toMatchObject({ message: expect.stringContaining("is Deno 1.46.3; the agent needs Deno >= 2") });
    await expect(pinned("Python 3.11.2")).rejects.toMatchObject({ message: expect.stringContaining('is neither Node.js nor Deno, or does not run there (its --version printed "Python 3.11.2")') });
    expect(asked).toBe(0);
  });
});

describe("the carried Deno", () => {
  it("is the npm package's binary for x86_64 glibc hosts, with its hash", async () => {
    const found = await carriedDeno({ arch: "x86_64", libc: "glibc 2.36" });
    expect("runtime" in found && found.runtime).toMatchObject({ target: "x86_64-linux", packageName: "@deno/linux-x64-glibc", path: npmDenoBinary() });
    const sha = crypto.createHash("sha256").update(fs.readFileSync(npmDenoBinary())).digest("hex");
    expect("runtime" in found && found.runtime.sha256).toBe(sha);
  });

  it("is missing for musl, other machines, and an aarch64 package that is not installed", async () => {
    expect(await carriedDeno({ arch: "x86_64", libc: "musl" })).toEqual({ missing: expect.stringContaining("musl") });
    expect(await carriedDeno({ arch: "riscv64", libc: "glibc 2.36" })).toEqual({ missing: expect.stringContaining('not for "riscv64"') });
    const arm = await carriedDeno({ arch: "aarch64", libc: "glibc 2.36" });
    if (fs.existsSync(path.join(path.dirname(path.dirname(npmDenoBinary())), "linux-arm64-glibc"))) expect(arm).toMatchObject({ runtime: { target: "aarch64-linux" } });
    else expect(arm).toEqual({ missing: expect.stringContaining("@deno/linux-arm64-glibc is not installed beside this controller") });
  });
});

describe("the probe script, run by a real shell", () => {
  let home: string;
  beforeAll(() => {
    home = fs.mkdtempSync(path.join(os.tmpdir(), "lifeboat-probe-"));
    fs.mkdirSync(path.join(home, ".lifeboat", "runtime"), { recursive: true });
    fs.writeFileSync(path.join(home, ".lifeboat", "runtime", "deno"), "not really deno");
    fs.writeFileSync(path.join(home, "old-node"), "#!/bin/sh\necho v18.19.0\n", { mode: 0o755 });
  });
  afterAll(() => fs.rmSync(home, { recursive: true, force: true }));
  const run = (h: HostConfig) => parseProbe(execFileSync("bash", ["-c", probeScript(h)], { encoding: "utf8", env: { ...process.env, HOME: home } }));

  it("auto: node and deno from PATH, machine, libc, tools, and the pushed binary's hash", () => {
    const found = run(host("auto"));
    expect(found.runtimes[0]).toEqual({ asked: "node", path: execFileSync("bash", ["-c", "command -v node"], { encoding: "utf8" }).trim(), versionLine: execFileSync("node", ["--version"], { encoding: "utf8" }).trim() });
    expect(found.runtimes[1]!.asked).toBe("deno");
    expect(found).toMatchObject({ arch: os.machine(), libc: expect.stringMatching(/^glibc 2\./), gzip: true, sha256sum: true, pushedSha256: crypto.createHash("sha256").update("not really deno").digest("hex") });
  });

  it("pinned: that one only (a ~ path too), and no pushed hash", () => {
    const found = run(host("~/old-node"));
    expect(found.runtimes).toEqual([{ asked: "~/old-node", path: path.join(home, "old-node"), versionLine: "v18.19.0" }]);
    expect(found.pushedSha256).toBeUndefined();
    expect(run(host("/nowhere/node")).runtimes).toEqual([{ asked: "/nowhere/node", path: "", versionLine: "" }]);
  });
});

describe("the agent's command line", () => {
  it("starts Deno with the explicit permissions (never --allow-all) and no update check; Node as is", () => {
    const deno = agentCommand({ command: "~/.lifeboat/runtime/deno", kind: "deno" }, "~/.lifeboat", ["run", "--dir", "~/.lifeboat", "--attached"]);
    expect(deno).toBe(
      'DENO_NO_UPDATE_CHECK=1 "$HOME"/.lifeboat/runtime/deno run --allow-read --allow-write --allow-net --allow-env --allow-run --allow-sys --no-prompt --no-remote --no-npm --no-config --no-lock --quiet "$HOME"/.lifeboat/agent.mjs run --dir "$HOME"/.lifeboat --attached',
    );
    expect(deno).not.toContain("--allow-all");
    expect(deno).not.toContain("--allow-ffi");
    expect(agentCommand({ command: "/usr/bin/node", kind: "node" }, "/srv/lb", ["run"])).toBe("/usr/bin/node /srv/lb/agent.mjs run");
  });
});
