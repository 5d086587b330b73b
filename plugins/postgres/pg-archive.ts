/**
 * @module Row counts read from a pg_dump custom-format archive as it streams
 * past, so the manifest's per-table counts cost no second scan of the database.
 *
 * The archive (pg_backup_archiver.c, pg_backup_custom.c) is a header, a table
 * of contents, then one block per entry with data: block type 1 (table data)
 * or 3 (large objects), the entry's dump id, then length-prefixed chunks ending
 * with a zero length. Integers are a sign byte plus `intSize` little-endian
 * bytes; strings are an integer length (-1: none) plus bytes. With
 * `--compress=0` the chunks of a TABLE DATA block are COPY text, one row per
 * line (newlines inside values are escaped) and, in the pg_dump versions that
 * write it, the end-of-data line `\.` plus two empty lines; so a table's rows
 * are the newlines of its block, less those three.
 */
import { concatBytes } from "../../core/bytes";

/** Archive versions whose layout this reader knows (1.12: PostgreSQL 9.5 … 1.16: PostgreSQL 17). */
const OLDEST = version(1, 12, 0);
const NEWEST = version(1, 16, 0);
const CUSTOM_FORMAT = 1;
const BLOCK_DATA = 1;
const BLOCK_BLOBS = 3;
const NEWLINE = 0x0a;
/** How COPY data in an archive ends: a line `\.`, then two empty lines. */
const END_OF_COPY = [0x5c, 0x2e, NEWLINE, NEWLINE, NEWLINE];
/** Bytes kept of a run's end: END_OF_COPY and the byte before it. */
const KEEP = END_OF_COPY.length + 1;

function version(major: number, minor: number, revision: number): number {
  return (major << 16) | (minor << 8) | revision;
}

/** A table's data block as the archive names it. */
export interface TableRows {
  schema: string;
  table: string;
  rows: number;
}

/** One entry of the archive's table of contents, as `pg_restore --list` shows it, with what it depends on. */
export interface TocEntry {
  dumpId: number;
  /** The kind of object: TABLE, TABLE DATA, SEQUENCE, INDEX, CONSTRAINT, FK CONSTRAINT, VIEW, ACL, ... */
  desc: string;
  schema: string;
  /** Its name (for constraints and defaults: the table's name, a space, then its own). */
  tag: string;
  owner: string;
  /** Dump ids of the entries it depends on. */
  dependencies: number[];
}

/** What the reader learned; `unreadable` says why it could not count (a version or format it does not know, or a damaged stream). */
export type ArchiveCount = { ok: true; tables: TableRows[] } | { ok: false; unreadable: string };

type Request = { read: number } | { run: true } | { atEnd: true };

/**
 * A run of length-prefixed chunks ending with a zero length (a block's data).
 * Rows arrive one chunk each, so the run is read without a parser step per row:
 * one count of the newlines of everything read, less those inside the length prefixes.
 */
class ChunkRun {
  newlines = 0;
  private remaining = 0;
  private readonly prefix: Uint8Array;
  private prefixHave = 0;
  /** The last KEEP data bytes, as a ring; `lazy*` marks a later, longer piece not yet copied into it. */
  private readonly ring = new Uint8Array(KEEP);
  private ringNext = 0;
  private ringFilled = 0;
  private lazyChunk: Uint8Array | undefined;
  private lazyEnd = 0;

  constructor(intSize: number) {
    this.prefix = new Uint8Array(1 + intSize);
  }

