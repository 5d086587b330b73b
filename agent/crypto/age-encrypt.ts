/** @module Streaming age encryption: typage writes the header, the payload is sealed with the fastest ChaCha20-Poly1305 at hand. */
import { Encrypter, type Recipient } from "age-encryption";
import { LifeboatError, messageOf } from "../errors";
import type { ByteStream, Platform } from "../platform";
import { CHUNK_SIZE, chunkCipher, chunkNonce, concatBytes, PAYLOAD_NONCE_SIZE, payloadKey } from "./age-stream";

const HEADER_END = new TextEncoder().encode("\n--- ");

/**
 * An age v1 header for `recipients` and the file key it wraps. typage does the
 * recipient stanzas and the header MAC; a capturing recipient learns the file
 * key so that the payload can be sealed natively.
 * @throws LifeboatError("CONFIG") for a malformed recipient.
 */
export async function ageHeader(recipients: string[]): Promise<{ header: Uint8Array; fileKey: Uint8Array }> {
  let fileKey: Uint8Array | undefined;
  const capture: Recipient = {
    wrapFileKey(key) {
      fileKey = key.slice();
      return [];
    },
  };
  const encrypter = new Encrypter();
  try {
    for (const r of recipients) encrypter.addRecipient(r);
  } catch (err) {
    throw new LifeboatError("CONFIG", `Cannot encrypt to the recipients: ${messageOf(err)}`, { hint: "recipients must be age public keys (age1...)" });
  }
  encrypter.addRecipient(capture);
  let sample: Uint8Array;
  try {
    sample = await encrypter.encrypt(new Uint8Array(0));
  } catch (err) {
    throw new LifeboatError("CONFIG", `Cannot encrypt to the recipients: ${messageOf(err)}`, { hint: "recipients must be age public keys (age1...)" });
  }
  const macLine = indexOf(sample, HEADER_END);
  const end = sample.indexOf(0x0a, macLine + HEADER_END.length);
  if (macLine < 0 || end < 0 || !fileKey) throw new LifeboatError("INTERNAL", "age-encryption produced an unexpected header");
  return { header: sample.slice(0, end + 1), fileKey };
}

/** Index of `needle` in `haystack`, or -1. */
export function indexOf(haystack: Uint8Array, needle: Uint8Array, from = 0): number {
  outer: for (let i = haystack.indexOf(needle[0]!, from); i >= 0 && i <= haystack.length - needle.length; i = haystack.indexOf(needle[0]!, i + 1)) {
    for (let j = 1; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

/**
 * Encrypts a stream to `recipients` as a standard age v1 file (the stock `age`
 * CLI decrypts it). Memory stays bounded by the input chunk size; output comes
 * in batches of about the input chunk size.
 */
export async function* encryptStream(platform: Platform, recipients: string[], plaintext: ByteStream): ByteStream {
  const { header, fileKey } = await ageHeader(recipients);
  const nonce = platform.randomBytes(PAYLOAD_NONCE_SIZE);
  const key = payloadKey(platform, fileKey, nonce);
  const cipher = chunkCipher(platform);
  yield concatBytes([header, nonce]);
  let counter = 0;
  let carry: Uint8Array = new Uint8Array(0);
  for await (const input of plaintext) {
    if (input.length === 0) continue;
    const data = carry.length === 0 ? input : concatBytes([carry, input]);
    const sealed: Uint8Array[] = [];
    let offset = 0;
    // Keep at least one byte back: only the chunk that ends the stream is "last".
    while (data.length - offset > CHUNK_SIZE) {
      sealed.push(cipher.seal(key, chunkNonce(counter++, false), data.subarray(offset, offset + CHUNK_SIZE)));
      offset += CHUNK_SIZE;
    }
    carry = data.slice(offset);
    if (sealed.length > 0) yield concatBytes(sealed);
  }
  yield cipher.seal(key, chunkNonce(counter, true), carry);
}
