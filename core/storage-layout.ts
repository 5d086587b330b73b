/** @module Where things live under a destination's prefix. */

/** `<host>/<snapshot>/<instance>/<artifact>.age` */
export function artifactKey(host: string, snapshotId: string, instance: string, artifact: string): string {
  return `${host}/${snapshotId}/${instance}/${artifact}.age`;
}

/** `<host>/<snapshot>/manifest.json.age`: written last; a snapshot without it is incomplete. */
export function manifestKey(host: string, snapshotId: string): string {
  return `${host}/${snapshotId}/manifest.json.age`;
}

/**
 * Where a blob of the fleet's blob area is stored, by its keyed name (HMAC of its
 * digest): `blobs/v2/<name>.age`, encrypted to the blob area's own recipient; `legacy`:
 * `blobs/<name>.age`, the blobs stored before the blob area had a key of its own
 * (encrypted to the master recipient), still read by the snapshots that reference them.
 */
export function blobObjectKey(keyedName: string, legacy = false): string {
  return legacy ? `blobs/${keyedName}.age` : `blobs/v2/${keyedName}.age`;
}

/**
 * Where a snapshot stores a blob whose keyed name is taken by an object the
 * controller's ledger does not know (planted, or left by a failed job):
 * `blobs/v2/<name>.<snapshot>.age`, which no other job can have known in advance.
 */
export function blobAlternateKey(keyedName: string, snapshotId: string): string {
  return `blobs/v2/${keyedName}.${snapshotId}.age`;
}

/**
 * Where a host's chunk is stored, by its keyed name (HMAC of its content hash
 * under the host's chunk naming key): `<host>/chunks/<first 2 hex>/<name>.age`.
 * Chunks live beside the host's snapshot folders, shared by all its snapshots.
 */
export function chunkObjectKey(host: string, keyedName: string): string {
  return `${host}/chunks/${keyedName.slice(0, 2)}/${keyedName}.age`;
}

/**
 * Where a backup stores a chunk whose keyed name is taken by an object it may
 * not trust or overwrite (one the parent snapshot does not name: damaged, left
 * by a failed job, or referenced by snapshots whose indexes record its hash):
 * `<host>/chunks/<2 hex>/<name>.<snapshot>.age`.
 */
export function chunkAlternateKey(host: string, keyedName: string, snapshotId: string): string {
  return `${host}/chunks/${keyedName.slice(0, 2)}/${keyedName}.${snapshotId}.age`;
}

/** The keyed name of a chunk object key made by {@link chunkObjectKey} or {@link chunkAlternateKey} for `host`, or null for any other key. */
export function chunkNameOf(host: string, key: string): string | null {
  const m = /^([^/]+)\/chunks\/([0-9a-f]{2})\/([0-9a-f]{64})(\.[A-Za-z0-9][A-Za-z0-9_-]*)?\.age$/.exec(key);
  return m && m[1] === host && m[3]!.startsWith(m[2]!) ? m[3]! : null;
}

/** A new snapshot id: sortable UTC time plus randomness, e.g. `20261124T124501Z-3f9a`. */
export function newSnapshotId(now: Date, random: string): string {
  const stamp = now.toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");
  return `${stamp}-${random}`;
}
