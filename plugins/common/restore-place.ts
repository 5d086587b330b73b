/**
 * @module Where a restore writes a path: in place (at its host path), or with
 * `--into` under the instance's directory, relative to the instance's root, so
 * that `/srv/app/data` of instance `files` lands at `<DIR>/files/data`.
 */
import { LifeboatError } from "../../core/errors";
import { parentOf } from "./safe-path";

/**
 * An instance's root: the deepest directory that holds every one of its paths
 * below it. `/srv/app/data` → `/srv/app`; `/srv/app/a.db`, `/srv/app/b.db` →
 * `/srv/app`; `/etc/nginx`, `/srv/www` → `/`.
 */
export function instanceRoot(paths: string[]): string {
  const parents = paths.map((p) => parentOf(p.replace(/(.)\/+$/, "$1")));
  let root = parents[0] ?? "/";
  for (const parent of parents.slice(1)) {
    while (root !== "/" && parent !== root && !parent.startsWith(`${root}/`)) root = parentOf(root);
  }
  return root;
}

/**
 * Where a restore writes `path` (as the service sees it; one of the instance's
 * paths or one below them): without `into`, at `host()` (its host path, which
 * for a container goes through containerPaths); with `into`, at
 * `<into>/<path relative to root>` (see {@link instanceRoot}). The host path is
 * not asked for under `into`, so a restore there needs no mapping.
 * @throws RESTORE for a path with `.` or `..` segments under `into` (paths there come from the manifest).
 */
export function placeRestored(into: string | undefined, root: string, path: string, host: () => string = () => path): string {
  if (into === undefined) return host();
  // Paths under --into come from the manifest (storage and the source host): none may climb out.
  if (!path.startsWith("/") || path.split("/").slice(1).some((s) => s === "." || s === "..")) {
    throw new LifeboatError("RESTORE", `Refusing to restore "${path}" under "${into}": it is not an absolute path without "." and ".."`, { hint: "the snapshot's manifest is damaged or forged; restore from another snapshot" });
  }
  const base = into.replace(/\/+$/, "");
  const rel = root === "/" ? path : path.slice(root.length);
  if (root !== "/" && path !== root && !path.startsWith(`${root}/`)) throw new Error(`placeRestored: "${path}" is not below the instance's root "${root}"`);
  return `${base}${rel}`;
}
