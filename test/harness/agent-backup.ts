/**
 * @module Backups run by the agent's own code in this process (no SSH, no
 * controller): a real local destination, real age keys, the events collected.
 * For tests of what the agent stores; fleets go through test/harness/fleet.ts.
 */
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { generateX25519Identity, identityToRecipient } from "age-encryption";
import { currentPlatform } from "../../platform/current";
import { localDestination } from "../../core/storage/destinations/local";
import type { AgentEvent, ChunksEvent } from "../../core/events";
import type { BackupJob, PluginSpec } from "../../core/spec";
import type { Destination } from "../../core/storage/destination";
import type { ArtifactRecord } from "../../core/records";
import { openStoredArtifact } from "../../core/storage/snapshot-check";
import { JobContext } from "../../agent/job-context";
import type { EventSink } from "../../agent/event-sink";
import { runBackup } from "../../agent/backup";
import { storeChunked } from "../../agent/chunked-backup";
import { emptyCache } from "../../agent/chunk-cache";
import type { ArtifactSource } from "../../plugins/contract";
import { ChunkWriter, localChunkWork, single } from "../../core/storage/chunk-store";
import { encodeChunkIndex } from "../../core/storage/chunked-artifact";
import { encryptStream } from "../../core/storage/age/encrypt";
import { hashed } from "../../core/storage/measure";

/** One backup's outcome. */
export interface AgentRun {
  snapshotId: string;
  status: string;
  events: AgentEvent[];
  records: ArtifactRecord[];
  /** Chunks uploaded, and keyed names referenced, over all `chunks` events. */
  uploaded: number;
  refs: string[];
  /** The stored manifest, when the backup wrote one (a restore job names it). */
  manifest?: { key: string; sha256: string; size: number };
}

/** A host's agent directory, a local destination and a key pair, in one temporary directory. */
export class AgentBench {
  readonly platform = currentPlatform();
  readonly root = fs.mkdtempSync(path.join(os.tmpdir(), "lifeboat-agent-bench-"));
  readonly store = path.join(this.root, "store");
  readonly agentDir = path.join(this.root, "agent");
  readonly chunkKey = crypto.randomBytes(32).toString("base64");
  identity = "";
  recipient = "";
  destination!: Destination;
  private runs = 0;

  static async create(): Promise<AgentBench> {
    const bench = new AgentBench();
    fs.mkdirSync(bench.store);
    fs.mkdirSync(bench.agentDir);
    bench.destination = await localDestination.open(bench.platform, { type: "local", path: bench.store });
    bench.identity = await generateX25519Identity();
    bench.recipient = await identityToRecipient(bench.identity);
    return bench;
  }

  /** Backs up `plugins` as host "web" with chunking; `parents` as the controller would name them. */
  async backup(plugins: PluginSpec[], parents: Record<string, string>, options: { rehash?: boolean; exclude?: string[] } = {}): Promise<AgentRun> {
    const n = this.runs++;
    const snapshotId = `20261130T0000${String(n).padStart(2, "0")}Z-abcd`;
    const job: BackupJob = {
      version: 1,
      kind: "backup",
      host: "web",
      jobId: `job-${n}`,
      issuedAt: "",
      expiresAt: "",
      nonce: "",
      destination: { type: "local", path: this.store },
      plugins,
      snapshotId,
      recipients: [this.recipient],
      chunking: { key: this.chunkKey, parents, exclude: options.exclude ?? [], rehash: options.rehash ?? false },
    };
    const events: AgentEvent[] = [];
    const sink = { emit: (e: AgentEvent) => events.push(e), log: () => {}, flush: async () => {} } as unknown as EventSink;
    const scratch = path.join(this.root, `scratch-${n}`);
    fs.mkdirSync(scratch);
    const jc = new JobContext(this.platform, sink, job.jobId, scratch, []);
    const status = await runBackup(job, jc, this.destination, this.agentDir);
    const chunkEvents = events.filter((e): e is ChunksEvent => e.type === "chunks");
    return {
      snapshotId,
      status,
      events,
      records: events.filter((e): e is Extract<AgentEvent, { type: "artifact" }> => e.type === "artifact").map(({ type: _t, ...r }) => r),
      uploaded: chunkEvents.reduce((k, e) => k + e.uploaded.length, 0),
      refs: chunkEvents.flatMap((e) => e.refs),
      ...(jc.manifest ? { manifest: jc.manifest } : {}),
    };
  }

  /** An artifact's plain bytes, read back through every check. */
  async read(record: ArtifactRecord): Promise<Buffer> {
    const parts: Uint8Array[] = [];
    for await (const part of openStoredArtifact(this.platform, (k) => this.destination.get(k), this.identity, record)) parts.push(part);
    return Buffer.concat(parts);
  }

  cleanup(): void {
    fs.rmSync(this.root, { recursive: true, force: true });
  }
}

/** `size` pseudo-random bytes from `seed` (a linear congruential generator: fast, and the same every time). */
export function pseudoRandom(size: number, seed: number): Buffer {
  const out = Buffer.alloc(size);
  let x = seed;
  for (let i = 0; i + 4 <= size; i += 4) {
    x = (Math.imul(x, 1664525) + 1013904223) | 0;
    out.writeInt32LE(x, i);
  }
  return out;
}

/** One local chunk store for {@link throughChunks}, made on first use, removed when the process exits. */
let roundTripStore: Promise<{ writer: ChunkWriter; bench: AgentBench }> | undefined;

/**
 * An artifact's plain bytes after a round trip through chunked storage, as a
 * backup stores them and a restore reads them: its units (or stream) cut into
 * chunks — every artifact, however small — compressed, age-encrypted, written
 * to a local destination, then read back through the chunk index with every check.
 */
export async function throughChunks(artifact: ArtifactSource): Promise<Buffer> {
  roundTripStore ??= AgentBench.create().then((bench) => {
    process.once("exit", () => bench.cleanup());
    return { bench, writer: new ChunkWriter(bench.destination, "web", localChunkWork(bench.platform, Buffer.from(bench.chunkKey, "base64"), [bench.recipient]), "20261130T000000Z-test", new Map()) };
  });
  const { bench, writer } = await roundTripStore;
  const result = await storeChunked(
    { writer, instance: "test", previous: emptyCache(), next: emptyCache(), rehash: false, progress: () => {}, emit: () => {}, warn: () => {}, log: () => {}, smallArtifact: 0 },
    artifact,
  );
  if (result.kind === "small") throw new Error("throughChunks: an artifact came back as small although smallArtifact is 0");
  const key = `web/20261130T000000Z-test/test/${artifact.name}-${crypto.randomBytes(4).toString("hex")}.age`;
  const stored = hashed(bench.platform, encryptStream(bench.platform, [bench.recipient], single(encodeChunkIndex(result.index))));
  const storedSize = await bench.destination.put(key, stored.data);
  return bench.read({ plugin: "test", instance: "test", name: artifact.name, key, plainSize: result.index.size, storedSize, sha256: stored.digest(), compression: "chunked", metadata: {} });
}
