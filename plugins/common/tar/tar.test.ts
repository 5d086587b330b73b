// The tar writer and reader against GNU tar, both directions.
import { execFileSync } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { listTree } from "../../../test/harness/tree";
import { collect } from "../../../test/plugin-context";
import { currentPlatform } from "../../../platform/current";
import type { TarHeader } from "./header";
import { readTar } from "./reader";
import { writeTar, type TarEntry } from "./writer";

const platform = currentPlatform();

async function* bytes(b: Buffer, size = 10_000): AsyncIterable<Uint8Array> {
  for (let i = 0; i < b.length; i += size) yield b.subarray(i, i + size);
}

describe("tar", () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "lifeboat-tar-"));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  function sourceTree(): string {
    const src = path.join(dir, "src");
    const long = "d".repeat(60);
    fs.mkdirSync(path.join(src, long, long, "empty"), { recursive: true });
    fs.writeFileSync(path.join(src, long, long, `${"f".repeat(120)}.txt`), "long name\n");
    fs.writeFileSync(path.join(src, "random.bin"), crypto.randomBytes(700_001));
    fs.writeFileSync(path.join(src, "empty.txt"), "");
    fs.writeFileSync(path.join(src, "ünïcödé.txt"), "utf8\n");
    fs.writeFileSync(path.join(src, "setuid"), "#!/bin/sh\n", { mode: 0o4755 });
    fs.chmodSync(path.join(src, "setuid"), 0o4755);
    fs.symlinkSync(`${long}/${long}`, path.join(src, "link"));
    fs.symlinkSync(`${"t".repeat(150)}`, path.join(src, "long-link"));
    fs.utimesSync(path.join(src, "empty.txt"), new Date("2020-02-02T02:02:02Z"), new Date("2020-02-02T02:02:02Z"));
    return src;
  }

  function entriesOf(root: string): TarEntry[] {
    const out: TarEntry[] = [];
    const visit = (p: string) => {
      const st = fs.lstatSync(p);
      const base: TarHeader = { name: p.slice(1), type: "file", mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, size: 0, mtime: Math.floor(st.mtimeMs / 1000), linkname: "" };
      if (st.isSymbolicLink()) out.push({ header: { ...base, type: "symlink", linkname: fs.readlinkSync(p) } });
      else if (st.isDirectory()) {
        out.push({ header: { ...base, type: "directory" } });
        for (const c of fs.readdirSync(p).sort()) visit(path.join(p, c));
      } else out.push({ header: { ...base, size: st.size }, source: p });
    };
    visit(root);
    return out;
  }

  it("writes archives that GNU tar extracts identically (long names, symlinks, setuid, empty files and dirs, UTF-8)", async () => {
    const src = sourceTree();
    const archive = await collect(writeTar(platform, entriesOf(src)));
    const out = path.join(dir, "out");
    fs.mkdirSync(out);
    execFileSync("tar", ["-xpf", "-", "-C", out], { input: archive });
    expect(listTree(path.join(out, src.slice(1)))).toEqual(listTree(src));
  });

  for (const format of ["gnu", "pax", "ustar"]) {
    it(`reads archives made by GNU tar --format=${format}`, async () => {
      const src = sourceTree();
      const args = ["-cf", "-", "-C", dir, "src"];
      if (format === "ustar") fs.rmSync(path.join(src, "long-link"));
      if (format === "ustar") fs.rmSync(path.join(src, "d".repeat(60)), { recursive: true });
      if (format === "ustar") fs.rmSync(path.join(src, "link"));
      const archive = execFileSync("tar", [`--format=${format}`, ...args], { maxBuffer: 1 << 26 });
      const seen = new Map<string, { header: TarHeader; sha?: string }>();
      for await (const { header, body } of readTar(bytes(archive))) {
        const content = await collect(body);
        seen.set(header.name, { header, sha: header.type === "file" ? crypto.createHash("sha256").update(content).digest("hex") : undefined });
      }
      for (const [rel, entry] of Object.entries(listTree(src))) {
        const got = seen.get(`src/${rel}`);
        expect(got, rel).toBeDefined();
        if (entry.type === "file") expect(got!.sha).toBe(entry.sha256);
        if (entry.type === "symlink") expect(got!.header.linkname).toBe(entry.target);
        if (entry.type !== "symlink") expect(got!.header.mode).toBe(entry.mode);
      }
    });
  }

  it("records owner names as GNU tar reads them, a name longer than ustar holds in a pax record", async () => {
    const long = `svc-${"x".repeat(40)}`;
    const entry = (name: string, uname: string, gname: string): TarEntry => ({ header: { name, type: "directory", mode: 0o755, uid: 1234, gid: 2345, size: 0, mtime: 0, linkname: "", uname, gname } });
    const archive = await collect(writeTar(platform, [entry("short", "www-data", "adm"), entry("long", long, "grüppe")]));
    const listing = execFileSync("tar", ["-tvf", "-"], { input: archive, encoding: "utf8" });
    expect(listing).toContain("www-data/adm");
    expect(listing).toContain(`${long}/grüppe`);
    const read: [string, string | undefined, string | undefined][] = [];
    for await (const { header } of readTar(bytes(archive))) read.push([header.name, header.uname, header.gname]);
    expect(read).toEqual([
      ["short", "www-data", "adm"],
      ["long", long, "grüppe"],
    ]);
  });

  it("refuses a header whose checksum does not match", async () => {
    const archive = await collect(writeTar(platform, entriesOf(sourceTree())));
    archive[3] = archive[3]! ^ 0x20;
    await expect(async () => {
      for await (const _ of readTar(bytes(archive))) {
        // read everything
      }
    }).rejects.toMatchObject({ code: "INTEGRITY" });
  });

  it("refuses a truncated archive", async () => {
    const archive = await collect(writeTar(platform, entriesOf(sourceTree())));
    await expect(async () => {
      for await (const { body } of readTar(bytes(archive.subarray(0, 5000)))) await collect(body);
    }).rejects.toMatchObject({ code: "INTEGRITY" });
  });

  it("leaves out a file that cannot be opened, header and all, when asked to", async () => {
    const kept = path.join(dir, "kept.txt");
    fs.writeFileSync(kept, "kept\n");
    const header = (name: string, size: number): TarHeader => ({ name: name.slice(1), type: "file", mode: 0o644, uid: 0, gid: 0, size, mtime: 0, linkname: "" });
    const unreadable: string[] = [];
    const archive = await collect(
      writeTar(platform, [{ header: header(path.join(dir, "gone.txt"), 10), source: path.join(dir, "gone.txt") }, { header: header(kept, 5), source: kept }], {
        onUnreadable: (entry) => unreadable.push(entry.source!) > 0,
      }),
    );
    expect(unreadable).toEqual([path.join(dir, "gone.txt")]);
    expect(execFileSync("tar", ["-tf", "-"], { input: archive, encoding: "utf8" }).trim()).toBe(kept.slice(1));
    await expect(collect(writeTar(platform, [{ header: header(path.join(dir, "gone.txt"), 10), source: path.join(dir, "gone.txt") }]))).rejects.toMatchObject({ code: "ENOENT" });
  });

  it("keeps the archive valid when a file shrinks while it is read", async () => {
    const file = path.join(dir, "shrinking");
    fs.writeFileSync(file, crypto.randomBytes(5000));
    const changes: string[] = [];
    const header: TarHeader = { name: file.slice(1), type: "file", mode: 0o644, uid: 0, gid: 0, size: 9000, mtime: 0, linkname: "" };
    const archive = await collect(writeTar(platform, [{ header, source: file }], { onChanged: (name) => changes.push(name) }));
    expect(changes).toEqual([file.slice(1)]);
    expect(execFileSync("tar", ["-tvf", "-"], { input: archive, encoding: "utf8" })).toContain("9000");
  });
});
