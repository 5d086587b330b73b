/** @module POSIX ustar headers with pax extended records: encoding and decoding, shared by writer and reader. */
import { LifeboatError } from "../../../core/errors";

export const BLOCK = 512;

/** One archive entry's metadata. */
export interface TarHeader {
  /** Path inside the archive, without a leading `/`; directories without a trailing `/`. */
  name: string;
  type: "file" | "directory" | "symlink" | "hardlink" | "other";
  /** Permission bits including setuid/setgid/sticky. */
  mode: number;
  uid: number;
  gid: number;
  size: number;
  /** Seconds since the epoch. */
  mtime: number;
  linkname: string;
  uname?: string;
  gname?: string;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const TYPE_FLAGS: Record<TarHeader["type"], number> = { file: 0x30, hardlink: 0x31, symlink: 0x32, directory: 0x35, other: 0x30 };
const MAX_OCTAL_11 = 0o77777777777;
const MAX_OCTAL_7 = 0o7777777;

function writeString(block: Uint8Array, offset: number, length: number, value: string): void {
  block.set(encoder.encode(value).subarray(0, length), offset);
}

function writeOctal(block: Uint8Array, offset: number, length: number, value: number): void {
  writeString(block, offset, length, `${Math.floor(value).toString(8).padStart(length - 1, "0")}\0`);
}

function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  const base = encoder.encode(body).length;
  let length = base + 1;
  while (base + String(length).length !== length) length = base + String(length).length;
  return `${length}${body}`;
}

function ustarBlock(h: TarHeader, name: string, linkname: string, size: number, typeFlag: number): Uint8Array {
  const block = new Uint8Array(BLOCK);
  writeString(block, 0, 100, name);
  writeOctal(block, 100, 8, h.mode & 0o7777);
  writeOctal(block, 108, 8, Math.min(h.uid, MAX_OCTAL_7));
  writeOctal(block, 116, 8, Math.min(h.gid, MAX_OCTAL_7));
  writeOctal(block, 124, 12, Math.min(size, MAX_OCTAL_11));
  writeOctal(block, 136, 12, Math.max(0, Math.min(h.mtime, MAX_OCTAL_11)));
  block.fill(0x20, 148, 156);
  block[156] = typeFlag;
  writeString(block, 157, 100, linkname);
  writeString(block, 257, 6, "ustar\0");
  writeString(block, 263, 2, "00");
  writeString(block, 265, 32, h.uname ?? "");
  writeString(block, 297, 32, h.gname ?? "");
  let sum = 0;
  for (const b of block) sum += b;
  writeString(block, 148, 8, `${sum.toString(8).padStart(6, "0")}\0 `);
  return block;
}

/** Rounds `n` up to a whole number of blocks. */
export function padded(n: number): number {
  return Math.ceil(n / BLOCK) * BLOCK;
}

/**
 * Encodes `h` as one ustar block, preceded by a pax extended header when a
 * value does not fit ustar (long or non-ASCII names, sizes >= 8 GiB, big ids).
 */
export function encodeHeader(h: TarHeader): Uint8Array {
  const name = h.type === "directory" ? `${h.name}/` : h.name;
  const pax: string[] = [];
  const fits = (s: string, max: number) => encoder.encode(s).length <= max && /^[\x20-\x7e]*$/.test(s);
  if (!fits(name, 100)) pax.push(paxRecord("path", name));
  if (!fits(h.linkname, 100)) pax.push(paxRecord("linkpath", h.linkname));
  if (h.size > MAX_OCTAL_11) pax.push(paxRecord("size", String(h.size)));
  if (h.uid > MAX_OCTAL_7) pax.push(paxRecord("uid", String(h.uid)));
  if (h.gid > MAX_OCTAL_7) pax.push(paxRecord("gid", String(h.gid)));
  // ustar's 32-byte name fields hold 31 ASCII characters and a NUL; longer or non-ASCII names go in pax.
  const owner = { uname: h.uname ?? "", gname: h.gname ?? "" };
  for (const key of ["uname", "gname"] as const) {
    if (fits(owner[key], 31)) continue;
    pax.push(paxRecord(key, owner[key]));
    owner[key] = "";
  }
  const main = ustarBlock({ ...h, ...owner }, name, h.linkname, h.type === "file" ? h.size : 0, TYPE_FLAGS[h.type]);
  if (pax.length === 0) return main;
  const body = encoder.encode(pax.join(""));
  const paxHeader = ustarBlock({ ...h, uname: "", gname: "" }, "././@PaxHeader", "", body.length, 0x78);
  const out = new Uint8Array(BLOCK + padded(body.length) + BLOCK);
  out.set(paxHeader, 0);
  out.set(body, BLOCK);
  out.set(main, BLOCK + padded(body.length));
  return out;
}

function readString(block: Uint8Array, offset: number, length: number): string {
  const slice = block.subarray(offset, offset + length);
  const end = slice.indexOf(0);
  return decoder.decode(end < 0 ? slice : slice.subarray(0, end));
}

function readNumber(block: Uint8Array, offset: number, length: number): number {
  if (block[offset]! & 0x80) {
    // GNU base-256 for big values.
    let value = 0;
    for (let i = offset + 1; i < offset + length; i++) value = value * 256 + block[i]!;
    return value;
  }
  const text = readString(block, offset, length).trim();
  return text === "" ? 0 : parseInt(text, 8);
}

/** Parses pax records (`len key=value\n`). */
export function parsePax(body: Uint8Array): Record<string, string> {
  const out: Record<string, string> = {};
  let offset = 0;
  while (offset < body.length) {
    const space = body.indexOf(0x20, offset);
    if (space < 0) break;
    const length = parseInt(decoder.decode(body.subarray(offset, space)), 10);
    if (!Number.isFinite(length) || length <= 0) throw new LifeboatError("INTEGRITY", "Cannot read the tar archive: malformed pax record");
    const record = decoder.decode(body.subarray(space + 1, offset + length - 1));
    const eq = record.indexOf("=");
    if (eq > 0) out[record.slice(0, eq)] = record.slice(eq + 1);
    offset += length;
  }
  return out;
}

/** Raw fields of one header block, or null for an all-zero (end) block. @throws INTEGRITY on a bad checksum. */
export function decodeBlock(block: Uint8Array): { header: TarHeader; typeFlag: string } | null {
  if (block.every((b) => b === 0)) return null;
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : block[i]!;
  if (sum !== readNumber(block, 148, 8)) throw new LifeboatError("INTEGRITY", "Cannot read the tar archive: a header checksum does not match");
  const typeFlag = String.fromCharCode(block[156]! || 0x30);
  const prefix = readString(block, 257, 6).startsWith("ustar") ? readString(block, 345, 155) : "";
  const rawName = readString(block, 0, 100);
  const name = (prefix ? `${prefix}/${rawName}` : rawName).replace(/\/+$/, "");
  const type = typeFlag === "0" || typeFlag === "7" ? "file" : typeFlag === "5" ? "directory" : typeFlag === "2" ? "symlink" : typeFlag === "1" ? "hardlink" : "other";
  return {
    typeFlag,
    header: {
      name,
      type,
      mode: readNumber(block, 100, 8) & 0o7777,
      uid: readNumber(block, 108, 8),
      gid: readNumber(block, 116, 8),
      size: readNumber(block, 124, 12),
      mtime: readNumber(block, 136, 12),
      linkname: readString(block, 157, 100),
      uname: readString(block, 265, 32),
      gname: readString(block, 297, 32),
    },
  };
}
