/**
 * @module Exporting every key of a state directory into one offline file, and
 * importing such a file into a (new) state directory: the format
 * `lifeboat-keys/1`, described in docs/security.md.
 *
 * Key material goes only into the export file and the state directory's key
 * files: never into return values meant for output, nor into error messages
 * (which name files and fields, never their contents).
 */
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { recipientOf } from "../core/age-keys";
import { LifeboatError, messageOf } from "../core/errors";
import { LIFEBOAT_VERSION } from "../core/version";
import { BLOB_AREA, HostKeys } from "./host-keys";
import { loadKeys, statePaths } from "./keys";

/** The format tag of an export; a change a reader must understand gets a new number. */
export const KEY_EXPORT_FORMAT = "lifeboat-keys/1";

/** One age key of `host-keys/` in an export. */
export interface ExportedAgeKey {
  /** A host's inventory name, or `_blobs` for the blob area. */
  name: string;
  state: "current" | "retired";
  /** Where it lives in the state directory, e.g. `host-keys/alpha.key`, `host-keys/retired/alpha.20261101T120000Z.key`. */
  file: string;
  /** ISO time, or "" when the key file did not say. */
  created: string;
  recipient: string;
  /** `AGE-SECRET-KEY-1...` */
  identity: string;
}

/** A `lifeboat-keys/1` document: every key of one state directory. */
export interface KeyExport {
  format: typeof KEY_EXPORT_FORMAT;
  warning: string;
  exportedAt: string;
  exportedBy: string;
  signingKey: { publicKey: string; privateKeyPem: string };
  masterIdentity: { created: string; recipient: string; identity: string };
  blobNamingKey: { key: string };
  hostKeys: ExportedAgeKey[];
}

/** The public parts of an export: what may be printed. */
export interface KeySummary {
  format: string;
  /** Raw Ed25519 public key, base64: what hosts pin. */
  signingPublicKey: string;
  masterRecipient: string;
  keys: { name: string; recipient: string; created: string; retired: boolean }[];
}

const WARNING =
  "SECRET. Anyone holding this file can read every snapshot and sign jobs that every host pinned to this controller runs. Keep it offline; import it with: controller keys import FILE --state DIR";

/** The public parts of an export document. */
export function summaryOf(doc: KeyExport): KeySummary {
  return {
    format: doc.format,
    signingPublicKey: doc.signingKey.publicKey,
    masterRecipient: doc.masterIdentity.recipient,
    keys: doc.hostKeys.map((k) => ({ name: k.name, recipient: k.recipient, created: k.created, retired: k.state === "retired" })),
  };
}

/** Reads every key of `stateDir` into an export document. @throws LifeboatError("KEYS") when the state directory is not initialized or a key is unreadable. */
export async function collectKeys(stateDir: string, now = new Date()): Promise<KeyExport> {
  const keys = await loadKeys(stateDir);
  const p = statePaths(stateDir);
  const ageText = fs.readFileSync(p.ageIdentity, "utf8");
  const hostKeys = (await new HostKeys(stateDir).list()).map(
    (k): ExportedAgeKey => ({
      name: k.name,
      state: k.retired ? "retired" : "current",
      file: path.relative(stateDir, k.file).split(path.sep).join("/"),
      created: k.created,
      recipient: k.recipient,
      identity: k.identity,
    }),
  );
  return {
    format: KEY_EXPORT_FORMAT,
    warning: WARNING,
    exportedAt: now.toISOString(),
    exportedBy: `lifeboat ${LIFEBOAT_VERSION}`,
    signingKey: { publicKey: keys.publicKey, privateKeyPem: keys.signingKey.export({ format: "pem", type: "pkcs8" }).toString() },
    masterIdentity: { created: /# created: (\S+)/.exec(ageText)?.[1] ?? "", recipient: keys.ageRecipient, identity: keys.ageIdentity },
    blobNamingKey: { key: keys.blobKey },
    hostKeys,
  };
}

/**
 * Writes every key of `stateDir` to `outFile`: created exclusively (an existing
 * file is never overwritten), mode 0600. Returns only public parts.
 * @throws LifeboatError("KEYS") when `outFile` exists, or the state directory cannot be read.
 */
export async function exportKeys(stateDir: string, outFile: string, now = new Date()): Promise<KeySummary & { file: string }> {
  const doc = await collectKeys(stateDir, now);
  const text = `${JSON.stringify(doc, null, 2)}\n`;
  try {
    await parseKeyExport(text, outFile); // what we write must import
  } catch (err) {
    throw new LifeboatError("KEYS", `Cannot export the keys of "${stateDir}": ${messageOf(err).replace(/^Cannot import keys from "[^"]*": /, "")}`, {
      hint: "a key file of the state directory does not fit the export format (a file added by hand?); nothing was written",
    });
  }
  let fd: number;
  try {
    // O_EXCL: never overwrite a file, nor write through a symlink planted in its place.
    fd = fs.openSync(outFile, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o600);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "EEXIST") {
      throw new LifeboatError("KEYS", `Cannot write the key export "${outFile}": the file already exists (an export never overwrites a file)`, {
        hint: `give a new file name with --out, or move "${outFile}" away first if you mean to replace it`,
      });
    }
    if (code === "ENOENT") {
      throw new LifeboatError("KEYS", `Cannot write the key export "${outFile}": the directory "${path.dirname(outFile)}" does not exist`, { hint: "create it first, or give another --out FILE" });
    }
    throw new LifeboatError("KEYS", `Cannot write the key export "${outFile}": ${messageOf(err)}`, { cause: err });
  }
  try {
    fs.fchmodSync(fd, 0o600);
    fs.writeSync(fd, text);
    fs.fsyncSync(fd);
  } catch (err) {
    fs.closeSync(fd);
    fs.rmSync(outFile, { force: true });
    throw new LifeboatError("KEYS", `Cannot write the key export "${outFile}": ${messageOf(err)}`, { hint: "check free space; the partial file was removed", cause: err });
  }
  fs.closeSync(fd);
  return { file: outFile, ...summaryOf(doc) };
}

