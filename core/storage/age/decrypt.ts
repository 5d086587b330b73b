/** @module Streaming age decryption: typage opens the header, the payload is opened chunk by chunk and authenticated before it is yielded. */
import type { ByteStream, Platform } from "../../platform";
import { damagedStream, openHeader, readPrologue } from "./header";
import { chunkCipher, chunkNonce, payloadKey, SEALED_CHUNK_SIZE, TAG_SIZE, transformChunks } from "./stream";

/**
 * Decrypts an age v1 stream with `identity` (`AGE-SECRET-KEY-1...`), using the
 * platform's native ChaCha20-Poly1305 when it has one. Yields only authenticated
 * plaintext, and ends normally only after the final chunk has authenticated:
 * a damaged, truncated or extended stream, or an empty final chunk after full
 * ones, throws LifeboatError("INTEGRITY") instead of ending.
 * @throws LifeboatError("KEYS") for a malformed identity; LifeboatError("INTEGRITY") for an identity
 * that is not a recipient of the stream, and for any damage.
 */
export async function* decryptStream(platform: Platform, identity: string, ciphertext: ByteStream): ByteStream {
  const { header, nonce, payload } = await readPrologue(ciphertext);
  const fileKey = await openHeader(identity, header);
  const key = payloadKey(platform, fileKey, nonce);
  const cipher = chunkCipher(platform);
  yield* transformChunks(payload, SEALED_CHUNK_SIZE, (sealed, index, last) => {
    if (last && sealed.length < TAG_SIZE) throw damagedStream("it is truncated: the final chunk is missing");
    const plain = cipher.open(key, chunkNonce(index, last), sealed);
    if (!plain) {
      throw damagedStream(last ? `the final chunk (${index}) failed authentication: the stream was truncated, extended or modified` : `chunk ${index} failed authentication`);
    }
    if (last && plain.length === 0 && index > 0) throw damagedStream("an empty final chunk follows full chunks");
    return plain;
  });
}
