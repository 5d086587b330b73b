/**
 * @module Storing one artifact as chunks: its units are cut by the content-
 * defined chunker, each chunk stored once per host (or referenced when the
 * parent snapshot has it), unchanged units taken from the chunk cache without
 * reading; the artifact's own object is then the age file of its chunk index.
 */
import type { ArtifactSource, ArtifactUnit } from "../plugins/contract";
import type { ChunkIndex, ChunkStats } from "../core/records";
import type { ChunksEvent, ChunkUpload } from "../core/events";
import type { ByteStream } from "../core/platform";
import { concatBytes } from "../core/bytes";
import { Chunker } from "../core/storage/chunker";
import type { ChunkWriter, StoredChunk } from "../core/storage/chunk-store";
import type { InstanceCache } from "./chunk-cache";

/** Chunks stored concurrently (hash, compress and encrypt of one overlap the upload of another). */
const IN_FLIGHT = 4;
/** A whole artifact smaller than this (however many units it has) is stored as one object instead of chunks. */
export const SMALL_ARTIFACT = 256 * 1024;
/** How often a unit that changes while it is read is read again before it is stored as read. */
const READ_ATTEMPTS = 3;
/** Refs per `chunks` event. */
const EVENT_BATCH = 2048;

/** What a chunked store of one artifact produced. */
export type ChunkedResult =
  | { kind: "chunked"; index: ChunkIndex; stats: ChunkStats }
  /** The artifact is smaller than the small size: stored as a single object by the caller. */
  | { kind: "small"; bytes: Uint8Array };

/** What storing one artifact as chunks needs. */
export interface ChunkedArtifactJob {
  writer: ChunkWriter;
  instance: string;
  /** The instance's cache from the parent snapshot (empty when none), and the one being built for this snapshot. */
  previous: InstanceCache;
  next: InstanceCache;
  /** Read every unit, even one the cache has. */
  rehash: boolean;
  /** Progress: plain bytes so far and stored bytes uploaded so far. */
  progress(plain: number, stored: number): void;
  /** Where the artifact's `chunks` events go. */
  emit(event: ChunksEvent): void;
  /** A warning for the operator, and a line for the run's log. */
  warn(message: string): void;
  log(message: string): void;
  /** An artifact smaller than this is stored as one object (default {@link SMALL_ARTIFACT}). */
  smallArtifact?: number;
}

/** Batches of `chunks` events of one artifact. */
class ChunkEvents {
  private uploaded: ChunkUpload[] = [];
  private refs: string[] = [];
  constructor(
    private readonly emit: (event: ChunksEvent) => void,
    private readonly instance: string,
    private readonly artifact: string,
  ) {}

  add(chunk: StoredChunk): void {
    this.orphan(chunk);
    this.refs.push(chunk.name);
    if (this.refs.length >= EVENT_BATCH) this.flush();
  }

  /** Reports the chunk's upload, if this job uploaded it; alone, for an upload no ref names (a unit read again after it changed), so the ledger can collect it. */
  orphan(chunk: StoredChunk): void {
    if (chunk.uploaded) this.uploaded.push({ name: chunk.name, key: chunk.ref.key, size: chunk.ref.size, stored: chunk.ref.stored });
  }

  flush(): void {
    if (this.uploaded.length === 0 && this.refs.length === 0) return;
    this.emit({ type: "chunks", plugin: this.instance, artifact: this.artifact, uploaded: this.uploaded, refs: this.refs });
    this.uploaded = [];
    this.refs = [];
  }
}

/**
 * Stores `artifact` as chunks (see the module). Chunks are held back while
 * they may be the whole artifact: an artifact under {@link SMALL_ARTIFACT}
 * (of one unit or several) comes back as `small`, for the caller to store as one object.
 */
