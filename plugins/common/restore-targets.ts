/** @module Where a restore writes: the restoring host's configuration decides, the manifest only selects. */
import { LifeboatError } from "../../core/errors";

/**
 * The paths a restore writes for one plugin instance: those the manifest
 * recorded (`configured` when it recorded none), each of which must be one the
 * instance's configuration on the restoring host covers. The manifest comes
 * from storage and from the source host, neither of which is trusted to name
 * a place on this host. With `into` (restore --into DIR, verify) the recorded
 * paths are taken as they are: everything stays under DIR.
 * @throws RESTORE naming a recorded path the configuration does not cover, or a malformed record.
 */
export function configuredTargets(recorded: unknown, configured: string[], into: string | undefined, what: string): string[] {
  if (recorded === undefined || recorded === null) return configured;
  const paths = Array.isArray(recorded) ? recorded : [recorded];
  if (paths.length === 0 || !paths.every((p): p is string => typeof p === "string" && p.startsWith("/"))) {
    throw new LifeboatError("RESTORE", `Cannot restore ${what}: its manifest entry names no absolute paths`, { hint: "the snapshot's manifest is damaged or forged; restore from another snapshot" });
  }
  if (into) return paths;
  for (const path of paths) {
    if (!configured.includes(path)) {
      throw new LifeboatError("RESTORE", `Refusing to restore "${path}" of ${what} in place: this host's configuration of the plugin does not include it`, {
        hint: `it configures ${configured.join(", ")}; to look at the snapshot's "${path}", restore with --into DIR`,
      });
    }
  }
  return paths;
}
