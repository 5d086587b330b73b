// The Node platform as a host's agent meets it: a non-root SSH session's PATH lacks the sbin
// directories where Debian installs service tools (nginx), and the agent finds them anyway.
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { describe, expect, it } from "vitest";

const current = path.join(__dirname, "current.ts");

describe("node platform", () => {
  it("finds and runs a tool in /usr/sbin when PATH holds only /usr/bin and /bin", () => {
    const program = `const { currentPlatform } = await import(${JSON.stringify(current)});
const p = currentPlatform();
const found = await p.which("nginx");
const run = await p.run("nginx", ["-v"]);
console.log(JSON.stringify({ found, code: run.code, stderr: run.stderr.trim() }));`;
    const out = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", program], { env: { PATH: "/usr/bin:/bin", HOME: process.env.HOME ?? "/root" }, encoding: "utf8" });
    expect(out.status, out.stderr).toBe(0);
    expect(JSON.parse(out.stdout)).toEqual({ found: "/usr/sbin/nginx", code: 0, stderr: expect.stringMatching(/^nginx version: nginx\//) });
  });
});