export async function storeChunked(job: ChunkedArtifactJob, artifact: ArtifactSource): Promise<ChunkedResult> {
  const orphans: StoredChunk[] = [];
  /** The artifact's chunks in order; every slot is null while the bytes are `held`. */
  const slots: (Promise<StoredChunk> | null)[] = [];
  /** The chunks so far while they may be the whole artifact (together under the small size); null once stored. */
  let held: Uint8Array[] | null = [];
  let heldBytes = 0;
  let settledCount = 0;
  /** Slots before this one have been awaited. */
  let cursor = 0;
  let plain = 0;
  let uploadedBytes = 0;
  /** Units whose chunks are slots [from, to): cached under `key` for the next snapshot. */
  const unitRanges: { key: string; from: number; to: number }[] = [];

  const track = (p: Promise<StoredChunk>) =>
    p.then((c) => {
      settledCount++;
      if (c.uploaded) uploadedBytes += c.ref.stored.size;
      job.progress(plain, uploadedBytes);
      return c;
    });
  const release = () => {
    if (held === null) return;
    held.forEach((bytes, i) => (slots[i] = track(job.writer.put(bytes, artifact.compression))));
    held = null;
  };
  const submitBytes = async (bytes: Uint8Array) => {
    if (held !== null && heldBytes + bytes.length < (job.smallArtifact ?? SMALL_ARTIFACT)) {
      held.push(bytes); // may be the whole artifact (of one unit or several)
      heldBytes += bytes.length;
      slots.push(null);
      return;
    }
    release();
    slots.push(track(job.writer.put(bytes, artifact.compression)));
    // Bounded memory: at most IN_FLIGHT chunks being stored at once.
    while (slots.length - settledCount > IN_FLIGHT && cursor < slots.length) await slots[cursor++];
  };
  const readUnit = async (data: ByteStream) => {
    const chunker = new Chunker();
    for await (const piece of data) {
      plain += piece.length;
      for (const chunk of chunker.push(piece)) await submitBytes(chunk);
      job.progress(plain, uploadedBytes);
    }
    const last = chunker.end();
    if (last) await submitBytes(last);
  };

  try {
    for await (const unit of artifact.units ?? oneUnit(artifact.data)) {
      const cached = !job.rehash && unit.cacheKey !== null ? job.previous.units.get(unit.cacheKey) : undefined;
      if (cached && cached.every((c) => job.writer.known.has(c.name))) {
        release();
        const from = slots.length;
        for (const { name } of cached) {
          const ref = job.writer.known.get(name)!;
          plain += ref.size;
          slots.push(track(Promise.resolve({ name, ref, uploaded: false })));
        }
        unitRanges.push({ key: unit.cacheKey!, from, to: slots.length });
        continue;
      }
      for (let attempt = 1; ; attempt++) {
        const [from, plainBefore] = [slots.length, plain];
        await readUnit(unit.read());
        const key = unit.settled ? unit.settled() : unit.cacheKey;
        if (key !== null) unitRanges.push({ key, from, to: slots.length });
        if (key !== null || !unit.settled) break;
        if (attempt === READ_ATTEMPTS) {
          job.warn(`part of artifact "${artifact.name}" changed each of the ${READ_ATTEMPTS} times it was read; stored as last read, and read again next time`);
          break;
        }
        // Torn: the chunks of this read are not the unit's; they are reported (for the ledger to collect) but never referenced.
        job.log(`part of "${artifact.name}" changed while it was read; reading it again`);
        if (held !== null) heldBytes -= held.splice(from).reduce((n, b) => n + b.length, 0);
        const torn = slots.splice(from).filter((p): p is Promise<StoredChunk> => p !== null);
        orphans.push(...(await Promise.all(torn)));
        settledCount -= torn.length;
        cursor = Math.min(cursor, slots.length);
        plain = plainBefore;
      }
    }
    if (held !== null && held.length > 0) return { kind: "small", bytes: concatBytes(held, heldBytes) };
    release();
  } finally {
    await Promise.allSettled(slots);
  }

  const chunks = await Promise.all(slots as Promise<StoredChunk>[]);
  const events = new ChunkEvents(job.emit, job.instance, artifact.name);
  for (const orphan of orphans) events.orphan(orphan);
  const stats: ChunkStats = { count: chunks.length, uploaded: 0, uploadedBytes: 0, reusedBytes: 0 };
  for (const chunk of chunks) {
    events.add(chunk);
    job.next.chunks.set(chunk.name, chunk.ref);
    if (chunk.uploaded) {
      stats.uploaded++;
      stats.uploadedBytes += chunk.ref.stored.size;
    } else stats.reusedBytes += chunk.ref.size;
  }
  events.flush();
  for (const { key, from, to } of unitRanges) job.next.units.set(key, chunks.slice(from, to).map(({ name, ref }) => ({ name, ref })));
  return { kind: "chunked", index: { format: "lifeboat-chunks/1", size: plain, chunks: chunks.map((c) => c.ref) }, stats };
}

/** An artifact without units: its whole stream, always read. */
async function* oneUnit(data: ByteStream): AsyncIterable<ArtifactUnit> {
  yield { cacheKey: null, read: () => data };
}

