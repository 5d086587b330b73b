/**
 * @module OpenSSH known_hosts files: reading (plain names, `[host]:port`, comma
 * lists with `*`/`?`/`!` patterns, hashed `|1|salt|hash` names, `@revoked`,
 * `@cert-authority`), looking a host key up, and recording a new one.
 */
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { matchesPatternList } from "../../core/ssh-patterns";

/** One key line of a known_hosts file. */
export interface KnownHostEntry {
  file: string;
  /** 1-based line number, for messages such as `~/.ssh/known_hosts:12`. */
  line: number;
  marker?: "@revoked" | "@cert-authority";
  /** The host field as written: patterns, or a hashed `|1|salt|hash` name. */
  hosts: string;
  keyType: string;
  keyBase64: string;
}

/** The outcome of looking up a host key; `file`/`line` point at the deciding entry. */
export type KnownHostResult =
  | { status: "match"; file: string; line: number }
  | { status: "unknown" }
  /** The host is known with another key (of this or another type): treat as changed. */
  | { status: "mismatch"; file: string; line: number; keyType: string }
  /** The offered key is listed as `@revoked`: always refuse. */
  | { status: "revoked"; file: string; line: number };

/** The name under which OpenSSH records a host: `host` on port 22, `[host]:port` otherwise. */
export function hostPattern(hostname: string, port: number): string {
  return port === 22 ? hostname : `[${hostname}]:${port}`;
}

/**
 * Reads the key lines of a known_hosts file; a missing file has none.
 * Comments, blank lines and lines too short to hold a key are skipped.
 */
export function readKnownHostsFile(file: string): KnownHostEntry[] {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw err;
  }
  const entries: KnownHostEntry[] = [];
  for (const [i, raw] of text.split("\n").entries()) {
    const fields = raw.trim().split(/\s+/);
    if (fields[0] === "" || fields[0]!.startsWith("#")) continue;
    let marker: KnownHostEntry["marker"];
    if (fields[0] === "@revoked" || fields[0] === "@cert-authority") marker = fields.shift() as KnownHostEntry["marker"];
    else if (fields[0]!.startsWith("@")) continue; // an unknown marker: OpenSSH ignores the line too
    const [hosts, keyType, keyBase64] = fields;
    if (!hosts || !keyType || !keyBase64) continue;
    entries.push({ file, line: i + 1, ...(marker ? { marker } : {}), hosts, keyType, keyBase64 });
  }
  return entries;
}

/** True when the host field of an entry names `hostname:port` (hashed or by pattern; a `!pattern` hit excludes). */
export function hostFieldMatches(hosts: string, hostname: string, port: number): boolean {
  const name = hostPattern(hostname.toLowerCase(), port);
  if (hosts.startsWith("|1|")) {
    const [, , salt, hash] = hosts.split("|");
    if (!salt || !hash) return false;
    return crypto.createHmac("sha1", Buffer.from(salt, "base64")).update(name).digest("base64") === hash;
  }
  return matchesPatternList(hosts.split(","), name);
}

function entriesFor(files: string[], hostname: string, port: number): KnownHostEntry[] {
  return files.flatMap(readKnownHostsFile).filter((e) => e.marker !== "@cert-authority" && hostFieldMatches(e.hosts, hostname, port));
}

/**
 * Looks up the key `keyType`/`keyBase64` offered by `hostname:port` in `files`
 * (in order; missing files are skipped). A `@revoked` entry wins over any match;
 * a host known only with other keys is a mismatch, as in OpenSSH.
 * @throws the file system error when a file exists but cannot be read.
 */
export function checkKnownHost(files: string[], hostname: string, port: number, keyType: string, keyBase64: string): KnownHostResult {
  const entries = entriesFor(files, hostname, port);
  const same = (e: KnownHostEntry) => e.keyType === keyType && e.keyBase64 === keyBase64;
  const revoked = entries.find((e) => e.marker === "@revoked" && same(e));
  if (revoked) return { status: "revoked", file: revoked.file, line: revoked.line };
  const plain = entries.filter((e) => e.marker === undefined);
  const match = plain.find(same);
  if (match) return { status: "match", file: match.file, line: match.line };
  const other = plain.find((e) => e.keyType === keyType) ?? plain[0];
  if (other) return { status: "mismatch", file: other.file, line: other.line, keyType: other.keyType };
  return { status: "unknown" };
}

/** The key types recorded for `hostname:port`, in file order, without repeats (for host-key algorithm preference). */
export function knownKeyTypes(files: string[], hostname: string, port: number): string[] {
  const types = entriesFor(files, hostname, port).filter((e) => e.marker === undefined).map((e) => e.keyType);
  return [...new Set(types)];
}

/**
 * Appends `hostname:port`'s key to `file` in OpenSSH's form (`[host]:port` for
 * ports other than 22). Creates the directory with mode 0700 and the file with
 * mode 0600 when they do not exist.
 * @throws the file system error when the file cannot be written.
 */
export function addKnownHost(file: string, hostname: string, port: number, keyType: string, keyBase64: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  let prefix = "";
  try {
    const existing = fs.readFileSync(file, "utf8");
    if (existing !== "" && !existing.endsWith("\n")) prefix = "\n";
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
  fs.appendFileSync(file, `${prefix}${hostPattern(hostname, port)} ${keyType} ${keyBase64}\n`, { mode: 0o600 });
}
