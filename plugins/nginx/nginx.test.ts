// The nginx plugin with the real nginx binary: restores are tested with nginx -t before the swap.
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { dockerStandIn } from "../../test/harness/docker-standin";
import { listTree } from "../../test/harness/tree";
import { collect, pluginContext, restoreInput, type TestContext } from "../../test/plugin-context";
import { nginxPlugin } from "./nginx";

describe("nginx plugin", () => {
  let dir: string;
  let root: string;
  let ctx: TestContext;

  beforeEach(() => {
    if (!fs.existsSync("/usr/sbin/nginx")) throw new Error("nginx is missing: apt-get install nginx (scripts/setup.sh does)");
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "lifeboat-nginx-"));
    root = path.join(dir, "etc-nginx");
    // A copy of Debian's own configuration tree, with its absolute includes and its absolute
    // links (sites-enabled/default -> /etc/nginx/sites-available/default) pointed at the copy.
    execFileSync("cp", ["-a", "/etc/nginx", root]);
    for (const file of execFileSync("grep", ["-rl", "/etc/nginx", root], { encoding: "utf8" }).split("\n").filter(Boolean)) {
      fs.writeFileSync(file, fs.readFileSync(file, "utf8").split("/etc/nginx").join(root));
    }
    for (const link of execFileSync("find", [root, "-type", "l"], { encoding: "utf8" }).split("\n").filter(Boolean)) {
      const target = fs.readlinkSync(link);
      if (target.startsWith("/etc/nginx/")) {
        fs.rmSync(link);
        fs.symlinkSync(`${root}${target.slice("/etc/nginx".length)}`, link);
      }
    }
    expect(fs.readlinkSync(path.join(root, "sites-enabled", "default"))).toBe(path.join(root, "sites-available", "default"));
    fs.writeFileSync(path.join(root, "conf.d", "app.conf"), "server {\n  listen 127.0.0.1:18080;\n  server_name app.example;\n  location / { return 200 'ok'; }\n}\n");
    ctx = pluginContext();
  });
  afterEach(() => {
    ctx.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const config = () => nginxPlugin.parseConfig({ root }, "hosts.h.plugins.nginx");

  async function backup(cfg = config()) {
    await nginxPlugin.check(ctx, cfg);
    for await (const a of nginxPlugin.backup(ctx, cfg)) return { bytes: await collect(a.data), metadata: a.metadata(), name: a.name };
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

  it("tests the staged copy of Debian's sites-enabled/default, not the live file its absolute link names", async () => {
    const site = path.join(root, "sites-available", "default");
    const good = fs.readFileSync(site, "utf8");
    const { bytes, metadata } = await backup();
    fs.writeFileSync(site, "server { this is not nginx; }\n");
    await nginxPlugin.restore(ctx, config(), [restoreInput(bytes, metadata)], {});
    expect(fs.readFileSync(site, "utf8")).toBe(good);
    expect(fs.readlinkSync(path.join(root, "sites-enabled", "default"))).toBe(site);
  });

  it("refuses a snapshot whose linked site file is broken, in verify and in restore, although the live one is good", async () => {
    const site = path.join(root, "sites-available", "default");
    const good = fs.readFileSync(site, "utf8");
    fs.writeFileSync(site, "server { listen 127.0.0.1:18084; bogus_site_directive on; }\n");
    const { bytes, metadata } = await backup();
    fs.writeFileSync(site, good);
    const before = listTree(root);
    const failure = { code: "RESTORE", message: expect.stringMatching(/nginx -t failed: .*bogus_site_directive/) };
    await expect(nginxPlugin.verify(ctx, config(), [restoreInput(bytes, metadata)], path.join(dir, "scratch"))).rejects.toMatchObject(failure);
    await expect(nginxPlugin.restore(ctx, config(), [restoreInput(bytes, metadata)], {})).rejects.toMatchObject(failure);
    expect(listTree(root)).toEqual(before);
  });

  it("reports the links that lead out of the configuration tree", async () => {
    const shared = path.join(dir, "shared.conf");
    fs.writeFileSync(shared, "# shared across sites\n");
    fs.symlinkSync(shared, path.join(root, "conf.d", "shared.conf"));
    fs.symlinkSync("../../shared.conf", path.join(root, "conf.d", "relative-shared.conf"));
    const { bytes, metadata } = await backup();
    const report = await nginxPlugin.verify(ctx, config(), [restoreInput(bytes, metadata)], path.join(dir, "scratch"));
    expect(report.checks[1]).toBe(`${root}: links leading out of the tree, tested against this host's files: conf.d/relative-shared.conf → ../../shared.conf, conf.d/shared.conf → ${shared}`);
  });

  it("warns when nginx cannot be found, instead of recording an unknown version silently", async () => {
    const { metadata } = await backup(nginxPlugin.parseConfig({ root, nginx: path.join(dir, "no-nginx") }, "x"));
    expect(metadata.nginxVersion).toBe("unknown");
    expect(ctx.warnings).toEqual([expect.stringMatching(/^Cannot read nginx's version: .*no-nginx.*: restores of this configuration cannot be tested with nginx -t/)]);
  });

  it("names a missing configuration directory", async () => {
    await expect(nginxPlugin.check(ctx, nginxPlugin.parseConfig({ root: path.join(dir, "nope") }, "x"))).rejects.toMatchObject({ code: "SOURCE" });
  });

  describe("in a container (stand-in docker: runs locally, no Docker engine here)", () => {
    let standin: ReturnType<typeof dockerStandIn>;
    let hostRoot: string;
    const copyInContainer = () => `/tmp/lifeboat-nginx-${ctx.jobId}`;

    beforeEach(() => {
      standin = dockerStandIn();
      // The container's /etc/nginx as a volume on the host: Debian's tree, its absolute includes left as /etc/nginx/...
      hostRoot = path.join(dir, "web-etc-nginx");
      execFileSync("cp", ["-a", "/etc/nginx", hostRoot]);
      fs.writeFileSync(path.join(hostRoot, "conf.d", "app.conf"), "server {\n  listen 127.0.0.1:18082;\n  server_name app.example;\n  location / { return 200 'ok'; }\n}\n");
    });
    afterEach(() => standin.cleanup());

    const inContainer = () => nginxPlugin.parseConfig({ root: "/etc/nginx", container: "web", docker: standin.docker, containerPaths: { "/etc/nginx": hostRoot } }, "hosts.h.plugins.nginx");

    it("backs up through containerPaths, tests the restore with nginx -t in the container on a docker cp'd copy, and restores in place", async () => {
      const { bytes, metadata } = await backup(inContainer());
      expect(metadata).toMatchObject({ root: "/etc/nginx", paths: ["/etc/nginx"], container: "web", nginxVersion: expect.stringContaining("nginx/") });
      const before = listTree(hostRoot);
      fs.writeFileSync(path.join(hostRoot, "conf.d", "app.conf"), "# emptied\n");
      const report = await nginxPlugin.restore(ctx, inContainer(), [restoreInput(bytes, metadata)], {});
      expect(report.restored).toEqual([hostRoot]);
      expect(listTree(hostRoot)).toEqual(before);
      const copy = copyInContainer();
      expect(standin.calls()).toEqual([
        "web nginx -v",
        `web cp -a ${ctx.scratchDir}/nginx-test ${copy}`,
        `web nginx -t -q -e ${copy}.error.log -c ${copy}/nginx.conf`,
        `web rm -rf ${copy} ${copy}.error.log`,
      ]);
      expect(fs.existsSync(copy)).toBe(false);
    });

    it("verifies a snapshot with nginx -t in the container, restored under scratch relative to the configuration's parent", async () => {
      const { bytes, metadata } = await backup(inContainer());
      const scratch = path.join(dir, "scratch");
      const report = await nginxPlugin.verify(ctx, inContainer(), [restoreInput(bytes, metadata)], scratch);
      expect(report.checks).toEqual(["/etc/nginx: nginx -t passed on the restored configuration"]);
      expect(fs.readFileSync(`${scratch}/nginx/conf.d/app.conf`, "utf8")).toContain("app.example");
      expect(standin.calls().filter((c) => c.startsWith("web nginx -t"))).toHaveLength(1);
    });

    it("refuses a configuration that fails nginx -t in the container, names the file by its container path, and leaves the live one untouched", async () => {
      fs.writeFileSync(path.join(hostRoot, "conf.d", "broken.conf"), "server { listen 127.0.0.1:18083; bogus_directive on; }\n");
      const { bytes, metadata } = await backup(inContainer());
      fs.rmSync(path.join(hostRoot, "conf.d", "broken.conf"));
      const before = listTree(hostRoot);
      await expect(nginxPlugin.restore(ctx, inContainer(), [restoreInput(bytes, metadata)], {})).rejects.toMatchObject({
        code: "RESTORE",
        message: expect.stringMatching(/nginx -t failed: .*bogus_directive.*\/etc\/nginx\/conf\.d\/broken\.conf/),
      });
      expect(listTree(hostRoot)).toEqual(before);
      expect(standin.calls()).toContain(`web rm -rf ${copyInContainer()} ${copyInContainer()}.error.log`);
      expect(fs.existsSync(copyInContainer())).toBe(false);
      expect(fs.readdirSync(dir).sort()).toEqual(["etc-nginx", "web-etc-nginx"]);
    });

    it("names the container path and its host path when the configuration is missing", async () => {
      const missing = nginxPlugin.parseConfig({ root: "/etc/nginx", container: "web", docker: standin.docker, containerPaths: { "/etc/nginx": path.join(dir, "nope") } }, "x");
      await expect(nginxPlugin.check(ctx, missing)).rejects.toMatchObject({
        code: "SOURCE",
        message: `Cannot back up nginx: "/etc/nginx/nginx.conf" of container "web" (on the host "${dir}/nope/nginx.conf") does not exist on this host`,
        hint: expect.stringContaining("containerPaths"),
      });
    });
  });
});
