/** @module The age v1 header: written natively for X25519 recipients (typage, age-encryption, otherwise) and opened by typage; the file key it wraps drives the payload cipher. */
import { Decrypter, Encrypter, type Recipient } from "age-encryption";
import { LifeboatError, messageOf, redact } from "../../errors";
import type { ByteStream, Platform, X25519 } from "../../platform";
import { decodeX25519Recipient } from "./bech32";
import { chunkCipher, PAYLOAD_NONCE_SIZE } from "./stream";

/** The start of the MAC line that ends every age v1 header. */
const MAC_LINE = new TextEncoder().encode("\n--- ");
/** Real headers are a few hundred bytes per recipient; anything this long is not an age file. */
const MAX_HEADER_BYTES = 1024 * 1024;
/** Bytes of the file key that the header wraps (age v1). */
const FILE_KEY_SIZE = 16;
const X25519_LABEL = "age-encryption.org/v1/X25519";
/** The nonce of a wrapped file key: every wrap key is used once. */
const ZERO_NONCE = new Uint8Array(12);
const EMPTY = new Uint8Array(0);

/**
 * A fresh age v1 header for `recipients` and the 16-byte file key it wraps.
 * When every recipient is an X25519 one (`age1...`) and the platform has native
 * X25519 and HMAC, the stanzas and the MAC are written here (a fraction of a
 * millisecond); otherwise typage writes them, and a capturing recipient learns
 * the file key so that the payload can be sealed with any cipher.
 * @throws LifeboatError("CONFIG") when the list is empty or a recipient is malformed.
 */
export async function createHeader(platform: Platform, recipients: string[]): Promise<{ header: Uint8Array; fileKey: Uint8Array }> {
  if (recipients.length === 0) {
    throw new LifeboatError("CONFIG", "Cannot encrypt an artifact: no age recipients were given", { hint: "list at least one age1... recipient" });
  }
  const x25519 = platform.x25519;
  const hmac = platform.hmacSha256;
  if (x25519 && hmac) {
    const keys = recipients.map(decodeX25519Recipient);
    if (keys.every((k): k is Uint8Array => k !== null)) {
      const native = nativeHeader(platform, x25519, hmac, keys);
      if (native) return native;
    }
  }
  return typageHeader(recipients);
}

/**
 * The header of {@link createHeader} for raw X25519 recipient keys, written as
 * https://age-encryption.org/v1 says: per recipient a fresh ephemeral key pair,
 * the wrap key HKDF-SHA-256(X25519(ephemeral, recipient), ephemeral || recipient,
 * "age-encryption.org/v1/X25519") sealing the file key under a zero nonce; then
 * the MAC, HMAC-SHA-256 under HKDF-SHA-256(file key, "", "header") of the header
 * up to its "---". The file key is wrapped with the platform's ChaCha20-Poly1305
 * or, without one, the pure-JS one. Null when the native X25519 fails or refuses
 * a key (a low-order point), so that typage handles it as it always did.
 */
function nativeHeader(
  platform: Platform,
  x25519: X25519,
  hmac: (key: Uint8Array, data: Uint8Array) => Uint8Array,
  recipientKeys: Uint8Array[],
): { header: Uint8Array; fileKey: Uint8Array } | null {
  const fileKey = platform.randomBytes(FILE_KEY_SIZE);
  const cipher = chunkCipher(platform);
  let text = "age-encryption.org/v1\n";
  for (const recipientKey of recipientKeys) {
    let ephemeral: { secret: Uint8Array; public: Uint8Array };
    let shared: Uint8Array;
    try {
      ephemeral = x25519.generate();
      shared = x25519.sharedSecret(ephemeral.secret, recipientKey);
    } catch {
      return null;
    }
    if (shared.length !== 32 || shared.every((b) => b === 0)) return null;
    const salt = new Uint8Array(64);
    salt.set(ephemeral.public, 0);
    salt.set(recipientKey, 32);
    const wrapKey = platform.hkdfSha256(shared, salt, X25519_LABEL, 32);
    text += `-> X25519 ${base64NoPad(ephemeral.public)}\n${wrapBody(base64NoPad(cipher.seal(wrapKey, ZERO_NONCE, fileKey)))}`;
  }
  text += "---";
  const macKey = platform.hkdfSha256(fileKey, EMPTY, "header", 32);
  const unsealed = new TextEncoder().encode(text);
  text += ` ${base64NoPad(hmac(macKey, unsealed))}\n`;
  return { header: new TextEncoder().encode(text), fileKey };
}

