/** @module Comparing directory trees: content, modes, mtimes and symlinks. */
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";

/** One entry of a tree listing. */
export interface TreeEntry {
  type: "file" | "dir" | "symlink";
  mode: number;
  sha256?: string;
  target?: string;
  mtimeS?: number;
}

/** Lists `root` recursively: relative path → entry. Directory mtimes are left out (they change when children are restored). */
export function listTree(root: string, skip: (rel: string) => boolean = () => false): Record<string, TreeEntry> {
  const out: Record<string, TreeEntry> = {};
  const walk = (dir: string) => {
    for (const name of fs.readdirSync(dir).sort()) {
      const full = path.join(dir, name);
      const rel = path.relative(root, full);
      if (skip(rel)) continue;
      const st = fs.lstatSync(full);
      if (st.isSymbolicLink()) out[rel] = { type: "symlink", mode: 0, target: fs.readlinkSync(full) };
      else if (st.isDirectory()) {
        out[rel] = { type: "dir", mode: st.mode & 0o7777 };
        walk(full);
      } else {
        out[rel] = { type: "file", mode: st.mode & 0o7777, sha256: crypto.createHash("sha256").update(fs.readFileSync(full)).digest("hex"), mtimeS: Math.floor(st.mtimeMs / 1000) };
      }
    }
  };
  walk(root);
  return out;
}
