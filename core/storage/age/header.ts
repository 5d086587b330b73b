/** @module The age v1 header: typage (age-encryption) writes and opens it; the file key it wraps drives the payload cipher. */
import { Decrypter, Encrypter, type Recipient } from "age-encryption";
import { LifeboatError, messageOf, redact } from "../../errors";
import type { ByteStream } from "../../platform";
import { PAYLOAD_NONCE_SIZE } from "./stream";

/** The start of the MAC line that ends every age v1 header. */
const MAC_LINE = new TextEncoder().encode("\n--- ");
/** Real headers are a few hundred bytes per recipient; anything this long is not an age file. */
const MAX_HEADER_BYTES = 1024 * 1024;

/**
 * A fresh age v1 header for `recipients` and the 16-byte file key it wraps.
 * typage writes the recipient stanzas and the header MAC; a capturing recipient
 * learns the file key so that the payload can be sealed with any cipher.
 * @throws LifeboatError("CONFIG") when the list is empty or a recipient is malformed.
 */
export async function createHeader(recipients: string[]): Promise<{ header: Uint8Array; fileKey: Uint8Array }> {
  if (recipients.length === 0) {
    throw new LifeboatError("CONFIG", "Cannot encrypt an artifact: no age recipients were given", { hint: "list at least one age1... recipient" });
  }
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
  const decrypter = new Decrypter();
  try {
    decrypter.addIdentity(identity.trim());
  } catch {
    throw new LifeboatError("KEYS", "Cannot use the age identity: it is not an age secret key (AGE-SECRET-KEY-1...)", {
      hint: "pass the controller's identity file, as written by `controller init`",
    });
  }
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
