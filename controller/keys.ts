/** @module The controller's state directory: Ed25519 signing key, age identity, ledger. */
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { generateIdentity, recipientOf } from "../core/age-keys";
import { LifeboatError } from "../core/errors";

/** The files of a state directory. */
export function statePaths(stateDir: string) {
  return {
    dir: stateDir,
    signingKey: path.join(stateDir, "signing-key.pem"),
    signingPublic: path.join(stateDir, "signing-key.pub"),
    ageIdentity: path.join(stateDir, "age-identity.txt"),
    blobKey: path.join(stateDir, "blob-key"),
    ledger: path.join(stateDir, "ledger.db"),
  };
}

/** The controller's keys, loaded. */
export interface ControllerKeys {
  signingKey: crypto.KeyObject;
  /** Raw 32-byte Ed25519 public key, base64: what hosts pin. */
  publicKey: string;
  /** `AGE-SECRET-KEY-1...`: decrypts every snapshot. Never logged. */
  ageIdentity: string;
  /** `age1...`: the controller's own recipient. */
  ageRecipient: string;
  /** Names content-addressed blobs (base64, 32 bytes); fleet-wide so equal content is stored once. */
  blobKey: string;
}

/**
 * A host's chunk naming key (base64, 32 bytes), derived from the blob naming
 * key: HMAC-SHA-256(blob key, "lifeboat-chunk-names/1\n" + host + "\n" +
 * recipient of the host's current key). Per host, so equal content is stored
 * once per host and no host can test for another's chunks; it changes when the
 * host key is rotated, so chunks encrypted to the new key never take the names
 * (and object keys) of chunks encrypted to the retired one.
 */
export function chunkNamingKey(blobKey: string, host: string, hostRecipient: string): string {
  return crypto.createHmac("sha256", Buffer.from(blobKey, "base64")).update(`lifeboat-chunk-names/1\n${host}\n${hostRecipient}`).digest("base64");
}

/** What `init` did. */
export interface InitResult {
  created: string[];
  kept: string[];
  ageRecipient: string;
  publicKey: string;
}

/**
 * Creates the state directory and any missing key; never overwrites an existing key.
 * Directory 0700, key files 0600.
 */
export async function initState(stateDir: string): Promise<InitResult> {
  const p = statePaths(stateDir);
  fs.mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  fs.chmodSync(stateDir, 0o700);
  const created: string[] = [];
  const kept: string[] = [];
  if (fs.existsSync(p.signingKey)) {
    kept.push(p.signingKey);
  } else {
    const { privateKey } = crypto.generateKeyPairSync("ed25519");
    writeNew(p.signingKey, privateKey.export({ format: "pem", type: "pkcs8" }).toString());
    created.push(p.signingKey);
  }
  const signingKey = readSigningKey(p.signingKey);
  const publicKey = rawPublicKey(signingKey);
  fs.writeFileSync(p.signingPublic, `${publicKey}\n`, { mode: 0o644 });
  if (fs.existsSync(p.ageIdentity)) {
    kept.push(p.ageIdentity);
  } else {
    const { identity, recipient } = await generateIdentity();
    writeNew(p.ageIdentity, `# created: ${new Date().toISOString()}\n# public key: ${recipient}\n${identity}\n`);
    created.push(p.ageIdentity);
  }
  if (fs.existsSync(p.blobKey)) kept.push(p.blobKey);
  else {
    writeNew(p.blobKey, `${crypto.randomBytes(32).toString("base64")}\n`);
    created.push(p.blobKey);
  }
  const keys = await loadKeys(stateDir);
  return { created, kept, ageRecipient: keys.ageRecipient, publicKey };
}

/**
 * Loads the keys of an initialized state directory.
 * @throws LifeboatError("KEYS") when a key is missing or unreadable, with the fix.
 */
export async function loadKeys(stateDir: string): Promise<ControllerKeys> {
  const p = statePaths(stateDir);
  for (const file of [p.signingKey, p.ageIdentity]) {
    if (!fs.existsSync(file)) {
      throw new LifeboatError("KEYS", `Cannot load the controller keys: "${file}" does not exist`, {
        hint: `run: controller init --state ${stateDir}  (or point --state / LIFEBOAT_STATE at your state directory)`,
      });
    }
  }
  const signingKey = readSigningKey(p.signingKey);
  const identityLine = fs
    .readFileSync(p.ageIdentity, "utf8")
    .split("\n")
    .map((l) => l.trim())
    .find((l) => l.startsWith("AGE-SECRET-KEY-1"));
  if (!identityLine) {
    throw new LifeboatError("KEYS", `Cannot load the age identity "${p.ageIdentity}": no AGE-SECRET-KEY-1 line`, {
      hint: "restore the file from your key backup; without it, existing snapshots cannot be decrypted",
    });
  }
  if (!fs.existsSync(p.blobKey)) {
    throw new LifeboatError("KEYS", `Cannot load the blob key "${p.blobKey}": it does not exist`, { hint: `run: controller init --state ${stateDir} (it adds missing keys and keeps existing ones)` });
  }
  return {
    blobKey: fs.readFileSync(p.blobKey, "utf8").trim(),
    signingKey,
    publicKey: rawPublicKey(signingKey),
    ageIdentity: identityLine,
    ageRecipient: await recipientOf(identityLine),
  };
}

function readSigningKey(file: string): crypto.KeyObject {
  try {
    const key = crypto.createPrivateKey(fs.readFileSync(file));
    if (key.asymmetricKeyType !== "ed25519") throw new Error(`expected an Ed25519 key, got ${key.asymmetricKeyType}`);
    return key;
  } catch (err) {
    throw new LifeboatError("KEYS", `Cannot load the signing key "${file}": ${(err as Error).message}`, {
      hint: "restore the file from your key backup, or move it away and run controller init (hosts must then be reinstalled)",
    });
  }
}

function rawPublicKey(privateKey: crypto.KeyObject): string {
  const der = crypto.createPublicKey(privateKey).export({ format: "der", type: "spki" });
  return der.subarray(der.length - 32).toString("base64");
}

function writeNew(file: string, content: string): void {
  // "wx": never overwrite a key that appeared in the meantime.
  fs.writeFileSync(file, content, { mode: 0o600, flag: "wx" });
  fs.chmodSync(file, 0o600);
}
