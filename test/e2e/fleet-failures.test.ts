// What goes wrong in a fleet, through the real CLI: unreachable hosts, unknown host keys, bad inventories.
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp, type AppData } from "../harness/app-data";
import { jsonLines } from "../harness/controller-cli";
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
    const result = await (async () => {
      const { controller } = await import("../harness/controller-cli");
      return controller(["run", "--host", "gamma", "--json"], { ...fleet.env, TEST_S3_SECRET: secret, TEST_S3_KEY: "WRONGKEYID1234" });
    })();
    expect(result.code).toBe(1);
    expect(result.stdout + result.stderr).not.toContain(secret);
    expect(result.stdout + result.stderr).not.toContain("WRONGKEYID1234");
    const ledger = fs.readFileSync(path.join(fleet.state, "ledger.db"));
    expect(ledger.includes(Buffer.from(secret))).toBe(false);
  });
});