const NAME = /^(?:_blobs|[A-Za-z0-9][A-Za-z0-9._-]*)$/;
const KEY_FILE = /^host-keys\/(retired\/)?([^/]+?)(\.\d{8}T\d{6}Z)?\.key$/;
const BASE64_32 = /^[A-Za-z0-9+/]{43}=$/;

function invalid(file: string, what: string): LifeboatError {
  return new LifeboatError("KEYS", `Cannot import keys from "${file}": ${what}`, {
    hint: `give the file written by: controller keys export --out FILE (format ${KEY_EXPORT_FORMAT}, see docs/security.md)`,
  });
}

function object(value: unknown, file: string, field: string): Record<string, unknown> {
  if (value === null || typeof value !== "object" || Array.isArray(value)) throw invalid(file, `${field} is missing or not an object`);
  return value as Record<string, unknown>;
}

function str(obj: Record<string, unknown>, key: string, file: string, field: string): string {
  const value = obj[key];
  if (typeof value !== "string") throw invalid(file, `${field}.${key} is missing or not a string`);
  return value;
}

async function ageKey(identity: string, recipient: string, file: string, field: string): Promise<void> {
  if (!/^AGE-SECRET-KEY-1[0-9A-Z]+$/.test(identity)) throw invalid(file, `${field}.identity is not an age identity (AGE-SECRET-KEY-1...)`);
  let derived: string;
  try {
    derived = await recipientOf(identity);
  } catch {
    throw invalid(file, `${field}.identity is not a valid age identity (bad checksum or length)`);
  }
  if (derived !== recipient) throw invalid(file, `${field}.recipient does not belong to ${field}.identity (the file was edited or damaged)`);
}

function created(value: string, file: string, field: string): string {
  // It goes into a comment line of the key file: one word, as `# created: (\S+)` reads it.
  if (!/^\S{0,64}$/.test(value)) throw invalid(file, `${field}.created is not a time stamp (one word, e.g. 2026-11-30T12:00:00.000Z)`);
  return value;
}

/**
 * Parses and checks a `lifeboat-keys/1` document: its format, every key's
 * syntax, that each recipient and public key belongs to its secret half, and
 * each key file's place in the state directory. `file` names it in errors.
 * @throws LifeboatError("KEYS") naming the field, never its value.
 */
