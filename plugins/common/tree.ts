/** @module Walking a directory tree through the platform (no symlinks followed). */
import type { FileInfo, Platform } from "../../core/platform";

/** One entry under a walked directory. */
export interface TreeEntry {
  /** Path relative to the walked directory, `/`-separated. */
  rel: string;
  info: FileInfo;
}

/** Every entry under `dir` (not `dir` itself), parents before children, names sorted; symlinks are listed, not followed. */
export async function listTree(platform: Platform, dir: string, rel = ""): Promise<TreeEntry[]> {
  const out: TreeEntry[] = [];
  for (const name of (await platform.readdir(dir)).sort()) {
    const info = await platform.lstat(`${dir}/${name}`);
    out.push({ rel: `${rel}${name}`, info });
    if (info.kind === "directory") out.push(...(await listTree(platform, `${dir}/${name}`, `${rel}${name}/`)));
  }
  return out;
}
