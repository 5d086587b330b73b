/** @module Bech32 (BIP 173) as age uses it for X25519 recipients (`age1...`): a strict decoder and its encoder. */

const CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";
const GENERATOR = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3];
/** Character code → 5-bit value, -1 for a character outside the (lower-case) data set. */
const VALUES = (() => {
  const values = new Int8Array(128).fill(-1);
  for (let i = 0; i < CHARSET.length; i++) values[CHARSET.charCodeAt(i)] = i;
  return values;
})();

/** The bech32 checksum state after `values`, starting from `start`. */
function polymod(values: ArrayLike<number>, start = 1): number {
  let chk = start;
  for (let i = 0; i < values.length; i++) {
    const top = chk >>> 25;
    chk = ((chk & 0x1ffffff) << 5) ^ values[i]!;
    for (let j = 0; j < 5; j++) if ((top >>> j) & 1) chk ^= GENERATOR[j]!;
  }
  return chk >>> 0;
}

/** The checksum state after the expanded human-readable part. */
function hrpState(hrp: string): number {
  const expanded: number[] = [];
  for (let i = 0; i < hrp.length; i++) expanded.push(hrp.charCodeAt(i) >> 5);
  expanded.push(0);
  for (let i = 0; i < hrp.length; i++) expanded.push(hrp.charCodeAt(i) & 31);
  return polymod(expanded);
}

const AGE_STATE = hrpState("age");
/** "age1" + 52 data characters (32 bytes) + 6 checksum characters. */
const X25519_RECIPIENT_LENGTH = 4 + 52 + 6;

/**
 * The raw 32-byte public key of an X25519 recipient `age1...`, or null for anything
 * else (another recipient type, upper or mixed case, a bad checksum, non-zero padding).
 * Never more lenient than age-encryption's own parser: what it accepts here, typage accepts too.
 */
export function decodeX25519Recipient(recipient: string): Uint8Array | null {
  if (recipient.length !== X25519_RECIPIENT_LENGTH || !recipient.startsWith("age1")) return null;
  const words = new Uint8Array(X25519_RECIPIENT_LENGTH - 4);
  for (let i = 0; i < words.length; i++) {
    const code = recipient.charCodeAt(4 + i);
    const value = code < 128 ? VALUES[code]! : -1;
    if (value < 0) return null;
    words[i] = value;
  }
  if (polymod(words, AGE_STATE) !== 1) return null;
  const key = new Uint8Array(32);
  let acc = 0;
  let bits = 0;
  let out = 0;
  for (let i = 0; i < 52; i++) {
    acc = ((acc << 5) | words[i]!) & 0xfff;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      key[out++] = (acc >> bits) & 0xff;
    }
  }
  // 52 words carry 260 bits: the last 4 are padding and must be zero.
  if (bits !== 4 || (acc & 0xf) !== 0) return null;
  return key;
}

/** The bech32 string of `bytes` under the human-readable part `hrp` (lower case). */
export function encodeBech32(hrp: string, bytes: Uint8Array): string {
  const words: number[] = [];
  let acc = 0;
  let bits = 0;
  for (const byte of bytes) {
    acc = ((acc << 8) | byte) & 0xfff;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      words.push((acc >> bits) & 31);
    }
  }
  if (bits > 0) words.push((acc << (5 - bits)) & 31);
  return encodeBech32Words(hrp, words);
}

/** The bech32 string of 5-bit `words` under `hrp`, checksum appended (for tests that forge padding). */
export function encodeBech32Words(hrp: string, words: number[]): string {
  const state = polymod([...words, 0, 0, 0, 0, 0, 0], hrpState(hrp)) ^ 1;
  const all = [...words];
  for (let i = 0; i < 6; i++) all.push((state >>> (5 * (5 - i))) & 31);
  return `${hrp}1${all.map((w) => CHARSET[w]).join("")}`;
}