  /** Scans `chunk` from `at`. @returns where the run ended in `chunk`, or -1 when it goes on in the next chunk. */
  scan(chunk: Uint8Array, at: number): number {
    let pos = at;
    let prefixNewlines = 0;
    let ended = false;
    while (pos < chunk.length) {
      if (this.remaining > 0) {
        const take = Math.min(this.remaining, chunk.length - pos);
        this.remaining -= take;
        pos += take;
        this.keep(chunk, pos - take, pos);
        continue;
      }
      if (this.prefixHave === 0 && this.prefix.length === 5 && pos + 5 <= chunk.length) {
        // The common case, a whole 4-byte length in this chunk: read it in place.
        const b0 = chunk[pos]!, b1 = chunk[pos + 1]!, b2 = chunk[pos + 2]!, b3 = chunk[pos + 3]!, b4 = chunk[pos + 4]!;
        prefixNewlines += +(b0 === NEWLINE) + +(b1 === NEWLINE) + +(b2 === NEWLINE) + +(b3 === NEWLINE) + +(b4 === NEWLINE);
        pos += 5;
        const length = (b1 | (b2 << 8) | (b3 << 16)) + b4 * 0x1000000;
        if (b0 !== 0 && length !== 0) throw new Error("a data chunk has a negative length");
        if (length === 0) {
          ended = true;
          break;
        }
        this.remaining = length;
        continue;
      }
      const byte = chunk[pos++]!;
      if (byte === NEWLINE) prefixNewlines++;
      this.prefix[this.prefixHave++] = byte;
      if (this.prefixHave === this.prefix.length) {
        this.prefixHave = 0;
        const length = decodeInt(this.prefix);
        if (length < 0) throw new Error("a data chunk has a negative length");
        if (length === 0) {
          ended = true;
          break;
        }
        this.remaining = length;
      }
    }
    this.newlines += countNewlines(chunk, at, pos) - prefixNewlines;
    this.settle();
    return ended ? pos : -1;
  }

  /** True when the run's data ends with the end-of-data line on a line of its own. */
  endsWithEndOfCopy(): boolean {
    const last = Array.from({ length: this.ringFilled }, (_, i) => this.ring[(this.ringNext - this.ringFilled + i + KEEP) % KEEP]!);
    const end = last.slice(-END_OF_COPY.length);
    if (end.length !== END_OF_COPY.length || end.some((b, i) => b !== END_OF_COPY[i])) return false;
    return last.length === END_OF_COPY.length || last[0] === NEWLINE;
  }

  private keep(chunk: Uint8Array, from: number, to: number): void {
    if (to - from >= KEEP) {
      this.lazyChunk = chunk;
      this.lazyEnd = to;
      return;
    }
    this.settle();
    for (let i = from; i < to; i++) this.remember(chunk[i]!);
  }

  private settle(): void {
    if (!this.lazyChunk) return;
    for (let i = this.lazyEnd - KEEP; i < this.lazyEnd; i++) this.remember(this.lazyChunk[i]!);
    this.lazyChunk = undefined;
  }

  private remember(byte: number): void {
    this.ring[this.ringNext] = byte;
    this.ringNext = (this.ringNext + 1) % KEEP;
    this.ringFilled = Math.min(this.ringFilled + 1, KEEP);
  }
}

/** An archive integer: a sign byte, then little-endian magnitude bytes. */
function decodeInt(bytes: Uint8Array): number {
  let value = 0;
  for (let i = bytes.length - 1; i >= 1; i--) value = value * 256 + bytes[i]!;
  return bytes[0] ? -value : value;
}

/**
 * Counts rows per table of a custom-format archive fed to it chunk by chunk.
 * It never throws on bad input: it stops counting and reports why in `result()`.
 */
export class ArchiveRowCounter {
  private readonly steps: Generator<Request, void, unknown>;
  private request: Request | undefined;
  private failure: string | undefined;
  private finished = false;
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  private intSize = 4;
  private run: ChunkRun | undefined;
  private readonly tables: TableRows[] = [];
  private contents: TocEntry[] | undefined;

  constructor() {
    this.steps = this.parse();
    this.advance(undefined);
  }

  /** Feeds the next chunk of the archive (it is read, never kept or changed). */
  push(chunk: Uint8Array): void {
    let at = 0;
    while (at < chunk.length && !this.finished && this.failure === undefined) {
      const request = this.request!;
      if ("atEnd" in request) {
        this.advance(false);
      } else if ("run" in request) {
        this.run ??= new ChunkRun(this.intSize);
        let ended: number;
        try {
          ended = this.run.scan(chunk, at);
        } catch (err) {
          this.failure = (err as Error).message;
          return;
        }
        if (ended === -1) return;
        at = ended;
        const run = this.run;
        this.run = undefined;
        this.advance(run);
      } else {
        const take = Math.min(request.read - this.pendingBytes, chunk.length - at);
        this.pending.push(chunk.subarray(at, at + take));
        this.pendingBytes += take;
        at += take;
        if (this.pendingBytes === request.read) {
          const bytes = concatBytes(this.pending, this.pendingBytes);
          this.pending = [];
          this.pendingBytes = 0;
          this.advance(bytes);
        }
      }
    }
  }

