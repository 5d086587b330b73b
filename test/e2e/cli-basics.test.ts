// The built programs as a user first meets them: versions, global options before or after the
// command, and the agent bundle running from a directory that holds nothing else.
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { controller } from "../harness/controller-cli";

const root = path.resolve(__dirname, "../..");
const version = (JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8")) as { version: string }).version;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "lifeboat-cli-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe("controller command line", () => {
  it("prints the release version with --version, and as JSON", async () => {
    const plain = await controller(["--version"]);
    expect(plain).toMatchObject({ code: 0, stdout: `lifeboat ${version}\n` });
    const json = await controller(["version", "--json"]);
    expect(JSON.parse(json.stdout)).toMatchObject({ type: "version", version });
  });

  it("takes global options before the command as well as after it", async () => {
    const before = await controller(["--state", path.join(tmp, "before"), "--json", "init"]);
    expect(before.code).toBe(0);
    expect(JSON.parse(before.stdout)).toMatchObject({ type: "init", stateDir: path.join(tmp, "before") });
    expect(fs.existsSync(path.join(tmp, "before", "signing-key.pem"))).toBe(true);
    const after = await controller(["init", `--state=${path.join(tmp, "after")}`]);
    expect(after.code).toBe(0);
    expect(fs.existsSync(path.join(tmp, "after", "age-identity.txt"))).toBe(true);
  });

  it("refuses a command option before the command, and a global option without its value, with exit code 2", async () => {
    const misplaced = await controller(["--host", "web", "run"]);
    expect(misplaced.code).toBe(2);
    expect(misplaced.stderr).toContain('"--host" before the command is not a global option');
    const valueless = await controller(["--state"]);
    expect(valueless.code).toBe(2);
    expect(valueless.stderr).toContain("--state needs a value");
  });
});

describe("agent bundle", () => {
  it("runs from a directory with nothing beside it and reports the release version", () => {
    const lonely = path.join(tmp, "lonely");
    fs.mkdirSync(lonely);
    fs.copyFileSync(path.join(root, "dist", "agent.mjs"), path.join(lonely, "agent.mjs"));
    const out = JSON.parse(execFileSync(process.execPath, [path.join(lonely, "agent.mjs"), "version"], { cwd: lonely, encoding: "utf8" })) as Record<string, unknown>;
    expect(out).toMatchObject({ version, runtime: "node" });
  });
});