export async function parseKeyExport(input: string, file: string): Promise<KeyExport> {
  let raw: unknown;
  try {
    raw = JSON.parse(input);
  } catch {
    // JSON.parse's message quotes the input: it could be key material.
    throw invalid(file, `it is not JSON (a ${KEY_EXPORT_FORMAT} export is a JSON document)`);
  }
  const doc = object(raw, file, "the document");
  if (doc.format !== KEY_EXPORT_FORMAT) {
    const format = typeof doc.format === "string" && /^lifeboat-keys\/\d+$/.test(doc.format) ? doc.format : undefined;
    if (format) {
      throw new LifeboatError("KEYS", `Cannot import keys from "${file}": its format is ${format}, this Lifeboat (${LIFEBOAT_VERSION}) reads ${KEY_EXPORT_FORMAT}`, {
        hint: "import it with the Lifeboat release that wrote it, or a newer one",
      });
    }
    throw invalid(file, `it is not a Lifeboat key export ("format" is not "${KEY_EXPORT_FORMAT}")`);
  }

  const signing = object(doc.signingKey, file, "signingKey");
  const pem = str(signing, "privateKeyPem", file, "signingKey");
  const publicKey = str(signing, "publicKey", file, "signingKey");
  let key: crypto.KeyObject;
  try {
    key = crypto.createPrivateKey({ key: pem, format: "pem" });
  } catch {
    throw invalid(file, "signingKey.privateKeyPem is not a PEM private key");
  }
  if (key.asymmetricKeyType !== "ed25519") throw invalid(file, `signingKey.privateKeyPem is a ${key.asymmetricKeyType ?? "unknown"} key, not Ed25519`);
  if (rawPublicKey(key) !== publicKey) throw invalid(file, "signingKey.publicKey does not belong to signingKey.privateKeyPem (the file was edited or damaged)");

  const master = object(doc.masterIdentity, file, "masterIdentity");
  const masterIdentity = { created: created(typeof master.created === "string" ? master.created : "", file, "masterIdentity"), recipient: str(master, "recipient", file, "masterIdentity"), identity: str(master, "identity", file, "masterIdentity") };
  await ageKey(masterIdentity.identity, masterIdentity.recipient, file, "masterIdentity");

  const blobKey = str(object(doc.blobNamingKey, file, "blobNamingKey"), "key", file, "blobNamingKey");
  if (!BASE64_32.test(blobKey)) throw invalid(file, "blobNamingKey.key is not 32 bytes of base64");

  if (!Array.isArray(doc.hostKeys)) throw invalid(file, "hostKeys is missing or not a list");
  const hostKeys: ExportedAgeKey[] = [];
  const files = new Set<string>();
  for (const [i, item] of (doc.hostKeys as unknown[]).entries()) {
    const field = `hostKeys[${i}]`;
    const entry = object(item, file, field);
    const k: ExportedAgeKey = {
      name: str(entry, "name", file, field),
      state: str(entry, "state", file, field) as ExportedAgeKey["state"],
      file: str(entry, "file", file, field),
      created: created(typeof entry.created === "string" ? entry.created : "", file, field),
      recipient: str(entry, "recipient", file, field),
      identity: str(entry, "identity", file, field),
    };
    // Values that fail a check are never quoted back: a damaged file could have key material anywhere.
    if (!NAME.test(k.name)) throw invalid(file, `${field}.name is not a host name or ${BLOB_AREA}`);
    if (k.state !== "current" && k.state !== "retired") throw invalid(file, `${field}.state is neither "current" nor "retired"`);
    const place = KEY_FILE.exec(k.file);
    if (!place || place[2] !== k.name || Boolean(place[1]) !== (k.state === "retired") || (!place[1] && place[3])) {
      throw invalid(file, `${field}.file is not where a ${k.state} key of "${k.name}" lives (host-keys/${k.state === "retired" ? "retired/NAME.STAMP" : "NAME"}.key)`);
    }
    if (files.has(k.file)) throw invalid(file, `${field}.file "${k.file}" appears twice`);
    files.add(k.file);
    await ageKey(k.identity, k.recipient, file, field);
    hostKeys.push(k);
  }
  return {
    format: KEY_EXPORT_FORMAT,
    warning: typeof doc.warning === "string" ? doc.warning : WARNING,
    exportedAt: typeof doc.exportedAt === "string" ? doc.exportedAt : "",
    exportedBy: typeof doc.exportedBy === "string" ? doc.exportedBy : "",
    signingKey: { publicKey, privateKeyPem: key.export({ format: "pem", type: "pkcs8" }).toString() },
    masterIdentity,
    blobNamingKey: { key: blobKey },
    hostKeys,
  };
}

/** What {@link importKeys} did. */
export interface ImportResult extends KeySummary {
  stateDir: string;
  /** Key files written. */
  written: string[];
  /** Key files that were already there with the same key. */
  kept: string[];
}

/** One key file an import writes, and how to tell whether an existing file holds the same key. */
interface PlannedFile {
  file: string;
  what: string;
  content: string;
  same(existing: string): boolean;
}

function identityLine(content: string): string | undefined {
  return content
    .split("\n")
    .map((l) => l.trim())
    .find((l) => l.startsWith("AGE-SECRET-KEY-1"));
}

function sameSigningKey(existing: string, pem: string): boolean {
  try {
    const der = (k: crypto.KeyObject) => k.export({ format: "der", type: "pkcs8" });
    return der(crypto.createPrivateKey(existing)).equals(der(crypto.createPrivateKey(pem)));
  } catch {
    return false;
  }
}

