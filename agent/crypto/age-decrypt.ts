/** @module Streaming age decryption: typage opens the header, the payload is opened chunk by chunk, authenticated before it is yielded. */
import { Decrypter } from "age-encryption";
import { LifeboatError, messageOf } from "../errors";
import type { ByteStream, Platform } from "../platform";
import { indexOf } from "./age-encrypt";
import { CHUNK_SIZE, chunkCipher, chunkNonce, concatBytes, PAYLOAD_NONCE_SIZE, payloadKey, TAG_SIZE } from "./age-stream";

const MAX_HEADER = 1024 * 1024;
const HEADER_END = new TextEncoder().encode("\n--- ");
const SEALED_CHUNK = CHUNK_SIZE + TAG_SIZE;

function damaged(detail: string): LifeboatError {
  return new LifeboatError("INTEGRITY", `Cannot decrypt the age stream: ${detail}`, {
    hint: "the stored object is damaged or was modified; restore from another snapshot",
  });
}

/**
 * Decrypts an age v1 stream with `identity` (`AGE-SECRET-KEY-1...`). Yields only
 * authenticated plaintext. Throws LifeboatError("INTEGRITY") for a damaged,
 * truncated or extended stream, and for an identity that matches no recipient.
 */
export async function* decryptStream(platform: Platform, identity: string, ciphertext: ByteStream): ByteStream {
  const iterator = ciphertext[Symbol.asyncIterator]();
  let buffered: Uint8Array = new Uint8Array(0);
  let headerEnd = -1;
  while (headerEnd < 0) {
    const next = await iterator.next();
    if (next.done) throw damaged("the stream ended inside the header");
    buffered = concatBytes([buffered, next.value]);
    const mac = indexOf(buffered, HEADER_END);
    if (mac >= 0) {
      const nl = buffered.indexOf(0x0a, mac + HEADER_END.length);
      if (nl >= 0) headerEnd = nl + 1;
    }
    if (headerEnd < 0 && buffered.length > MAX_HEADER) throw damaged("no header end found in the first MiB");
  }
  const decrypter = new Decrypter();
  let fileKey: Uint8Array;
  try {
    decrypter.addIdentity(identity);
    fileKey = await decrypter.decryptHeader(buffered.subarray(0, headerEnd));
  } catch (err) {
    throw damaged(`the header does not open with the controller's identity (${messageOf(err)})`);
  }
  let rest = buffered.subarray(headerEnd);
  while (rest.length < PAYLOAD_NONCE_SIZE) {
    const next = await iterator.next();
    if (next.done) throw damaged("the stream ended before the payload");
    rest = concatBytes([rest, next.value]);
  }
  const key = payloadKey(platform, fileKey, rest.subarray(0, PAYLOAD_NONCE_SIZE));
  const cipher = chunkCipher(platform);
  let carry: Uint8Array = rest.slice(PAYLOAD_NONCE_SIZE);
  let counter = 0;
  for (;;) {
    const next = await iterator.next();
    if (next.done) break;
    if (next.value.length === 0) continue;
    const data = carry.length === 0 ? next.value : concatBytes([carry, next.value]);
    const opened: Uint8Array[] = [];
    let offset = 0;
    while (data.length - offset > SEALED_CHUNK) {
      const plain = cipher.open(key, chunkNonce(counter++, false), data.subarray(offset, offset + SEALED_CHUNK));
      if (!plain) throw damaged(`chunk ${counter - 1} failed authentication`);
      opened.push(plain);
      offset += SEALED_CHUNK;
    }
    carry = data.slice(offset);
    if (opened.length > 0) yield concatBytes(opened);
  }
  if (carry.length < TAG_SIZE) throw damaged("the stream is truncated");
  const last = cipher.open(key, chunkNonce(counter, true), carry);
  if (!last) throw damaged(`the final chunk ${counter} failed authentication (truncated or extended stream)`);
  if (last.length === 0 && counter > 0) throw damaged("an empty final chunk follows full chunks");
  if (last.length > 0) yield last;
}
