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

/** A new snapshot id: sortable UTC time plus randomness, e.g. `20261124T124501Z-3f9a`. */
export function newSnapshotId(now: Date, random: string): string {
  const stamp = now.toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");
  return `${stamp}-${random}`;
}