/** A stanza body: lines of 64 columns, ended by a shorter one (possibly empty), each with its newline. */
function wrapBody(base64: string): string {
  let out = "";
  let at = 0;
  for (; at + 64 <= base64.length; at += 64) out += `${base64.slice(at, at + 64)}\n`;
  return `${out}${base64.slice(at)}\n`;
}

const BASE64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/** Standard base64 without padding, as age writes it. */
export function base64NoPad(bytes: Uint8Array): string {
  let out = "";
  let i = 0;
  for (; i + 3 <= bytes.length; i += 3) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    out += BASE64[n >> 18]! + BASE64[(n >> 12) & 63]! + BASE64[(n >> 6) & 63]! + BASE64[n & 63]!;
  }
  const rest = bytes.length - i;
  if (rest === 1) {
    const n = bytes[i]! << 16;
    out += BASE64[n >> 18]! + BASE64[(n >> 12) & 63]!;
  } else if (rest === 2) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8);
    out += BASE64[n >> 18]! + BASE64[(n >> 12) & 63]! + BASE64[(n >> 6) & 63]!;
  }
  return out;
}

/** The header of {@link createHeader} as typage writes it: any recipient type, and the errors of a malformed one. */
async function typageHeader(recipients: string[]): Promise<{ header: Uint8Array; fileKey: Uint8Array }> {
  const encrypter = new Encrypter();
  for (const recipient of recipients) {
    try {
      encrypter.addRecipient(recipient);
    } catch (err) {
      throw new LifeboatError("CONFIG", `Cannot encrypt to recipient "${recipient}": ${messageOf(err)}`, { hint: "recipients must be age public keys (age1...)" });
    }
  }
  let fileKey: Uint8Array | undefined;
  const capture: Recipient = {
    wrapFileKey(key) {
      fileKey = key.slice();
      return [];
    },
  };
  encrypter.addRecipient(capture);
  const sample = await encrypter.encrypt(new Uint8Array(0));
  const macLine = indexOfBytes(sample, MAC_LINE, 0);
  const end = macLine < 0 ? -1 : lineEnd(sample, macLine + MAC_LINE.length);
  if (end < 0 || !fileKey) throw new LifeboatError("INTERNAL", "Cannot encrypt an artifact: age-encryption produced an unexpected header");
  return { header: sample.slice(0, end), fileKey };
}

/**
 * Reads the header and the payload nonce from the start of an age stream.
 * `payload` continues the same stream right after the nonce.
 * @throws LifeboatError("INTEGRITY") when the stream ends first or does not look like age.
 */
export async function readPrologue(ciphertext: ByteStream): Promise<{ header: Uint8Array; nonce: Uint8Array; payload: ByteStream }> {
  const iterator = ciphertext[Symbol.asyncIterator]();
  const buffer = new GrowingBuffer();
  let macLine = -1;
  let end = -1;
  try {
    while (end < 0 || buffer.length < end + PAYLOAD_NONCE_SIZE) {
      const next = await iterator.next();
      if (next.done) throw damagedStream(end < 0 ? "it ends inside the header" : "it ends before the payload");
      const scanFrom = Math.max(0, buffer.length - MAC_LINE.length);
      buffer.append(next.value);
      if (macLine < 0) macLine = indexOfBytes(buffer.bytes, MAC_LINE, scanFrom);
      if (macLine >= 0 && end < 0) end = lineEnd(buffer.bytes, macLine + MAC_LINE.length);
      if (end < 0 && buffer.length > MAX_HEADER_BYTES) throw damagedStream("no age header ends within the first MiB");
    }
  } catch (err) {
    // Release the source (a file handle, a download) but report why we stopped, not how it closed.
    await Promise.resolve(iterator.return?.()).catch(() => {});
    throw err;
  }
  const bytes = buffer.bytes;
  return {
    header: bytes.subarray(0, end),
    nonce: bytes.subarray(end, end + PAYLOAD_NONCE_SIZE),
    payload: continuation(bytes.subarray(end + PAYLOAD_NONCE_SIZE), iterator),
  };
}

