// What a tree restore gives back, as root: owners by name (the target's id for that name, the
// recorded id when the name is unknown there), modes and times of files, folders and the top.
// Real accounts (useradd), removed by each test.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { addUser, type TestUser } from "../../test/harness/accounts";
import { collect, pluginContext, restoreInput, type TestContext } from "../../test/plugin-context";
import { filesPlugin } from "../files/files";

describe("tree restores are faithful", () => {
  let dir: string;
  let data: string;
  let ctx: TestContext;
  const users: TestUser[] = [];

  beforeEach(() => {
    if (process.getuid?.() !== 0) throw new Error("these tests restore owners: run them as root (CI does)");
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "lifeboat-faithful-"));
    data = path.join(dir, "data");
    ctx = pluginContext();
  });
  afterEach(() => {
    for (const user of users.splice(0)) user.remove();
    ctx.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const user = (...args: Parameters<typeof addUser>) => {
    const made = addUser(...args);
    users.push(made);
    return made;
  };
  const config = (exclude: string[] = []) => filesPlugin.parseConfig({ paths: [data], exclude }, "hosts.h.plugins.files");

  /** Backs up in a job of its own: a restore is another job, which reads the accounts afresh. */
  async function backup(exclude: string[] = []) {
    const job = pluginContext();
    try {
      for await (const a of filesPlugin.backup(job, config(exclude))) return restoreInput(await collect(a.data), a.metadata());
    } finally {
      job.cleanup();
    }
    throw new Error("no artifact");
  }

  /** A tree owned by `owner`: a folder, a file in it, a symlink. */
  function ownedTree(owner: TestUser) {
    fs.mkdirSync(path.join(data, "sub"), { recursive: true });
    fs.writeFileSync(path.join(data, "sub", "notes.txt"), "notes");
    fs.symlinkSync("sub/notes.txt", path.join(data, "link"));
    for (const p of [data, path.join(data, "sub"), path.join(data, "sub", "notes.txt"), path.join(data, "link")]) fs.lchownSync(p, owner.uid, owner.gid);
  }
  const ownerOf = (p: string) => {
    const st = fs.lstatSync(p);
    return [st.uid, st.gid];
  };

  it("gives each file the id its owner's name has on the target, where that id differs from the source's", async () => {
    const source = user();
    ownedTree(source);
    const input = await backup();
    // The target knows the same names under other ids.
    source.remove();
    const target = user(source.name);
    expect(target.uid).not.toBe(source.uid);
    fs.rmSync(data, { recursive: true });
    await filesPlugin.restore(ctx, config(), [input], {});
    for (const p of [data, path.join(data, "sub"), path.join(data, "sub", "notes.txt"), path.join(data, "link")]) expect(ownerOf(p), p).toEqual([target.uid, target.gid]);
    // Under --into as well.
    const into = path.join(dir, "into");
    await filesPlugin.restore(ctx, config(), [input], { into });
    expect(ownerOf(path.join(into, "data", "sub", "notes.txt"))).toEqual([target.uid, target.gid]);
  });

  it("falls back to the recorded numeric id when the owner's name does not exist on the target", async () => {
    const source = user();
    ownedTree(source);
    const input = await backup();
    source.remove();
    fs.rmSync(data, { recursive: true });
    await filesPlugin.restore(ctx, config(), [input], {});
    for (const p of [data, path.join(data, "sub", "notes.txt"), path.join(data, "link")]) expect(ownerOf(p), p).toEqual([source.uid, source.gid]);
  });

  it("restores modes and times of files, folders and the top folder as recorded, in place and under --into", async () => {
    fs.mkdirSync(path.join(data, "private", "deep"), { recursive: true });
    fs.writeFileSync(path.join(data, "private", "deep", "key"), "k");
    const old = (s: string) => new Date(s);
    const facts: [string, number, Date][] = [
      [path.join(data, "private", "deep", "key"), 0o640, old("2021-03-04T05:06:07Z")],
      [path.join(data, "private", "deep"), 0o700, old("2022-01-01T00:00:00Z")],
      [path.join(data, "private"), 0o750, old("2023-02-02T00:00:00Z")],
      [data, 0o710, old("2020-05-05T00:00:00Z")],
    ];
    for (const [p, mode, time] of facts) {
      fs.chmodSync(p, mode);
      fs.utimesSync(p, time, time);
    }
    const input = await backup();
    fs.writeFileSync(path.join(data, "later"), "new");
    fs.chmodSync(data, 0o777);
    const check = (map: (p: string) => string) => {
      for (const [p, mode, time] of facts) {
        const st = fs.lstatSync(map(p));
        expect([(st.mode & 0o7777).toString(8), Math.floor(st.mtimeMs / 1000)], map(p)).toEqual([mode.toString(8), time.getTime() / 1000]);
      }
    };
    await filesPlugin.restore(ctx, config(), [input], {});
    check((p) => p);
    const into = path.join(dir, "into");
    await filesPlugin.restore(ctx, config(), [input], { into });
    check((p) => path.join(into, path.relative(dir, p)));
  });

  it("keeps the recorded time of a folder into which excluded live files were carried", async () => {
    fs.mkdirSync(path.join(data, "cache"), { recursive: true });
    fs.writeFileSync(path.join(data, "cache", "kept.tmp"), "never backed up");
    fs.writeFileSync(path.join(data, "cache", "a"), "a");
    const time = new Date("2022-06-07T08:09:10Z");
    fs.utimesSync(path.join(data, "cache"), time, time);
    const input = await backup(["*.tmp"]);
    fs.writeFileSync(path.join(data, "cache", "a"), "changed");
    await filesPlugin.restore(ctx, config(["*.tmp"]), [input], {});
    expect(fs.readFileSync(path.join(data, "cache", "kept.tmp"), "utf8")).toBe("never backed up");
    expect(Math.floor(fs.statSync(path.join(data, "cache")).mtimeMs / 1000)).toBe(time.getTime() / 1000);
  });
});
