// Chunked backups on the agent: real files, a real local destination, real age; the events are collected.
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { generateX25519Identity, identityToRecipient } from "age-encryption";
import { currentPlatform } from "../platform/current";
import { localDestination } from "../core/storage/destinations/local";
import type { AgentEvent } from "../core/events";
import type { BackupJob } from "../core/spec";
import type { Destination } from "../core/storage/destination";
import { openStoredArtifact } from "../core/storage/snapshot-check";
import { readChunkIndex } from "../core/storage/chunked-artifact";
import type { ArtifactRecord } from "../core/records";
import { JobContext } from "./job-context";
import type { EventSink } from "./event-sink";
import { runBackup } from "./backup";

const platform = currentPlatform();

interface Run {
  status: string;
  events: AgentEvent[];
  records: ArtifactRecord[];
  uploaded: number;
  refs: string[];
}

describe("chunked backups on the agent", () => {
  let root: string;
  let data: string;
  let agentDir: string;
  let destination: Destination;
  let identity: string;
  let recipient: string;
  const key = crypto.randomBytes(32).toString("base64");
  let n = 0;

  beforeEach(async () => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), "lifeboat-chunked-"));
    data = path.join(root, "data");
    agentDir = path.join(root, "agent");
    fs.mkdirSync(data);
    fs.mkdirSync(agentDir);
    fs.mkdirSync(path.join(root, "store"));
    destination = await localDestination.open(platform, { type: "local", path: path.join(root, "store") });
    identity = await generateX25519Identity();
    recipient = await identityToRecipient(identity);
  });
  afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

  async function backup(parents: Record<string, string>, options: { rehash?: boolean; exclude?: string[]; paths?: string[] } = {}): Promise<Run & { snapshotId: string }> {
    const snapshotId = `20261130T0000${String(n++).padStart(2, "0")}Z-abcd`;
    const job: BackupJob = {
      version: 1,
      kind: "backup",
      host: "web",
      jobId: `job-${n}`,
      issuedAt: "",
      expiresAt: "",
      nonce: "",
      destination: { type: "local", path: path.join(root, "store") },
      plugins: [{ instance: "files", plugin: "files", config: { paths: options.paths ?? [data] } }],
      snapshotId,
      recipients: [recipient],
      chunking: { key, parents, exclude: options.exclude ?? [], rehash: options.rehash ?? false },
    };
    const events: AgentEvent[] = [];
    const t0 = Date.now();
    const sink = { emit: (e: AgentEvent) => { events.push(e); if (process.env.DEBUG_EVENTS && e.type !== "progress") console.log(Date.now() - t0, e.type); }, log: (m: string) => process.env.DEBUG_EVENTS && console.log(Date.now() - t0, m), flush: async () => {} } as unknown as EventSink;
    const scratch = path.join(root, `scratch-${n}`);
    fs.mkdirSync(scratch);
    const jc = new JobContext(platform, sink, job.jobId, scratch, []);
    const status = await runBackup(job, jc, destination, agentDir);
    const chunkEvents = events.filter((e): e is Extract<AgentEvent, { type: "chunks" }> => e.type === "chunks");
    return {
      snapshotId,
      status,
      events,
      records: events.filter((e): e is Extract<AgentEvent, { type: "artifact" }> => e.type === "artifact").map(({ type: _t, ...r }) => r),
      uploaded: chunkEvents.reduce((k, e) => k + e.uploaded.length, 0),
      refs: chunkEvents.flatMap((e) => e.refs),
    };
  }

  async function restoreBytes(record: ArtifactRecord): Promise<Buffer> {
    const parts: Uint8Array[] = [];
    for await (const part of openStoredArtifact(platform, (k) => destination.get(k), identity, record)) parts.push(part);
    return Buffer.concat(parts);
  }

  function writeRandom(file: string, size: number, seed: number): void {
    const out = Buffer.alloc(size);
    let x = seed;
    for (let i = 0; i < size; i += 4) {
      x = (Math.imul(x, 1664525) + 1013904223) | 0;
      out.writeInt32LE(x, Math.min(i, size - 4));
    }
    fs.writeFileSync(file, out);
  }

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

  it("fails a read naming the artifact and the chunk when a chunk is missing", async () => {
    writeRandom(path.join(data, "big.bin"), 5 * 1024 * 1024, 5);
    const run = await backup({});
    const record = run.records[0]!;
    const index = await readChunkIndex(platform, (k) => destination.get(k), identity, record);
    await destination.delete(index.chunks[2]!.key);
    await expect(restoreBytes(record)).rejects.toMatchObject({ code: "INTEGRITY", object: index.chunks[2]!.key, message: expect.stringContaining("artifact files/files.tar") });
  });
});