/**
 * The file key that `header` wraps for `identity` (`AGE-SECRET-KEY-1...`), with the header MAC checked.
 * Messages never contain the identity.
 * @throws LifeboatError("KEYS") for a malformed identity; LifeboatError("INTEGRITY") when the
 * identity is not a recipient of the file or the header was modified.
 */
export async function openHeader(identity: string, header: Uint8Array): Promise<Uint8Array> {
  const decrypter = decrypterFor(identity.trim());
  try {
    return await decrypter.decryptHeader(header);
  } catch (err) {
    const detail = redact(messageOf(err), [identity.trim()]);
    if (/no identity matched/.test(detail)) {
      throw damagedStream("the identity is not one of its recipients, or its header was modified", "decrypt with an identity the snapshot was encrypted to (the controller's or an escrow key)");
    }
    throw damagedStream(`its header is damaged (${detail})`);
  }
}

/**
 * Decrypters by identity, most recent last: a chunked restore opens a thousand
 * age files per GiB with one or two identities, and setting one up derives its
 * public key (an X25519 multiplication) each time. Held in memory only, as the
 * job holds the identity itself.
 */
const decrypters = new Map<string, Decrypter>();
const DECRYPTERS_KEPT = 4;

function decrypterFor(identity: string): Decrypter {
  const kept = decrypters.get(identity);
  if (kept) return kept;
  const decrypter = new Decrypter();
  try {
    decrypter.addIdentity(identity);
  } catch {
    throw new LifeboatError("KEYS", "Cannot use the age identity: it is not an age secret key (AGE-SECRET-KEY-1...)", {
      hint: "pass the controller's identity file, as written by `controller init`",
    });
  }
  if (decrypters.size >= DECRYPTERS_KEPT) decrypters.delete(decrypters.keys().next().value!);
  decrypters.set(identity, decrypter);
  return decrypter;
}

/** The INTEGRITY error for an age stream that cannot be trusted. */
export function damagedStream(detail: string, hint = "the stored object is damaged or was modified; restore from another snapshot"): LifeboatError {
  return new LifeboatError("INTEGRITY", `Cannot decrypt the age stream: ${detail}`, { hint });
}

/** The offset of `needle` in `haystack` at or after `from`, or -1. */
function indexOfBytes(haystack: Uint8Array, needle: Uint8Array, from: number): number {
  outer: for (let i = haystack.indexOf(needle[0]!, from); i >= 0 && i + needle.length <= haystack.length; i = haystack.indexOf(needle[0]!, i + 1)) {
    for (let j = 1; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

/** The offset just past the first newline at or after `from`, or -1. */
function lineEnd(bytes: Uint8Array, from: number): number {
  const newline = bytes.indexOf(0x0a, from);
  return newline < 0 ? -1 : newline + 1;
}

/** `first`, then the rest of `iterator`; closes the iterator if the consumer stops early. */
async function* continuation(first: Uint8Array, iterator: AsyncIterator<Uint8Array>): ByteStream {
  let done = false;
  try {
    if (first.length > 0) yield first;
    for (;;) {
      const next = await iterator.next();
      if (next.done) {
        done = true;
        return;
      }
      yield next.value;
    }
  } finally {
    if (!done) await iterator.return?.();
  }
}

/** Appends in amortised O(1) per byte, so that tiny input pieces cost no more than large ones. */
class GrowingBuffer {
  private data: Uint8Array = new Uint8Array(0);
  length = 0;

  get bytes(): Uint8Array {
    return this.data.subarray(0, this.length);
  }

  append(piece: Uint8Array): void {
    if (this.length === 0 && this.data.length === 0) {
      // The common case: the whole header arrives in the first piece; keep it without copying.
      this.data = piece;
      this.length = piece.length;
      return;
    }
    if (this.length + piece.length > this.data.length) {
      const grown = new Uint8Array(Math.max(this.data.length * 2, this.length + piece.length, 4096));
      grown.set(this.bytes);
      this.data = grown;
    }
    this.data.set(piece, this.length);
    this.length += piece.length;
  }
}
