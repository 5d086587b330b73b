/** @module OpenSSH known_hosts: plain, `[host]:port`, hashed (`|1|salt|hash`) and wildcard entries, `@revoked`. */
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";

/** The outcome of looking up a host key. */
export type KnownHostResult =
  | { status: "match" }
  | { status: "unknown" }
  | { status: "mismatch"; file: string; line: number; knownType: string }
  | { status: "revoked"; file: string; line: number };

/** The name under which OpenSSH records a host: `host` on port 22, `[host]:port` otherwise. */
export function hostPattern(hostname: string, port: number): string {
  return port === 22 ? hostname : `[${hostname}]:${port}`;
}

/** The key type stored in an SSH public key blob (its first string). */
export function keyTypeOf(blob: Buffer): string {
  const length = blob.readUInt32BE(0);
  return blob.subarray(4, 4 + length).toString("ascii");
}

/** `SHA256:...` as `ssh-keygen -l` prints it. */
export function fingerprint(blob: Buffer): string {
  return `SHA256:${crypto.createHash("sha256").update(blob).digest("base64").replace(/=+$/, "")}`;
}

function globMatch(pattern: string, name: string): boolean {
  const re = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".")}$`, "i");
  return re.test(name);
}

function entryMatches(hosts: string, name: string): boolean {
  if (hosts.startsWith("|1|")) {
    const [, , salt, hash] = hosts.split("|");
    if (!salt || !hash) return false;
    return crypto.createHmac("sha1", Buffer.from(salt, "base64")).update(name).digest("base64") === hash;
  }
  let matched = false;
  for (const pattern of hosts.split(",")) {
    if (pattern.startsWith("!")) {
      if (globMatch(pattern.slice(1), name)) return false;
    } else if (globMatch(pattern, name)) matched = true;
  }
  return matched;
}

/**
 * Looks up `blob` for host `hostname:port` in `files` (missing files are skipped).
 * A host known with any other key counts as a mismatch, as in OpenSSH.
 */
export function checkKnownHost(files: string[], hostname: string, port: number, blob: Buffer): KnownHostResult {
  const name = hostPattern(hostname, port);
  const type = keyTypeOf(blob);
  const key = blob.toString("base64");
  let mismatch: KnownHostResult | undefined;
  for (const file of files) {
    if (!fs.existsSync(file)) continue;
    const lines = fs.readFileSync(file, "utf8").split("\n");
    for (const [i, raw] of lines.entries()) {
      const line = raw.trim();
      if (line === "" || line.startsWith("#")) continue;
      const fields = line.split(/\s+/);
      let marker: string | undefined;
      if (fields[0]!.startsWith("@")) marker = fields.shift();
      const [hosts, entryType, entryKey] = fields;
      if (!hosts || !entryType || !entryKey || marker === "@cert-authority") continue;
      if (!entryMatches(hosts, name)) continue;
      if (marker === "@revoked") {
        if (entryKey === key) return { status: "revoked", file, line: i + 1 };
        continue;
      }
      if (entryType === type && entryKey === key) return { status: "match" };
      mismatch ??= { status: "mismatch", file, line: i + 1, knownType: entryType };
    }
  }
  return mismatch ?? { status: "unknown" };
}

/** Appends a host key (creating the file 0600 and its directory 0700). */
export function addKnownHost(file: string, hostname: string, port: number, blob: Buffer): void {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const existing = fs.existsSync(file) ? fs.readFileSync(file, "utf8") : "";
  const prefix = existing === "" || existing.endsWith("\n") ? "" : "\n";
  fs.appendFileSync(file, `${prefix}${hostPattern(hostname, port)} ${keyTypeOf(blob)} ${blob.toString("base64")}\n`, { mode: 0o600 });
}
