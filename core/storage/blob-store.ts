/** @module The fleet's content-addressed blob area (`blobs/` under the destination): each content stored once, encrypted, under a keyed name. */
import type { BlobRef } from "../records";
import { decryptStream } from "./age/decrypt";
import { encryptStream } from "./age/encrypt";
import type { Destination } from "./destination";
import { LifeboatError } from "../errors";
import type { ByteStream, Platform } from "../platform";
import { checkedAtEnd, counted } from "./measure";
import { blobObjectKey } from "../storage-layout";

/**
 * Content-addressed blobs. `put` stores content once for the whole fleet: when
 * an object for the digest exists it is not read or uploaded again. `get`
 * yields content only after age authentication, and throws INTEGRITY at the end
 * when its SHA-256 is not the digest.
 */
export interface BlobStore {
  /** Stores `open()`'s bytes under `digest` unless stored already; throws INTEGRITY (storing nothing) when the content does not hash to `digest`. */
  put(digest: string, size: number, open: () => ByteStream): Promise<BlobRef & { uploaded: boolean; storedSize: number }>;
  get(ref: BlobRef): ByteStream;
}

const DIGEST = /^sha256:[0-9a-f]{64}$/;

/** Passes bytes through and fails at their end, with INTEGRITY, when they do not hash to `digest`. */
function matchingDigest(platform: Platform, data: ByteStream, digest: string, action: "store" | "restore"): ByteStream {
  return checkedAtEnd(platform, data, (hex) => {
    const actual = `sha256:${hex}`;
    if (actual === digest) return;
    throw new LifeboatError("INTEGRITY", `Cannot ${action} blob "${digest}": its content hashes to ${actual.slice(0, 19)}..., not to its name ${digest.slice(0, 19)}...`, {
      hint:
        action === "store"
          ? "the file is damaged or was replaced; re-download it (e.g. ollama pull) and run the backup again"
          : "the stored blob was modified or damaged; restore from another snapshot",
    });
  });
}

/**
 * Blob names are keyed digests, `blobs/<HMAC-SHA-256(fleet blob key, digest)>.age`:
 * equal content from any host maps to one object (stored once), while someone who
 * can list the bucket cannot tell which public files (e.g. which models) it holds.
 */
export class DestinationBlobStore implements BlobStore {
  constructor(
    private readonly platform: Platform,
    private readonly destination: Destination,
    private readonly blobKey: Uint8Array,
    private readonly recipients: string[],
    private readonly identity?: string,
    /** Name new blobs the legacy way (`blobs/<name>.age`): for specs of controllers before the blob area had its own key. */
    private readonly legacyNames = false,
  ) {}

  keyFor(digest: string): string {
    if (!DIGEST.test(digest)) throw new LifeboatError("SOURCE", `Cannot store blob "${digest}": not a sha256:<hex> digest`);
    return blobObjectKey(this.platform.hmacSha256Hex(this.blobKey, digest), this.legacyNames);
  }

  async put(digest: string, size: number, open: () => ByteStream) {
    const key = this.keyFor(digest);
    const existing = await this.destination.head(key);
    if (existing !== null) return { digest, size, key, uploaded: false, storedSize: existing };
    let plain = 0;
    const data = counted(matchingDigest(this.platform, open(), digest, "store"), (n) => (plain = n));
    const storedSize = await this.destination.put(key, encryptStream(this.platform, this.recipients, data));
    return { digest, size: plain, key, uploaded: true, storedSize };
  }

  get(ref: BlobRef): ByteStream {
    if (!this.identity) throw new LifeboatError("INTERNAL", "blob reads need the identity of a restore job");
    return matchingDigest(this.platform, decryptStream(this.platform, this.identity, this.destination.get(ref.key)), ref.digest, "restore");
  }
}
