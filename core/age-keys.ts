/** @module age key pairs: classic X25519 identities for the controller and escrow, and recipient checks for the inventory. */
import { Encrypter, generateX25519Identity, identityToRecipient } from "age-encryption";

/** Lower-case bech32 data characters; "1" is the separator, so `age1tag1...` and friends never match. */
const RECIPIENT_SHAPE = /^age1(pq1)?[02-9ac-hj-np-z]+$/;

/**
 * A new X25519 key pair: `identity` is `AGE-SECRET-KEY-1...` (secret), `recipient` is `age1...`.
 * X25519 on purpose: the stock age CLI v1.1 cannot use post-quantum keys.
 */
export async function generateIdentity(): Promise<{ identity: string; recipient: string }> {
  const identity = await generateX25519Identity();
  return { identity, recipient: await identityToRecipient(identity) };
}

/** The recipient (`age1...`) of an X25519 identity (`AGE-SECRET-KEY-1...`). @throws when the identity is malformed. */
export function recipientOf(identity: string): Promise<string> {
  return identityToRecipient(identity);
}

/**
 * True for an age recipient that `encryptStream` can encrypt to: an X25519
 * recipient (`age1...`, checksum and key length checked) or a post-quantum hybrid
 * one (`age1pq1...`, which needs age >= 1.3 to decrypt). Never throws.
 */
export function isRecipient(s: string): boolean {
  if (!RECIPIENT_SHAPE.test(s)) return false;
  try {
    new Encrypter().addRecipient(s);
    return true;
  } catch {
    return false;
  }
}
