// The nginx plugin with the real nginx binary: restores are tested with nginx -t before the swap.
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { listTree } from "../test/harness/tree";
import { collect, pluginContext, restoreInput, type TestContext } from "../test/plugin-context";
import { nginxPlugin } from "./nginx";

describe("nginx plugin", () => {
  let dir: string;
  let root: string;
  let ctx: TestContext;

  beforeEach(() => {
    if (!fs.existsSync("/usr/sbin/nginx")) throw new Error("nginx is missing: apt-get install nginx (scripts/setup.sh does)");
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "lifeboat-nginx-"));
    root = path.join(dir, "etc-nginx");
    // A copy of Debian's own configuration tree, with its absolute includes pointed at the copy.
    execFileSync("cp", ["-a", "/etc/nginx", root]);
    for (const file of execFileSync("grep", ["-rl", "/etc/nginx", root], { encoding: "utf8" }).split("\n").filter(Boolean)) {
      fs.writeFileSync(file, fs.readFileSync(file, "utf8").split("/etc/nginx").join(root));
    }
    fs.writeFileSync(path.join(root, "conf.d", "app.conf"), "server {\n  listen 127.0.0.1:18080;\n  server_name app.example;\n  location / { return 200 'ok'; }\n}\n");
    ctx = pluginContext();
  });
  afterEach(() => {
    ctx.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const config = () => nginxPlugin.parseConfig({ root }, "hosts.h.plugins.nginx");

  async function backup() {
    await nginxPlugin.check(ctx, config());
    for await (const a of nginxPlugin.backup(ctx, config())) return { bytes: await collect(a.data), metadata: a.metadata(), name: a.name };
    throw new Error("no artifact");
  }

  it("restores a configuration that passes nginx -t, in place", async () => {
    const { bytes, metadata, name } = await backup();
    expect(name).toBe("nginx.tar");
    const before = listTree(root);
    fs.writeFileSync(path.join(root, "conf.d", "app.conf"), "# emptied\n");
    const report = await nginxPlugin.restore(ctx, config(), [restoreInput(bytes, metadata)], {});
    expect(report.details).toMatchObject({ reloaded: false });
    expect(listTree(root)).toEqual(before);
  });

  it("refuses to swap in a configuration that fails nginx -t, and leaves the live one untouched", async () => {
    fs.writeFileSync(path.join(root, "conf.d", "broken.conf"), "server { listen 127.0.0.1:18081; bogus_directive on; }\n");
    const { bytes, metadata } = await backup();
    fs.rmSync(path.join(root, "conf.d", "broken.conf"));
    const before = listTree(root);
    await expect(nginxPlugin.restore(ctx, config(), [restoreInput(bytes, metadata)], {})).rejects.toMatchObject({
      code: "RESTORE",
      message: expect.stringMatching(/nginx -t failed: .*bogus_directive/),
    });
    expect(listTree(root)).toEqual(before);
    expect(fs.readdirSync(dir).sort()).toEqual(["etc-nginx"]);
  });

  it("names a missing configuration directory", async () => {
    await expect(nginxPlugin.check(ctx, nginxPlugin.parseConfig({ root: path.join(dir, "nope") }, "x"))).rejects.toMatchObject({ code: "SOURCE" });
  });
});
