// Chunked backups on the agent: real files, a real local destination, real age; the events collected.
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { currentPlatform } from "../platform/current";
import type { PluginSpec } from "../core/spec";
import type { ArtifactRecord } from "../core/records";
import { readChunkIndex } from "../core/storage/chunked-artifact";
import { AgentBench, pseudoRandom } from "../test/harness/agent-backup";

describe("chunked backups on the agent", () => {
  let bench: AgentBench;
  let data: string;
  const platform = currentPlatform();
  beforeEach(async () => {
    bench = await AgentBench.create();
    data = path.join(bench.root, "data");
    fs.mkdirSync(data);
  });
  afterEach(() => bench.cleanup());

  const files = (paths = [data]): PluginSpec[] => [{ instance: "files", plugin: "files", config: { paths } }];
  const backup = (parents: Record<string, string>, options: { rehash?: boolean; exclude?: string[] } = {}) => bench.backup(files(), parents, options);
  const restoreBytes = (record: ArtifactRecord) => bench.read(record);
  const writeRandom = (file: string, size: number, seed: number) => fs.writeFileSync(file, pseudoRandom(size, seed));

  it("stores a tree as chunks, then reads nothing and uploads nothing when nothing changed", async () => {
    writeRandom(path.join(data, "big.bin"), 6 * 1024 * 1024, 1);
    for (let i = 0; i < 50; i++) writeRandom(path.join(data, `small-${i}.bin`), 20_000, 100 + i);
    const first = await backup({});
    expect(first.status).toBe("ok");
    const [record] = first.records;
    expect(record!.compression).toBe("chunked");
    expect(record!.chunks!.uploaded).toBeGreaterThan(3);
    expect(first.uploaded).toBe(record!.chunks!.uploaded);
    const plain = await restoreBytes(record!);
    expect(plain.length).toBe(record!.plainSize);
    expect(plain.includes(fs.readFileSync(path.join(data, "small-7.bin")))).toBe(true);

    // An unchanged file is not even opened.
    const opened: string[] = [];
    const readStream = platform.readStream.bind(platform);
    platform.readStream = (p: string, size?: number) => (opened.push(p), readStream(p, size));
    try {
      const second = await backup({ files: first.snapshotId });
      expect(second.status).toBe("ok");
      expect(second.uploaded).toBe(0);
      expect(second.records[0]!.chunks).toMatchObject({ uploaded: 0, count: record!.chunks!.count });
      expect(opened.filter((p) => p.startsWith(data))).toEqual([]);
      expect((await restoreBytes(second.records[0]!)).equals(plain)).toBe(true);
    } finally {
      platform.readStream = readStream;
    }
  });

  it("reuses most chunks of a big file after an insert at its start, and only with the parent the controller names", async () => {
    const file = path.join(data, "big.bin");
    writeRandom(file, 24 * 1024 * 1024, 7);
    const first = await backup({});
    const count = first.records[0]!.chunks!.count;
    fs.writeFileSync(file, Buffer.concat([Buffer.from("inserted at the start"), fs.readFileSync(file)]));
    const second = await backup({ files: first.snapshotId });
    expect(second.records[0]!.chunks!.uploaded).toBeLessThanOrEqual(3);
    expect(second.records[0]!.chunks!.count).toBeGreaterThanOrEqual(count - 1);
    // A parent other than the cache's snapshot: nothing is known, everything is uploaded again.
    const third = await backup({ files: "20261129T000000Z-other" });
    expect(third.records[0]!.chunks!.uploaded).toBe(third.records[0]!.chunks!.count);
    expect((await restoreBytes(third.records[0]!)).equals(await restoreBytes(second.records[0]!))).toBe(true);
  });

  it("uploads again a chunk the controller excludes (damaged), and rereads everything with rehash", async () => {
    writeRandom(path.join(data, "big.bin"), 5 * 1024 * 1024, 3);
    const first = await backup({});
    const excluded = first.refs[1]!;
    const second = await backup({ files: first.snapshotId }, { exclude: [excluded] });
    const uploaded = second.events.flatMap((e) => (e.type === "chunks" ? e.uploaded.map((u) => u.name) : []));
    expect(uploaded).toEqual([excluded]);
    const opened: string[] = [];
    const readStream = platform.readStream.bind(platform);
    platform.readStream = (p: string, size?: number) => (opened.push(p), readStream(p, size));
    try {
      const third = await backup({ files: second.snapshotId }, { rehash: true });
      expect(third.uploaded).toBe(0);
      expect(opened).toContain(path.join(data, "big.bin"));
    } finally {
      platform.readStream = readStream;
    }
  });

  it("stores a small artifact as one object, not as chunks", async () => {
    fs.writeFileSync(path.join(data, "a.txt"), "hello");
    const run = await backup({});
    expect(run.records[0]!.compression).not.toBe("chunked");
    expect(run.uploaded).toBe(0);
    expect((await restoreBytes(run.records[0]!)).includes(Buffer.from("hello"))).toBe(true);
  });

  it("stores a small artifact of several units (many small files) as one object too", async () => {
    // 200 entries: group ends fall on about one name in 32, so the tar is several units, 200 KiB in all.
    for (let i = 0; i < 200; i++) fs.writeFileSync(path.join(data, `note-${i}.txt`), `${i}`.padEnd(500, "."));
    const run = await backup({});
    expect(run.records[0]!.plainSize).toBeLessThan(256 * 1024);
    expect(run.records[0]!.compression).not.toBe("chunked");
    expect(run.uploaded).toBe(0);
    expect((await restoreBytes(run.records[0]!)).includes(Buffer.from("137".padEnd(500, ".")))).toBe(true);
  });

  it("fails a read naming the artifact and the chunk when a chunk is missing", async () => {
    writeRandom(path.join(data, "big.bin"), 5 * 1024 * 1024, 5);
    const run = await backup({});
    const record = run.records[0]!;
    const index = await readChunkIndex(platform, (k) => bench.destination.get(k), bench.identity, record);
    await bench.destination.delete(index.chunks[2]!.key);
    await expect(restoreBytes(record)).rejects.toMatchObject({ code: "INTEGRITY", object: index.chunks[2]!.key, message: expect.stringContaining("artifact files/files.tar") });
  });

  it("reads a file again when it changed while it was read: never a torn chunk list", async () => {
    const file = path.join(data, "big.bin");
    writeRandom(file, 6 * 1024 * 1024, 11);
    const readStream = platform.readStream.bind(platform);
    let grown = false;
    platform.readStream = (p: string, size?: number) =>
      p !== file || grown
        ? readStream(p, size)
        : (async function* () {
            let first = true;
            for await (const piece of readStream(p, size)) {
              yield piece;
              if (first) {
                // The application appends while the backup reads.
                fs.appendFileSync(file, "appended while being read");
                grown = true;
                first = false;
              }
            }
          })();
    let run;
    try {
      run = await backup({});
    } finally {
      platform.readStream = readStream;
    }
    expect(run.status).toBe("ok");
    expect(run.events.filter((e) => e.type === "warning")).toEqual([]);
    const restored = path.join(bench.root, "restored");
    fs.mkdirSync(restored);
    execFileSync("tar", ["-xf", "-", "-C", restored], { input: await restoreBytes(run.records[0]!) });
    expect(fs.readFileSync(path.join(restored, file.slice(1))).equals(fs.readFileSync(file))).toBe(true);
    // The torn read's chunks were reported (for the ledger to collect), but the index names only the second read's.
    expect(run.uploaded).toBeGreaterThan(run.records[0]!.chunks!.uploaded);
    const next = await backup({ files: run.snapshotId });
    expect(next.uploaded).toBe(0);
  });

  it("stores equal content of two instances of one host once", async () => {
    for (const dir of ["one", "two"]) {
      fs.mkdirSync(path.join(data, dir));
      writeRandom(path.join(data, dir, "model.bin"), 8 * 1024 * 1024, 42);
    }
    const run = await bench.backup(
      [
        { instance: "one", plugin: "files", config: { paths: [path.join(data, "one")] } },
        { instance: "two", plugin: "files", config: { paths: [path.join(data, "two")] } },
      ],
      {},
    );
    const [one, two] = run.records;
    expect(one!.chunks!.uploaded).toBeGreaterThan(4);
    // The second instance's tar headers differ (other names); its file's chunks after the first are the first instance's.
    expect(two!.chunks!.uploaded).toBeLessThanOrEqual(2);
    expect(two!.chunks!.count).toBe(one!.chunks!.count);
  });
});
