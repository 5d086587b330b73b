// restore --path: the everyday "I deleted one file" restore. In place, only matching files are
// replaced and every other file stays as it is (content, inode, times); under --into only
// matching entries are written; a pattern that matches nothing changes nothing.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { collect, pluginContext, restoreInput, type TestContext } from "../../test/plugin-context";
import { listTree } from "../../test/harness/tree";
import type { RestoreInput } from "../contract";
import { filesPlugin } from "./files";

describe("files plugin: restore --path", () => {
  let dir: string;
  let app: string;
  let data: string;
  let ctx: TestContext;
  let input: RestoreInput;
  const recorded = new Date("2024-03-04T05:06:07Z");

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "lifeboat-files-path-"));
    app = path.join(dir, "srv", "app");
    data = path.join(app, "data");
    fs.mkdirSync(path.join(data, "uploads", "2026"), { recursive: true });
    fs.writeFileSync(path.join(data, "webui.db"), "the database", { mode: 0o644 });
    fs.writeFileSync(path.join(data, "config.json"), '{"a":1}');
    fs.writeFileSync(path.join(data, "other.json"), '{"b":2}');
    fs.writeFileSync(path.join(data, "notes.txt"), "notes");
    fs.writeFileSync(path.join(data, "uploads", "2026", "a.png"), "png a");
    fs.writeFileSync(path.join(data, "uploads", "2026", "b.png"), "png b");
    fs.symlinkSync("notes.txt", path.join(data, "link"));
    fs.chmodSync(path.join(data, "uploads", "2026"), 0o750);
    for (const p of [path.join(data, "webui.db"), path.join(data, "uploads", "2026"), path.join(data, "uploads")]) fs.utimesSync(p, recorded, recorded);
    ctx = pluginContext();
    for await (const a of filesPlugin.backup(ctx, config())) input = restoreInput(await collect(a.data), a.metadata());
  });
  afterEach(() => {
    ctx.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const config = () => filesPlugin.parseConfig({ paths: [data] }, "hosts.h.plugins.files");
  const restore = (paths: string[], into?: string) => filesPlugin.restore(ctx, config(), [input], { paths, ...(into ? { into } : {}) });

  /**
   * Everything a restore could change about each entry under `root` (and `root`
   * itself), with inodes. Files and links keep even their ctime; a folder the
   * restore wrote into gets its mtime back (as utimes sets it: a double of
   * seconds, so to within a microsecond or two), while its ctime necessarily moves.
   */
  function picture(root: string): Record<string, { ino: number; mtimeMs: number; ctimeMs?: number; mode: number; content?: string }> {
    const out: Record<string, { ino: number; mtimeMs: number; ctimeMs?: number; mode: number; content?: string }> = {};
    const visit = (p: string) => {
      const st = fs.lstatSync(p);
      const times = st.isDirectory() ? { mtimeMs: st.mtimeMs } : { mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs };
      out[path.relative(dir, p) || "."] = { ino: st.ino, ...times, mode: st.mode, ...(st.isFile() ? { content: fs.readFileSync(p, "utf8") } : {}) };
      if (st.isDirectory()) for (const name of fs.readdirSync(p)) visit(path.join(p, name));
    };
    visit(root);
    return out;
  }
  /** `after` with each folder's mtime taken as `before`'s when they are within 2 µs (see {@link picture}). */
  const settled = (after: ReturnType<typeof picture>, before: ReturnType<typeof picture>) =>
    Object.fromEntries(
      Object.entries(after).map(([rel, e]) => {
        const was = before[rel];
        const close = was && e.ctimeMs === undefined && Math.abs(e.mtimeMs - was.mtimeMs) <= 0.002;
        return [rel, close ? { ...e, mtimeMs: was.mtimeMs } : e];
      }),
    );
  const without = <T extends Record<string, unknown>>(o: T, ...keys: string[]) => Object.fromEntries(Object.entries(o).filter(([k]) => !keys.includes(k)));

  it("restores one deleted file in place and leaves every other file as it is, inodes and times included", async () => {
    fs.rmSync(path.join(data, "webui.db"));
    fs.writeFileSync(path.join(data, "notes.txt"), "edited after the backup");
    fs.writeFileSync(path.join(data, "new.txt"), "made after the backup");
    const before = picture(dir);
    const report = await restore([path.join(data, "webui.db")]);
    expect(report.restored).toEqual([path.join(data, "webui.db")]);
    const db = fs.statSync(path.join(data, "webui.db"));
    expect([fs.readFileSync(path.join(data, "webui.db"), "utf8"), db.mode & 0o7777, db.mtimeMs]).toEqual(["the database", 0o644, recorded.getTime()]);
    // Every other entry, the folders above included: same inode, content, mode and times.
    const after = settled(picture(dir), before);
    expect(without(after, "srv/app/data/webui.db")).toEqual(before);
  });

  it("restores a deleted folder (**) and every matching file (*) with their recorded modes and times, replacing changed ones", async () => {
    fs.rmSync(path.join(data, "uploads"), { recursive: true });
    fs.writeFileSync(path.join(data, "config.json"), "broken");
    const before = picture(dir);
    const report = await restore([`${data}/uploads/**`, `${data}/*.json`]);
    expect(report.restored.sort()).toEqual([`${data}/config.json`, `${data}/other.json`, `${data}/uploads`]);
    expect(fs.readFileSync(path.join(data, "config.json"), "utf8")).toBe('{"a":1}');
    expect(fs.readFileSync(path.join(data, "uploads", "2026", "b.png"), "utf8")).toBe("png b");
    const year = fs.statSync(path.join(data, "uploads", "2026"));
    expect([year.mode & 0o7777, year.mtimeMs]).toEqual([0o750, recorded.getTime()]);
    expect(fs.statSync(path.join(data, "uploads")).mtimeMs).toBe(recorded.getTime());
    const after = settled(picture(dir), before);
    for (const rel of ["srv/app/data/notes.txt", "srv/app/data/link", "srv/app/data/webui.db", "srv/app/data", "srv/app", "srv"]) expect(after[rel], rel).toEqual(before[rel]);
    expect(fs.readdirSync(app)).toEqual(["data"]);
  });

  it("refuses a pattern that matches nothing, naming it, and changes nothing", async () => {
    fs.rmSync(path.join(data, "webui.db"));
    const before = picture(dir);
    await expect(restore([`${data}/webui.db`, `${data}/nope/*.txt`])).rejects.toMatchObject({
      code: "USAGE",
      message: `Cannot restore --path "${data}/nope/*.txt": nothing in the snapshot's ${data} matches`,
      hint: expect.stringContaining("nothing was changed"),
    });
    expect(settled(picture(dir), before)).toEqual(before);
  });

  it("refuses a pattern that is not an absolute path, before anything is written", async () => {
    const before = picture(dir);
    await expect(restore(["uploads/**"])).rejects.toMatchObject({ code: "USAGE", message: expect.stringContaining('Cannot restore --path "uploads/**": a pattern is an absolute path') });
    expect(settled(picture(dir), before)).toEqual(before);
  });

  it("with --into writes only the matching entries (and the folders above them), relative to the instance's root", async () => {
    const into = path.join(dir, "into");
    const report = await restore([`${data}/uploads/2026/a.png`], into);
    expect(report.restored).toEqual([`${into}/data/uploads/2026/a.png`]);
    expect(Object.keys(listTree(into))).toEqual(["data", "data/uploads", "data/uploads/2026", "data/uploads/2026/a.png"]);
    expect(fs.statSync(`${into}/data/uploads/2026`).mode & 0o7777).toBe(0o750);
  });

  it("refuses to write through a live symlink where the snapshot has a folder, changing nothing", async () => {
    const elsewhere = path.join(dir, "elsewhere");
    fs.mkdirSync(elsewhere);
    fs.rmSync(path.join(data, "uploads"), { recursive: true });
    fs.symlinkSync(elsewhere, path.join(data, "uploads"));
    const before = picture(dir);
    await expect(restore([`${data}/uploads/2026/a.png`])).rejects.toMatchObject({
      code: "RESTORE",
      message: `Cannot restore "${data}/uploads" in place: "${data}/uploads" is a symlink on this host, and the snapshot holds a folder there`,
    });
    expect(settled(picture(dir), before)).toEqual(before);
    expect(fs.readdirSync(elsewhere)).toEqual([]);
  });
});
