/** @module Where things live under a destination's prefix. */

/** `<host>/<snapshot>/<instance>/<artifact>.age` */
export function artifactKey(host: string, snapshotId: string, instance: string, artifact: string): string {
  return `${host}/${snapshotId}/${instance}/${artifact}.age`;
}

/** `<host>/<snapshot>/manifest.json.age`: written last; a snapshot without it is incomplete. */
export function manifestKey(host: string, snapshotId: string): string {
  return `${host}/${snapshotId}/manifest.json.age`;
}

/** A new snapshot id: sortable UTC time plus randomness, e.g. `20261124T124501Z-3f9a`. */
export function newSnapshotId(now: Date, random: string): string {
  const stamp = now.toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");
  return `${stamp}-${random}`;
}