function plan(stateDir: string, doc: KeyExport): PlannedFile[] {
  const p = statePaths(stateDir);
  const ageFile = (lines: string[], identity: string) => `${lines.filter(Boolean).join("\n")}\n${identity}\n`;
  const m = doc.masterIdentity;
  return [
    { file: p.signingKey, what: "signing key", content: doc.signingKey.privateKeyPem, same: (e) => sameSigningKey(e, doc.signingKey.privateKeyPem) },
    {
      file: p.ageIdentity,
      what: "master age identity",
      content: ageFile([m.created && `# created: ${m.created}`, `# public key: ${m.recipient}`], m.identity),
      same: (e) => identityLine(e) === m.identity,
    },
    { file: p.blobKey, what: "blob naming key", content: `${doc.blobNamingKey.key}\n`, same: (e) => e.trim() === doc.blobNamingKey.key },
    ...doc.hostKeys.map(
      (k): PlannedFile => ({
        file: path.join(stateDir, ...k.file.split("/")),
        what: `${k.state} age key of ${k.name === BLOB_AREA ? "the blob area" : `host "${k.name}"`}`,
        content: ageFile([`# host: ${k.name}`, k.created && `# created: ${k.created}`, `# public key: ${k.recipient}`], k.identity),
        same: (e) => identityLine(e) === k.identity,
      }),
    ),
  ];
}

/**
 * Fills `stateDir` with the keys of the export `file`, in the layout and modes
 * of a state directory (directories 0700, key files 0600). A key file that is
 * already there with the same key is kept; when any holds a different key (or
 * is not a regular file), nothing at all is written.
 * @throws LifeboatError("KEYS") for an unreadable or invalid export, or a conflicting key file.
 */
export async function importKeys(stateDir: string, file: string): Promise<ImportResult> {
  let input: string;
  try {
    input = fs.readFileSync(file, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new LifeboatError("KEYS", `Cannot import keys from "${file}": ${code === "ENOENT" ? "the file does not exist" : messageOf(err)}`, {
      hint: "give the file written by: controller keys export --out FILE",
    });
  }
  const doc = await parseKeyExport(input, file);
  if (fs.existsSync(stateDir) && !fs.statSync(stateDir).isDirectory()) {
    throw new LifeboatError("KEYS", `Cannot import keys into "${stateDir}": it is not a directory`, { hint: "give an empty or new directory with --state DIR" });
  }

  const planned = plan(stateDir, doc);
  const toWrite: PlannedFile[] = [];
  const kept: string[] = [];
  const conflicts: PlannedFile[] = [];
  for (const f of planned) {
    let stat: fs.Stats | undefined;
    try {
      stat = fs.lstatSync(f.file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw new LifeboatError("KEYS", `Cannot import keys into "${stateDir}": cannot check "${f.file}": ${messageOf(err)}`, { cause: err });
    }
    if (!stat) toWrite.push(f);
    else if (stat.isFile() && f.same(fs.readFileSync(f.file, "utf8"))) kept.push(f.file);
    else conflicts.push(f);
  }
  if (conflicts.length > 0) {
    const first = conflicts[0]!;
    const more = conflicts.length > 1 ? ` (and ${conflicts.length - 1} more: ${conflicts.slice(1).map((c) => `"${c.file}"`).join(", ")})` : "";
    throw new LifeboatError("KEYS", `Cannot import keys into "${stateDir}": "${first.file}" already holds a different ${first.what}${more}; nothing was written`, {
      hint: `import into an empty state directory: controller keys import ${file} --state NEW_DIR  (never replace a key that may still be needed: snapshots or hosts may depend on it)`,
    });
  }

  const made: string[] = [];
  const mkdir = (dir: string) => {
    if (fs.existsSync(dir)) return;
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    fs.chmodSync(dir, 0o700);
  };
  try {
    mkdir(stateDir);
    fs.chmodSync(stateDir, 0o700);
    for (const f of toWrite) {
      mkdir(path.dirname(f.file));
      // "wx": a key that appeared since the check is never overwritten.
      fs.writeFileSync(f.file, f.content, { mode: 0o600, flag: "wx" });
      made.push(f.file);
      fs.chmodSync(f.file, 0o600);
    }
  } catch (err) {
    for (const f of made) fs.rmSync(f, { force: true });
    throw new LifeboatError("KEYS", `Cannot import keys into "${stateDir}": ${messageOf(err)}`, { hint: "the files this import wrote were removed; fix the cause and import again", cause: err });
  }
  // Derived from the signing key (as `init` writes it): what an operator compares with a host's pinned.json.
  fs.writeFileSync(statePaths(stateDir).signingPublic, `${doc.signingKey.publicKey}\n`, { mode: 0o644 });
  return { stateDir, written: made, kept, ...summaryOf(doc) };
}

function rawPublicKey(privateKey: crypto.KeyObject): string {
  const der = crypto.createPublicKey(privateKey).export({ format: "der", type: "spki" });
  return der.subarray(der.length - 32).toString("base64");
}
