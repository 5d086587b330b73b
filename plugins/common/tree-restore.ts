/** @module Restoring tar artifacts of directory trees: extract into staging beside each target, check, then swap in. */
import { LifeboatError } from "../../core/errors";
import type { PluginContext, RestoreInput, RestoreReport, RestoreTarget } from "../contract";
import { baseName, reroot, safeSegments } from "./safe-path";
import type { MappedPath } from "./service-tool";
import { removeStaging, stagingDirFor, swapIn, type Staging } from "./staging";
import { readTar } from "./tar/reader";

/**
 * Restores trees from tar inputs: extract everything into staging beside each
 * target, run `check` on the staged copies (archive path → staged host path),
 * and only then swap each into place. Each tree is named in the archive by
 * `path` and restored at `host` (under `target.into` when set: `into` + host path).
 * On any failure the targets are untouched.
 */
export async function restoreTrees(
  ctx: PluginContext,
  trees: MappedPath[],
  inputs: RestoreInput[],
  target: RestoreTarget,
  check: (staged: Map<string, string>) => Promise<void> = async () => {},
): Promise<RestoreReport> {
  const platform = ctx.platform;
  const paths = trees.map((t) => t.path);
  const staged = new Map<string, string>(); // archive path → its staged copy
  const stagings: Staging[] = [];
  let failed = true;
  try {
    for (const tree of trees) {
      const staging = await stagingDirFor(platform, reroot(tree.host, target.into), ctx.jobId);
      stagings.push(staging);
      staged.set(tree.path, `${staging.dir}/${baseName(tree.host)}`);
    }
    for (const input of inputs) await extract(ctx, input, paths, staged);
    for (const path of paths) {
      if (!(await platform.exists(staged.get(path)!))) throw new LifeboatError("RESTORE", `Cannot restore "${path}": the archive does not contain it`);
    }
    await check(staged);
    // From here on parents hold restored data: never remove them.
    failed = false;
    for (const tree of trees) await swapIn(platform, staged.get(tree.path)!, reroot(tree.host, target.into), ctx.jobId);
    return { restored: trees.map((t) => reroot(t.host, target.into)) };
  } finally {
    for (const staging of stagings) await removeStaging(platform, staging, failed);
  }
}

async function extract(ctx: PluginContext, input: RestoreInput, paths: string[], staged: Map<string, string>): Promise<void> {
  const platform = ctx.platform;
  const root = platform.uid() === 0;
  const symlinks = new Set<string>();
  const directories: { path: string; mtime: number; mode: number }[] = [];
  const what = `artifact "${input.record.key}"`;
  for await (const { header, body } of readTar(input.open())) {
    const segments = safeSegments(header.name, what);
    const name = segments.join("/");
    const owner = paths.find((p) => name === p.slice(1) || name.startsWith(`${p.slice(1)}/`));
    if (!owner) throw new LifeboatError("RESTORE", `Refusing archive entry "${header.name}" of ${what}: it is outside the configured paths`);
    const rest = name.slice(owner.length - 1); // "" or "/sub/path" (owner has a leading "/", name does not)
    const dest = `${staged.get(owner)!}${rest}`;
    for (const link of symlinks) {
      if (dest.startsWith(`${link}/`)) throw new LifeboatError("RESTORE", `Refusing archive entry "${header.name}" of ${what}: it would be written through a symlink`);
    }
    if (header.type === "directory") {
      await platform.mkdir(dest, 0o700);
      directories.push({ path: dest, mtime: header.mtime, mode: header.mode });
    } else if (header.type === "file") {
      await platform.writeStream(dest, body, 0o600);
    } else if (header.type === "symlink") {
      await platform.symlink(header.linkname, dest);
      symlinks.add(dest);
    } else {
      throw new LifeboatError("RESTORE", `Refusing archive entry "${header.name}" of ${what}: unsupported entry type ${header.type}`);
    }
    if (root) await platform.lchown(dest, header.uid, header.gid);
    if (header.type === "file") {
      await platform.chmod(dest, header.mode);
      await platform.utimes(dest, header.mtime * 1000, header.mtime * 1000);
    } else if (header.type === "symlink") {
      await platform.utimes(dest, header.mtime * 1000, header.mtime * 1000, true).catch(() => {});
    }
  }
  for (const dir of directories.reverse()) {
    await platform.chmod(dir.path, dir.mode);
    await platform.utimes(dir.path, dir.mtime * 1000, dir.mtime * 1000);
  }
}
