// The agent bundle under Deno with exactly the permissions the controller gives it (DENO_RUN_FLAGS,
// not --allow-all): a chunked backup on two chunk worker threads, a hook that runs programs, the
// sqlite3 tool, and the real Deno version in its events. Run directly, as the controller's SSH
// command would run it, whatever LIFEBOAT_TEST_RUNTIME says.
import { execFileSync, spawnSync } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { BackupJob } from "../../core/spec";
import { freshness, signSpec } from "../../controller/jobs/sign-spec";
import { DENO_RUN_FLAGS } from "../../controller/ssh/remote-shell";
import { npmDenoBinary } from "../harness/test-runtime";

const agent = fileURLToPath(new URL("../../dist/agent.mjs", import.meta.url));
const deno = npmDenoBinary();
const denoVersion = (JSON.parse(fs.readFileSync(path.join(path.dirname(deno), "package.json"), "utf8")) as { version: string }).version;

function rawPublicKey(key: crypto.KeyObject): string {
  const der = crypto.createPublicKey(key).export({ format: "der", type: "spki" });
  return der.subarray(der.length - 32).toString("base64");
}

describe("the agent under Deno with its explicit permissions", () => {
  let dir: string;
  const key = crypto.generateKeyPairSync("ed25519").privateKey;

  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "lifeboat-deno-agent-"));
    for (const sub of ["agent", "store", "data"]) fs.mkdirSync(path.join(dir, sub));
    fs.writeFileSync(path.join(dir, "data", "big.bin"), crypto.randomBytes(3 * 1024 * 1024));
    fs.writeFileSync(path.join(dir, "data", "notes.txt"), "notes\n".repeat(1000));
    execFileSync("sqlite3", [path.join(dir, "app.db"), "CREATE TABLE t(x); INSERT INTO t VALUES (1), (2), (3);"]);
    fs.writeFileSync(path.join(dir, "agent", "pinned.json"), JSON.stringify({ host: "alpha", controllerKey: rawPublicKey(key) }));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("runs a chunked backup on 2 worker threads, a hook and sqlite3, and says deno <version>", () => {
    const spec: BackupJob = {
      version: 1,
      kind: "backup",
      host: "alpha",
      jobId: `job-${crypto.randomBytes(4).toString("hex")}`,
      ...freshness(),
      snapshotId: `20261124T000000Z-${crypto.randomBytes(2).toString("hex")}`,
      destination: { type: "local", path: path.join(dir, "store") },
      plugins: [
        { instance: "files", plugin: "files", config: { paths: [path.join(dir, "data")], hooks: { before: `id -un > ${path.join(dir, "hook-ran")}` } } },
        { instance: "db", plugin: "sqlite", config: { databases: [path.join(dir, "app.db")] } },
      ],
      recipients: ["age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"],
      chunking: { key: crypto.randomBytes(32).toString("base64"), parents: {}, exclude: [], rehash: false },
    };
    const result = spawnSync(deno, ["run", ...DENO_RUN_FLAGS, agent, "run", "--dir", path.join(dir, "agent")], {
      input: JSON.stringify(signSpec(spec, key)),
      encoding: "utf8",
      env: { ...process.env, LIFEBOAT_AGENT_WORKERS: "2", DENO_NO_UPDATE_CHECK: "1" },
    });
    expect(result.status, result.stderr).toBe(0);
    const events = result.stdout.trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(events[0]).toMatchObject({ type: "start", runtime: `deno ${denoVersion}` });
    expect(events.at(-1)).toMatchObject({ type: "done", status: "ok" });
    expect(events.filter((e) => e.type === "artifact").map((e) => [e.instance, e.compression])).toEqual([
      ["files", "chunked"],
      ["db", expect.any(String)],
    ]);
    expect(result.stderr).toContain("on 2 worker thread(s)");
    expect(result.stderr).not.toContain("worker threads failed");
    expect(fs.readFileSync(path.join(dir, "hook-ran"), "utf8").trim()).toBe(os.userInfo().username);
  });

  it("the version command reports Deno's own version, not its Node compatibility version", () => {
    const out = execFileSync(deno, ["run", ...DENO_RUN_FLAGS, agent, "version"], { encoding: "utf8", env: { ...process.env, DENO_NO_UPDATE_CHECK: "1" } });
    expect(JSON.parse(out)).toMatchObject({ runtime: "deno", runtimeVersion: denoVersion });
  });
});
