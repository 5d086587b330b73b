/** @module The fleet's content-addressed blob area (`blobs/` under the destination): each content stored once, encrypted, under a keyed name. */
import type { BlobRef } from "../records";
import { decryptStream } from "./age/decrypt";
import { encryptStream } from "./age/encrypt";
import type { Destination } from "./destination";
import { LifeboatError } from "../errors";
import type { ByteStream, Platform } from "../platform";
import { checkedAtEnd, counted, hashed, verified } from "./measure";
import { blobAlternateKey, blobObjectKey } from "../storage-layout";

/**
 * Content-addressed blobs. `put` stores content once for the whole fleet: a blob
 * the controller's ledger knows (the job's `known` list) is not read or uploaded
 * again; any other is uploaded, whatever the bucket holds under its name. `get`
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
    /** For a backup: the blobs the controller's ledger knows (keyed name → object key), and the snapshot being made. */
    private readonly backup: { known: Record<string, string>; snapshotId: string } = { known: {}, snapshotId: "" },
  ) {}

  /** The keyed name of a digest: HMAC-SHA-256 under the fleet's blob naming key. */
  nameOf(digest: string): string {
    if (!DIGEST.test(digest)) throw new LifeboatError("SOURCE", `Cannot store blob "${digest}": not a sha256:<hex> digest`);
    return this.platform.hmacSha256Hex(this.blobKey, digest);
  }

  /**
   * A known blob is referenced as the ledger has it. Any other is uploaded with
   * a conditional write to its keyed name; when that name is taken by an object
   * the ledger does not know (planted by another host, or left by a failed
   * job), it goes to a name of this snapshot's own, never trusting the other.
   */
  async put(digest: string, size: number, open: () => ByteStream) {
    const name = this.nameOf(digest);
    const known = this.backup.known[name];
    if (known !== undefined) return { digest, size, key: known, uploaded: false, storedSize: 0 };
    // Skip the keyed name when it is visibly taken (hosts with write-only credentials cannot see, and upload to learn it).
    const taken = await this.destination.head(blobObjectKey(name)).catch(() => null);
    for (const key of taken === null ? [blobObjectKey(name), blobAlternateKey(name, this.backup.snapshotId)] : [blobAlternateKey(name, this.backup.snapshotId)]) {
      let plain = 0;
      const data = counted(matchingDigest(this.platform, open(), digest, "store"), (n) => (plain = n));
      const stored = hashed(this.platform, encryptStream(this.platform, this.recipients, data));
      const storedSize = await this.destination.putNew(key, stored.data);
      if (storedSize !== null) return { digest, size: plain, key, uploaded: true, storedSize, stored: { sha256: stored.digest(), size: storedSize } };
    }
    throw new LifeboatError("DESTINATION", `Cannot store blob "${digest.slice(0, 19)}...": both of its names are taken at ${this.destination.description}`, {
      hint: "someone writes into the blob area: check the bucket's access policy (docs/security.md)",
    });
  }

  /** The blob's content, authenticated by age and checked against its digest (and against its stored hash and size when `ref.stored` has them). */
  get(ref: BlobRef): ByteStream {
    if (!this.identity) throw new LifeboatError("INTERNAL", "blob reads need the identity of a restore job");
    const stored = ref.stored ? verified(this.platform, this.destination.get(ref.key), ref.stored, ref.key) : this.destination.get(ref.key);
    return matchingDigest(this.platform, decryptStream(this.platform, this.identity, stored), ref.digest, "restore");
  }
}
