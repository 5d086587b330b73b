// The files plugin: backup → restore round trips, excludes, owners, and restores that never harm the target.
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { writeTar } from "../common/tar/writer";
import type { TarHeader } from "../common/tar/header";
import { listTree } from "../../test/harness/tree";
import { collect, pluginContext, restoreInput, type TestContext } from "../../test/plugin-context";
import { filesPlugin } from "./files";

describe("files plugin", () => {
  let dir: string;
  let data: string;
  let ctx: TestContext;

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "lifeboat-files-"));
    data = path.join(dir, "app");
    fs.mkdirSync(path.join(data, "cache"), { recursive: true });
    fs.mkdirSync(path.join(data, "uploads", "old"), { recursive: true });
    fs.writeFileSync(path.join(data, "uploads", "a.bin"), crypto.randomBytes(200_000));
    fs.writeFileSync(path.join(data, "uploads", "old", "x.tmp"), "tmp");
    fs.writeFileSync(path.join(data, "cache", "c"), "cached");
    fs.writeFileSync(path.join(data, "audit.log"), "log");
    fs.writeFileSync(path.join(data, "owned"), "owned by someone else");
    fs.chownSync(path.join(data, "owned"), 1234, 2345);
    fs.symlinkSync("uploads", path.join(data, "current"));
    ctx = pluginContext();
  });
  afterEach(() => {
    ctx.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const config = (extra: Record<string, unknown> = {}) => filesPlugin.parseConfig({ paths: [data], exclude: ["cache/", "audit.log", "*.tmp"], ...extra }, "hosts.h.plugins.files");

  async function backup(): Promise<{ bytes: Buffer; metadata: Record<string, unknown> }> {
    const cfg = config();
    await filesPlugin.check(ctx, cfg);
    for await (const artifact of filesPlugin.backup(ctx, cfg)) {
      const bytes = await collect(artifact.data);
      return { bytes, metadata: artifact.metadata() };
    }
    throw new Error("no artifact");
  }

  const excluded = (rel: string) => rel.startsWith("cache") || rel === "audit.log" || rel.endsWith(".tmp");

  it("restores under --into exactly what was backed up, minus the excludes, owners included", async () => {
    const { bytes, metadata } = await backup();
    expect(metadata).toMatchObject({ paths: [data], files: 2, symlinks: 1 });
    const into = path.join(dir, "restored");
    const report = await filesPlugin.restore(ctx, config(), [restoreInput(bytes, metadata)], { into });
    // Relative to the instance's root (the folder above its one path).
    expect(report.restored).toEqual([`${into}/app`]);
    expect(listTree(`${into}/app`)).toEqual(listTree(data, excluded));
    const owned = fs.statSync(`${into}/app/owned`);
    expect([owned.uid, owned.gid]).toEqual([1234, 2345]);
  });

  it("restores in place: changed files come back, files created later disappear, excluded files stay", async () => {
    const { bytes, metadata } = await backup();
    const before = listTree(data);
    fs.writeFileSync(path.join(data, "uploads", "a.bin"), "changed");
    fs.writeFileSync(path.join(data, "later.txt"), "new");
    await filesPlugin.restore(ctx, config(), [restoreInput(bytes, metadata)], {});
    expect(listTree(data)).toEqual(before);
    expect(fs.readdirSync(dir)).toEqual(["app"]);
  });

  it("leaves the target untouched and no staging behind when the input fails at its very end", async () => {
    const { bytes, metadata } = await backup();
    fs.writeFileSync(path.join(data, "later.txt"), "new");
    const before = listTree(data);
    await expect(filesPlugin.restore(ctx, config(), [restoreInput(bytes, metadata, true)], {})).rejects.toMatchObject({ code: "INTEGRITY" });
    expect(listTree(data)).toEqual(before);
    expect(fs.readdirSync(dir)).toEqual(["app"]);
  });

  async function maliciousArchive(entries: { header: Partial<TarHeader> & { name: string }; content?: string }[]): Promise<Buffer> {
    const files = entries.map((e, i) => {
      let source: string | undefined;
      if (e.content !== undefined) {
        source = path.join(dir, `payload-${i}`);
        fs.writeFileSync(source, e.content);
      }
      const header: TarHeader = { type: "file", mode: 0o644, uid: 0, gid: 0, size: e.content?.length ?? 0, mtime: 0, linkname: "", ...e.header };
      return { header, source };
    });
    return collect(writeTar(ctx.platform, files));
  }

  for (const [name, entries] of [
    ["an entry with ..", [{ header: { name: "APP/../escaped.txt" }, content: "x" }]],
    ["an absolute entry", [{ header: { name: "/etc/escaped.txt" }, content: "x" }]],
    ["an entry outside the configured paths", [{ header: { name: "tmp/elsewhere.txt" }, content: "x" }]],
    [
      "a write through a symlink the archive created",
      [
        { header: { name: "APP", type: "directory" } },
        { header: { name: "APP/link", type: "symlink", linkname: "/tmp" } },
        { header: { name: "APP/link/escaped.txt" }, content: "x" },
      ],
    ],
  ] as const) {
    it(`refuses ${name} and writes nothing`, async () => {
      const archive = await maliciousArchive(entries.map((e) => ({ ...e, header: { ...e.header, name: e.header.name.replace("APP", data.slice(1)) } })));
      const into = path.join(dir, "restored");
      fs.mkdirSync(into);
      const before = listTree(dir);
      await expect(filesPlugin.restore(ctx, config(), [restoreInput(archive, { paths: [data] })], { into })).rejects.toMatchObject({ code: "RESTORE" });
      expect(listTree(dir)).toEqual(before);
      expect(fs.existsSync("/tmp/escaped.txt")).toBe(false);
    });
  }

  it("names the field in configuration errors", () => {
    expect(() => filesPlugin.parseConfig({ paths: ["/ok", "relative"] }, "hosts.web.plugins.files")).toThrow('hosts.web.plugins.files.paths[1]: must be an absolute path, got "relative"');
    expect(() => filesPlugin.parseConfig({ paths: ["/"] }, "hosts.web.plugins.files")).toThrow('hosts.web.plugins.files.paths[0]: cannot be "/" itself');
    expect(() => filesPlugin.parseConfig({ paths: ["/ok"], exlude: [] }, "hosts.web.plugins.files")).toThrow("hosts.web.plugins.files.exlude: unknown field");
    expect(() => filesPlugin.parseConfig({}, "hosts.web.plugins.files")).toThrow("hosts.web.plugins.files.paths");
  });

  it("refuses a path that does not exist, naming it", async () => {
    await expect(filesPlugin.check(ctx, filesPlugin.parseConfig({ paths: [`${data}/missing`] }, "x"))).rejects.toMatchObject({ code: "SOURCE", message: expect.stringContaining(`${data}/missing`) });
  });

  it("restores in place only the paths this host's configuration covers, whatever the manifest says (--into takes them as recorded)", async () => {
    const { bytes, metadata } = await backup();
    const elsewhere = path.join(dir, "elsewhere");
    fs.mkdirSync(elsewhere);
    fs.writeFileSync(path.join(elsewhere, "keep"), "mine");
    const forged = { ...metadata, paths: [elsewhere] };
    await expect(filesPlugin.restore(ctx, config(), [restoreInput(bytes, forged)], {})).rejects.toMatchObject({
      code: "RESTORE",
      message: `Refusing to restore "${elsewhere}" of "test" in place: this host's configuration of the plugin does not include it`,
    });
    expect(fs.readFileSync(path.join(elsewhere, "keep"), "utf8")).toBe("mine");
  });
});
