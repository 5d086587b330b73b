/**
 * @module A tar stream as units for chunked backups: each large file is a
 * unit of its own, small entries are grouped (group ends chosen by their
 * names, so an added or removed file changes only its own group), and the
 * end-of-archive blocks close the last unit. A unit's cache key covers every
 * fact its bytes come from, so an unchanged unit is not read again.
 */
import type { FileInfo, Platform } from "../../../core/platform";
import type { ArtifactUnit } from "../../contract";
import { END_OF_ARCHIVE, writeEntry, type TarEntry, type TarWriteOptions } from "./writer";

/** A file this large (or larger) is a unit of its own. */
export const LARGE_FILE = 1024 * 1024;
/** A group of small entries ends after this many bytes of files at the latest. */
const GROUP_BYTES = 8 * 1024 * 1024;
/** A group ends after an entry whose name hashes to 0 modulo this (about 32 entries per group). */
const GROUP_SPREAD = 32;

/** An entry to write, with the `lstat` the walk saw (files: at their source). */
export interface UnitEntry extends TarEntry {
  info: FileInfo;
}

/** FNV-1a of a string: cheap and stable, to end groups at names rather than at counts. */
function nameHash(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** What of an entry its bytes depend on (the header's fields and, for a file, the identity of its content). */
function describe(entry: TarEntry, info: FileInfo | null): string {
  const h = entry.header;
  const content = info && h.type === "file" ? [info.size, info.mtimeMs, info.ctimeMs, info.ino, info.dev] : [];
  return JSON.stringify([h.name, h.type, h.mode, h.uid, h.gid, h.uname ?? "", h.gname ?? "", h.mtime, h.size, h.linkname, ...content]);
}

/** True when two `lstat`s of one file say its content may differ. */
function changed(a: FileInfo, b: FileInfo): boolean {
  return a.size !== b.size || a.mtimeMs !== b.mtimeMs || a.ctimeMs !== b.ctimeMs || a.ino !== b.ino || a.dev !== b.dev || a.kind !== b.kind;
}

/** A file entry's header as of a fresh `lstat`. */
function refreshed(entry: TarEntry, info: FileInfo): TarEntry {
  return { ...entry, header: { ...entry.header, size: info.size, mode: info.mode, uid: info.uid, gid: info.gid, mtime: Math.floor(info.mtimeMs / 1000) } };
}

/** One unit: a run of entries (and the archive's end, for the last). */
class TarUnit implements ArtifactUnit {
  readonly cacheKey: string;
  private readKey: string | null = null;

  constructor(
    private readonly platform: Platform,
    private readonly entries: UnitEntry[],
    private readonly last: boolean,
    private readonly options: TarWriteOptions,
  ) {
    this.cacheKey = this.keyOf(entries.map((e) => describe(e, e.info)));
  }

  private keyOf(lines: string[]): string {
    const hash = this.platform.sha256();
    hash.update(new TextEncoder().encode(`lifeboat-tar-unit/1${this.last ? " end" : ""}\n${lines.join("\n")}`));
    return hash.digestHex();
  }

  /** Files are `lstat`ed again as they are read: their headers say what was read, and a change during the read makes the unit torn. */
  async *read(): AsyncIterable<Uint8Array> {
    const lines: string[] = [];
    let torn = false;
    this.readKey = null;
    for (const entry of this.entries) {
      if (entry.header.type !== "file" || !entry.source) {
        lines.push(describe(entry, entry.info));
        yield* writeEntry(this.platform, entry, this.options);
        continue;
      }
      let before: FileInfo;
      try {
        before = await this.platform.lstat(entry.source);
      } catch (err) {
        if (this.options.onUnreadable?.(entry, err)) continue;
        throw err;
      }
      if (before.kind !== "file") {
        torn = true; // replaced by something else since the walk: read again from a new walk next time
        continue;
      }
      const fresh = refreshed(entry, before);
      let skipped = true;
      let sizeChanged = false;
      for await (const bytes of writeEntry(this.platform, fresh, { onUnreadable: this.options.onUnreadable, onChanged: () => (sizeChanged = true) })) {
        skipped = false;
        yield bytes;
      }
      if (skipped) continue;
      const after = await this.platform.lstat(entry.source).catch(() => null);
      if (sizeChanged || !after || changed(before, after)) torn = true;
      lines.push(describe(fresh, before));
    }
    if (this.last) yield END_OF_ARCHIVE;
    this.readKey = torn ? null : this.keyOf(lines);
  }

  settled(): string | null {
    return this.readKey;
  }
}

/**
 * The units of a tar stream of `entries` (the bytes are those of writeTar's
 * stream, except that a file changing while it is read is read again rather
 * than padded, by the chunked backup that consumes the units).
 */
export async function* tarUnits(platform: Platform, entries: AsyncIterable<UnitEntry>, options: TarWriteOptions = {}): AsyncIterable<ArtifactUnit> {
  let group: UnitEntry[] = [];
  let groupBytes = 0;
  let pending: UnitEntry[] | null = null;
  // Each unit is given out once the next is known, so that the last one can carry the archive's end.
  const ready = function* (next: UnitEntry[]) {
    if (pending) yield new TarUnit(platform, pending, false, options);
    pending = next;
  };
  for await (const entry of entries) {
    if (entry.header.type === "file" && entry.header.size >= LARGE_FILE) {
      if (group.length > 0) yield* ready(group);
      [group, groupBytes] = [[], 0];
      yield* ready([entry]);
      continue;
    }
    group.push(entry);
    groupBytes += entry.header.size;
    if (nameHash(entry.header.name) % GROUP_SPREAD === 0 || groupBytes >= GROUP_BYTES) {
      yield* ready(group);
      [group, groupBytes] = [[], 0];
    }
  }
  if (group.length > 0) yield* ready(group);
  yield new TarUnit(platform, pending ?? [], true, options);
}
