// Swaps that are all-or-nothing, on real file systems (tmpfs mounts; the tests run as root):
// a two-path instance whose second swap fails, a target that is a mount point, a disk too small.
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { explainSystemError } from "../../core/system-errors";
import { listTree } from "../../test/harness/tree";
import { collect, pluginContext, restoreInput, type TestContext } from "../../test/plugin-context";
import { filesPlugin } from "../files/files";
import { restoreTrees } from "./tree-restore";

describe("restoring trees onto real file systems", () => {
  let dir: string;
  let ctx: TestContext;
  const mounts: string[] = [];
  const mount = (at: string, options = "size=64m") => {
    fs.mkdirSync(at, { recursive: true });
    execFileSync("mount", ["-t", "tmpfs", "-o", options, "tmpfs", at]);
    mounts.push(at);
  };

  beforeEach(() => {
    if (process.getuid?.() !== 0) throw new Error("these tests mount tmpfs file systems: run them as root (CI does)");
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "lifeboat-swaps-"));
    ctx = pluginContext();
  });
  afterEach(() => {
    for (const at of mounts.reverse()) execFileSync("umount", ["-l", at]);
    mounts.length = 0;
    ctx.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function backup(paths: string[]) {
    const config = filesPlugin.parseConfig({ paths }, "files");
    for await (const a of filesPlugin.backup(ctx, config)) return { config, bytes: await collect(a.data), metadata: a.metadata() };
    throw new Error("no artifact");
  }

  it("changes nothing when the second path of an instance cannot be swapped in, and says so", async () => {
    const one = path.join(dir, "one");
    const ro = path.join(dir, "ro");
    mount(ro);
    const two = path.join(ro, "two");
    for (const p of [one, two]) {
      fs.mkdirSync(p);
      fs.writeFileSync(path.join(p, "f"), `backed up ${p}`);
    }
    const { bytes, metadata } = await backup([one, two]);
    for (const p of [one, two]) fs.writeFileSync(path.join(p, "f"), `edited after the backup ${p}`);
    const before = { one: listTree(one), two: listTree(two) };
    const trees = [one, two].map((p) => ({ path: p, host: p }));
    // Between staging and the swaps, the second path's file system turns read-only.
    const failure = restoreTrees(ctx, trees, [restoreInput(bytes, metadata)], {}, async () => void execFileSync("mount", ["-o", "remount,ro", ro]));
    await expect(failure).rejects.toMatchObject({ code: "RESTORE", message: expect.stringMatching(new RegExp(`Cannot rename "${two}".*read-only; nothing was changed \\("${one}" put back\\)`)) });
    execFileSync("mount", ["-o", "remount,rw", ro]);
    expect({ one: listTree(one), two: listTree(two) }).toEqual(before);
    expect(fs.readdirSync(dir).filter((n) => n.includes("lifeboat"))).toEqual([]);
  });

  it("restores a mount point in place by swapping its contents, and it stays a mount point, with its recorded mode and time", async () => {
    const data = path.join(dir, "data");
    mount(data);
    fs.mkdirSync(path.join(data, "sub"));
    fs.writeFileSync(path.join(data, "sub", "a"), "backed up");
    const time = new Date("2021-01-02T03:04:05Z");
    fs.chmodSync(data, 0o751);
    fs.utimesSync(data, time, time);
    const { config, bytes, metadata } = await backup([data]);
    const backedUp = listTree(data);
    fs.writeFileSync(path.join(data, "sub", "a"), "edited");
    fs.writeFileSync(path.join(data, "new"), "new since");
    fs.chmodSync(data, 0o777);
    await filesPlugin.restore(ctx, config, [restoreInput(bytes, metadata)], {});
    expect(listTree(data)).toEqual(backedUp);
    expect(fs.statSync(data).dev).not.toBe(fs.statSync(dir).dev);
    expect([fs.statSync(data).mode & 0o7777, Math.floor(fs.statSync(data).mtimeMs / 1000)]).toEqual([0o751, time.getTime() / 1000]);
  });

  it("restores --path files inside a volume mounted in the tree, and puts every file back when one cannot be placed", async () => {
    const data = path.join(dir, "data");
    const volume = path.join(data, "volume");
    fs.mkdirSync(data);
    mount(volume);
    fs.writeFileSync(path.join(data, "a"), "a backed up");
    fs.writeFileSync(path.join(volume, "b"), "b backed up");
    const { config, bytes, metadata } = await backup([data]);
    const paths = [path.join(data, "a"), path.join(volume, "b")];
    const edit = (text: string) => paths.forEach((p) => fs.writeFileSync(p, text));
    edit("edited");
    // Across the mount: staged beside the tree, copied next to the file in the volume, renamed there.
    await filesPlugin.restore(ctx, config, [restoreInput(bytes, metadata)], { paths });
    expect(paths.map((p) => fs.readFileSync(p, "utf8"))).toEqual(["a backed up", "b backed up"]);
    edit("edited again");
    const inode = fs.statSync(paths[0]!).ino;
    execFileSync("mount", ["-o", "remount,ro", volume]);
    await expect(filesPlugin.restore(ctx, config, [restoreInput(bytes, metadata)], { paths })).rejects.toMatchObject({ code: "RESTORE", message: expect.stringContaining("read-only; nothing was changed") });
    execFileSync("mount", ["-o", "remount,rw", volume]);
    expect(paths.map((p) => fs.readFileSync(p, "utf8"))).toEqual(["edited again", "edited again"]);
    expect(fs.statSync(paths[0]!).ino).toBe(inode);
    expect([...fs.readdirSync(dir), ...fs.readdirSync(data), ...fs.readdirSync(volume)].filter((n) => n.includes("lifeboat"))).toEqual([]);
  });

  it("refuses before writing anything when the staged copy cannot fit, naming the space it needs", async () => {
    const parent = path.join(dir, "small");
    const data = path.join(parent, "data");
    fs.mkdirSync(data, { recursive: true });
    fs.writeFileSync(path.join(data, "big"), Buffer.alloc(5 * 1024 * 1024, 7));
    const { config, bytes, metadata } = await backup([data]);
    mount(parent, "size=2m");
    fs.mkdirSync(data);
    fs.writeFileSync(path.join(data, "small"), "live");
    const input = restoreInput(bytes, metadata);
    await expect(filesPlugin.restore(ctx, config, [input], {})).rejects.toMatchObject({
      code: "RESTORE",
      message: expect.stringMatching(new RegExp(`Cannot restore "${data}": its staged copy needs about 5\\.\\d MiB beside it, and that file system has [0-2]\\.\\d MiB free`)),
    });
    expect(fs.readdirSync(parent)).toEqual(["data"]);
    expect(fs.readFileSync(path.join(data, "small"), "utf8")).toBe("live");
    // When the size is not known beforehand, the full disk is named with the path and the fix.
    const unknownSize = { ...input, record: { ...input.record, plainSize: 0 } };
    const err = await filesPlugin.restore(ctx, config, [unknownSize], {}).catch((e: unknown) => e);
    expect(explainSystemError(err)).toMatchObject({ message: expect.stringMatching(/^Cannot \w+ ".*": no space left on the device$/), hint: expect.stringContaining("free space") });
    expect(fs.readdirSync(parent)).toEqual(["data"]);
    expect(fs.readFileSync(path.join(data, "small"), "utf8")).toBe("live");
  });
});
