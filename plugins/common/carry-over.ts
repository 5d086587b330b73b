/** @module Keeping what a restore never had: excluded files of the live tree are carried into the staged one. */
import { LifeboatError } from "../../core/errors";
import type { Platform } from "../../core/platform";
import type { ExcludeSet } from "./exclude";
import { parentOf } from "./safe-path";

/**
 * For every entry of the live tree `live` that the excludes match (and that the
 * staged tree does not have), hard-links it into `staged` (`cp -al`: no data is
 * copied and the live files keep their inodes), so swapping the staged tree in
 * does not delete data that was never backed up, such as a database another
 * plugin handles. The live tree is not changed.
 */
export async function carryOverExcluded(platform: Platform, live: string, staged: string, excludes: ExcludeSet): Promise<string[]> {
  const carried: string[] = [];
  const info = await platform.lstat(live).catch(() => null);
  if (info?.kind !== "directory") return carried;
  const walk = async (rel: string): Promise<void> => {
    for (const name of (await platform.readdir(rel ? `${live}/${rel}` : live)).sort()) {
      const childRel = rel ? `${rel}/${name}` : name;
      const child = await platform.lstat(`${live}/${childRel}`);
      if (excludes.matches(childRel, child.kind === "directory")) {
        if (await platform.exists(`${staged}/${childRel}`)) continue;
        await platform.mkdir(parentOf(`${staged}/${childRel}`), 0o755);
        const result = await platform.run("cp", ["-al", `${live}/${childRel}`, `${staged}/${childRel}`]);
        if (result.code !== 0) throw new LifeboatError("RESTORE", `Cannot keep the excluded "${live}/${childRel}" in the restored tree: ${result.stderr.trim()}`);
        carried.push(childRel);
      } else if (child.kind === "directory") {
        await walk(childRel);
      }
    }
  };
  await walk("");
  return carried;
}
