/** @module Streaming age encryption: the header is written natively (typage as fallback), the payload is sealed with the fastest ChaCha20-Poly1305 at hand. */
import type { ByteStream, Platform } from "../../platform";
import { createHeader } from "./header";
import { concatBytes } from "../../bytes";
import { CHUNK_SIZE, chunkCipher, chunkNonce, PAYLOAD_NONCE_SIZE, payloadKey, transformChunks } from "./stream";

/**
 * Encrypts `plaintext` to `recipients` (`age1...`) as a standard age v1 file that
 * the stock `age` CLI decrypts. The payload uses the platform's native
 * ChaCha20-Poly1305 when it has one, else the pure-JS cipher; the bytes are the
 * same format either way. Memory stays bounded (about 1 MiB of output batch plus
 * one chunk) whatever the input's size or piece sizes.
 * @throws LifeboatError("CONFIG") for an empty or malformed recipient list (on the first read);
 * errors of `plaintext` pass through unchanged, and the stream then never ends normally.
 */
export async function* encryptStream(platform: Platform, recipients: string[], plaintext: ByteStream): ByteStream {
  const { header, fileKey } = await createHeader(platform, recipients);
  const nonce = platform.randomBytes(PAYLOAD_NONCE_SIZE);
  const key = payloadKey(platform, fileKey, nonce);
  const cipher = chunkCipher(platform);
  yield concatBytes([header, nonce]);
  yield* transformChunks(plaintext, CHUNK_SIZE, (chunk, index, last) => cipher.seal(key, chunkNonce(index, last), chunk));
}
