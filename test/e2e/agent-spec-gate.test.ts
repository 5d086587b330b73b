// The agent's gate, through its real entry point (the built one-file bundle):
// only signed, host-bound, fresh, unreplayed, well-formed specs run.
import { spawnSync } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { BackupJob, SignedSpec } from "../../core/spec";
import { freshness, signSpec } from "../../controller/jobs/sign-spec";
import { agentArgv } from "../harness/test-runtime";

const agent = fileURLToPath(new URL("../../dist/agent.mjs", import.meta.url));

function rawPublicKey(key: crypto.KeyObject): string {
  const der = crypto.createPublicKey(key).export({ format: "der", type: "spki" });
  return der.subarray(der.length - 32).toString("base64");
}

describe("the agent refuses specs it must not run", () => {
  let dir: string;
  let agentDir: string;
  let store: string;
  let data: string;
  const controllerKey = crypto.generateKeyPairSync("ed25519").privateKey;
  const otherKey = crypto.generateKeyPairSync("ed25519").privateKey;

  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "lifeboat-gate-"));
    agentDir = path.join(dir, "agent");
    store = path.join(dir, "store");
    data = path.join(dir, "data");
    fs.mkdirSync(agentDir);
    fs.mkdirSync(store);
    fs.mkdirSync(data);
    fs.writeFileSync(path.join(data, "a.txt"), "hello\n");
    fs.writeFileSync(path.join(agentDir, "pinned.json"), JSON.stringify({ host: "alpha", controllerKey: rawPublicKey(controllerKey) }));
  });

  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  function spec(overrides: Partial<BackupJob> = {}): BackupJob {
    return {
      version: 1,
      kind: "backup",
      host: "alpha",
      jobId: `job-${crypto.randomBytes(4).toString("hex")}`,
      ...freshness(),
      snapshotId: `20261124T000000Z-${crypto.randomBytes(2).toString("hex")}`,
      destination: { type: "local", path: store },
      plugins: [{ instance: "files", plugin: "files", config: { paths: [data] } }],
      recipients: ["age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"],
      ...overrides,
    };
  }

  function runAgent(input: string) {
    const launch = agentArgv(agent, ["run", "--dir", agentDir]); // node, or deno with LIFEBOAT_TEST_RUNTIME=deno
    const result = spawnSync(launch.command, launch.args, { input, encoding: "utf8", env: { ...process.env, ...launch.env } });
    return { code: result.status, stdout: result.stdout, stderr: result.stderr };
  }

  const journal = () => (fs.existsSync(path.join(agentDir, "nonces")) ? fs.readdirSync(path.join(agentDir, "nonces")).length : 0);
  const stored = () => fs.readdirSync(store, { recursive: true }).length;

  function expectRefused(input: string, message: RegExp) {
    const journalBefore = journal();
    const storedBefore = stored();
    const result = runAgent(input);
    expect(result.code).toBe(3);
    expect(result.stderr).toMatch(message);
    const event = JSON.parse(result.stdout.trim().split("\n")[0]!) as { type: string; code: string };
    expect(event).toMatchObject({ type: "error", code: "SPEC_REJECTED" });
    expect(journal()).toBe(journalBefore);
    expect(stored()).toBe(storedBefore);
  }

  it("refuses an unsigned spec", () => {
    const signed = signSpec(spec(), controllerKey);
    expectRefused(JSON.stringify({ ...signed, signature: undefined }), /unsigned/);
  });

  it("refuses a spec signed by another key", () => {
    expectRefused(JSON.stringify(signSpec(spec(), otherKey)), /signature does not verify/);
  });

  it("refuses a spec modified after signing", () => {
    const signed: SignedSpec = signSpec(spec(), controllerKey);
    const tampered = { ...signed, spec: { ...signed.spec, destination: { type: "local", path: "/tmp/elsewhere" } } };
    expectRefused(JSON.stringify(tampered), /signature does not verify/);
  });

  it("refuses a spec for another host", () => {
    expectRefused(JSON.stringify(signSpec(spec({ host: "beta" }), controllerKey)), /for host "beta", but this is "alpha"/);
  });

  it("refuses an expired spec", () => {
    const past = new Date(Date.now() - 60 * 60 * 1000);
    expectRefused(JSON.stringify(signSpec(spec(freshness(past, 10 * 60 * 1000)), controllerKey)), /expired/);
  });

  it("refuses a spec that fails the schema", () => {
    expectRefused(JSON.stringify(signSpec({ ...spec(), plugins: "files" } as unknown as BackupJob, controllerKey)), /spec\.plugins/);
  });

  it("refuses a verify spec that asks to write somewhere (verify only ever uses scratch space)", () => {
    const verify = { ...spec(), kind: "verify", sourceHost: "alpha", identity: "AGE-SECRET-KEY-1X", artifacts: [{ plugin: "files", instance: "files", name: "files.tar", key: "k", plainSize: 1, storedSize: 1, sha256: "0".repeat(64), compression: "none", metadata: {} }], manifest: { key: "k", sha256: "0".repeat(64), size: 1 }, into: "/srv" };
    delete (verify as Partial<BackupJob>).recipients;
    expectRefused(JSON.stringify(signSpec(verify as unknown as BackupJob, controllerKey)), /spec\.into: unknown field/);
  });

  it("refuses a prune spec that names anything but objects and whole snapshot folders", () => {
    const prune = (fields: { keys?: string[]; prefixes?: string[] }) => {
      const { recipients: _r, ...base } = spec();
      return JSON.stringify(signSpec({ ...base, kind: "prune", plugins: [], keys: [], prefixes: [], ...fields } as unknown as BackupJob, controllerKey));
    };
    expectRefused(prune({ prefixes: [""] }), /spec\.prefixes\[0\]/);
    expectRefused(prune({ prefixes: ["alpha/"] }), /spec\.prefixes\[0\]: not a snapshot folder/);
    expectRefused(prune({ prefixes: ["blobs/v2/"] }), /spec\.prefixes\[0\]: not a snapshot folder/);
    expectRefused(prune({ prefixes: ["alpha/../"] }), /spec\.prefixes\[0\]: not a snapshot folder/);
    expectRefused(prune({ keys: ["../outside.age"] }), /spec\.keys\[0\]: not an object key/);
    expectRefused(prune({ keys: ["/etc/passwd"] }), /spec\.keys\[0\]: not an object key/);
  });

  it("refuses a prune spec that names another host's objects, chunks or folders, or anything in its chunk area but chunk objects", () => {
    const prune = (fields: { keys?: string[]; prefixes?: string[] }) => {
      const { recipients: _r, ...base } = spec();
      return JSON.stringify(signSpec({ ...base, kind: "prune", plugins: [], keys: [], prefixes: [], ...fields } as unknown as BackupJob, controllerKey));
    };
    const name = "3f".repeat(32);
    expectRefused(prune({ keys: [`beta/chunks/3f/${name}.age`] }), /spec\.keys\[0\]: not an object of host "alpha"/);
    expectRefused(prune({ keys: ["beta/20261124T000000Z-0001/manifest.json.age"] }), /spec\.keys\[0\]: not an object of host "alpha"/);
    expectRefused(prune({ keys: [`blobs/v2/${name}.age`] }), /spec\.keys\[0\]: not an object of host "alpha"/);
    expectRefused(prune({ keys: [`alpha/chunks/3f/${name}.age`, `alpha/chunks/00/${name}.age`] }), /spec\.keys\[1\]: not a chunk object of host "alpha"/);
    expectRefused(prune({ keys: ["alpha/chunks/3f/not-a-name.age"] }), /spec\.keys\[0\]: not a chunk object/);
    expectRefused(prune({ prefixes: ["alpha/chunks/"] }), /spec\.prefixes\[0\]: not a snapshot folder of host "alpha"/);
    expectRefused(prune({ prefixes: ["beta/20261124T000000Z-0001/"] }), /spec\.prefixes\[0\]: not a snapshot folder of host "alpha"/);
  });

  it("runs a prune spec that names the host's own chunks (keyed and a snapshot's own name) and snapshot objects, deleting exactly those", () => {
    const name = "3f".repeat(32);
    const keys = [`alpha/chunks/3f/${name}.age`, `alpha/chunks/3f/${name}.20261124T000000Z-0001.age`, "alpha/20261124T000000Z-0001/files/files.tar.age"];
    const kept = `alpha/chunks/3f/${"3e".repeat(32)}.age`;
    for (const key of [...keys, kept]) {
      fs.mkdirSync(path.dirname(path.join(store, key)), { recursive: true });
      fs.writeFileSync(path.join(store, key), "x");
    }
    const { recipients: _r, ...base } = spec();
    const result = runAgent(JSON.stringify(signSpec({ ...base, kind: "prune", plugins: [], keys, prefixes: [] } as unknown as BackupJob, controllerKey)));
    expect(result.code, result.stderr).toBe(0);
    for (const key of keys) expect(fs.existsSync(path.join(store, key))).toBe(false);
    expect(fs.existsSync(path.join(store, kept))).toBe(true);
    fs.rmSync(path.join(store, "alpha"), { recursive: true });
  });

  it("refuses input that is not a spec at all", () => {
    expectRefused("hello", /not JSON/);
  });

  it("runs a good spec once and refuses it when replayed", () => {
    const input = JSON.stringify(signSpec(spec(), controllerKey));
    const first = runAgent(input);
    expect(first.code, first.stderr).toBe(0);
    const done = JSON.parse(first.stdout.trim().split("\n").at(-1)!) as { type: string; status: string };
    expect(done).toMatchObject({ type: "done", status: "ok" });
    expectRefused(input, /nonce was already used/);
  });
});