  /** The archive's table of contents, in archive order, once the stream has passed it; undefined before (or when the archive is unreadable). */
  toc(): TocEntry[] | undefined {
    return this.failure === undefined ? this.contents : undefined;
  }

  /** Why the archive could not be read, if it could not. */
  problem(): string | undefined {
    return this.failure;
  }

  /** Call once the archive has ended: the counts, or why there are none. */
  result(): ArchiveCount {
    if (this.failure === undefined && !this.finished) {
      if (this.request && "atEnd" in this.request) this.advance(true);
      else this.failure = "the archive ends in the middle of an entry";
    }
    return this.failure === undefined ? { ok: true, tables: this.tables } : { ok: false, unreadable: this.failure };
  }

  private advance(answer: unknown): void {
    try {
      let next = this.steps.next(answer);
      // A zero-length string needs no input: answer it at once.
      while (!next.done && "read" in next.value && next.value.read === 0) next = this.steps.next(new Uint8Array(0));
      if (next.done) this.finished = true;
      else this.request = next.value;
    } catch (err) {
      this.failure = (err as Error).message;
    }
  }

  private *parse(): Generator<Request, void, unknown> {
    const magic = (yield { read: 5 }) as Uint8Array;
    if (new TextDecoder().decode(magic) !== "PGDMP") throw new Error("not a pg_dump custom-format archive");
    const [major, minor, revision, intSize, offSize, format] = (yield { read: 6 }) as Uint8Array;
    this.intSize = intSize!;
    const archive = version(major!, minor!, revision!);
    if (archive < OLDEST || archive > NEWEST) throw new Error(`archive version ${major}.${minor}.${revision} is not one Lifeboat reads`);
    if (format !== CUSTOM_FORMAT) throw new Error(`archive format ${format} is not the custom format`);
    const int = function* (): Generator<Request, number, unknown> {
      return decodeInt((yield { read: 1 + intSize! }) as Uint8Array);
    };
    const str = function* (): Generator<Request, string | null, unknown> {
      const length = yield* int();
      if (length < 0) return null;
      return new TextDecoder().decode((yield { read: length }) as Uint8Array);
    };

    if (archive >= version(1, 15, 0)) yield { read: 1 };
    else yield* int();
    for (let i = 0; i < 7; i++) yield* int(); // creation time
    for (let i = 0; i < 3; i++) yield* str(); // database, server version, pg_dump version

    const entries = new Map<number, TocEntry>();
    const count = yield* int();
    for (let n = 0; n < count; n++) {
      const dumpId = yield* int();
      yield* int(); // has data
      yield* str(); // catalog table oid
      yield* str(); // oid
      const tag = (yield* str()) ?? "";
      const desc = (yield* str()) ?? "";
      yield* int(); // section
      yield* str(); // definition
      yield* str(); // drop statement
      yield* str(); // copy statement
      const schema = (yield* str()) ?? "";
      yield* str(); // tablespace
      if (archive >= version(1, 14, 0)) yield* str(); // table access method
      if (archive >= version(1, 16, 0)) yield* int(); // relkind
      const owner = (yield* str()) ?? "";
      yield* str(); // "with oids"
      const dependencies: number[] = [];
      for (let dep = yield* str(); dep !== null; dep = yield* str()) dependencies.push(Number(dep));
      yield { read: 1 + offSize! }; // data offset
      entries.set(dumpId, { dumpId, desc, schema, tag, owner, dependencies });
    }
    this.contents = [...entries.values()];

    for (;;) {
      if ((yield { atEnd: true }) as boolean) return;
      const [type] = (yield { read: 1 }) as Uint8Array;
      const dumpId = yield* int();
      if (type === BLOCK_DATA) {
        const run = (yield { run: true }) as ChunkRun;
        const rows = run.newlines - (run.endsWithEndOfCopy() ? 3 : 0);
        const entry = entries.get(dumpId);
        if (entry?.desc === "TABLE DATA") this.tables.push({ schema: entry.schema, table: entry.tag, rows });
      } else if (type === BLOCK_BLOBS) {
        while ((yield* int()) !== 0) yield { run: true };
      } else {
        throw new Error(`unknown data block type ${type} for entry ${dumpId}`);
      }
    }
  }
}

function countNewlines(chunk: Uint8Array, from: number, to: number): number {
  let n = 0;
  for (let at = chunk.indexOf(NEWLINE, from); at !== -1 && at < to; at = chunk.indexOf(NEWLINE, at + 1)) n++;
  return n;
}
