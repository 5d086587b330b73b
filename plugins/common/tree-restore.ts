/** @module Restoring tar artifacts of directory trees: extract into staging beside each target, check, then swap in. */
import { LifeboatError, messageOf } from "../../core/errors";
import type { PluginContext, RestoreInput, RestoreReport, RestoreTarget } from "../contract";
import { baseName, parentOf, reroot, safeSegments } from "./safe-path";
import type { MappedPath } from "./service-tool";
import { beginSwap, removeStaging, stagingDirFor, swapAllIn, type Staging } from "./staging";
import { readTar } from "./tar/reader";

/** How archive entries are restored. */
export interface TreeRestoreOptions {
  /** Keep setuid/setgid bits (only when restoring as root); dropped with a warning otherwise. */
  keepSetuid: boolean;
}

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
  options: TreeRestoreOptions = { keepSetuid: false },
): Promise<RestoreReport> {
  const platform = ctx.platform;
  const paths = trees.map((t) => t.path);
  const staged = new Map<string, string>(); // archive path → its staged copy
  const stagings: Staging[] = [];
  let failed = true;
  try {
    for (const tree of trees) {
      const staging = await stagingDirFor(platform, reroot(tree.host, target.into), ctx.jobId, target.into);
      stagings.push(staging);
      staged.set(tree.path, `${staging.dir}/${baseName(tree.host)}`);
    }
    if (stagings.length === 1) await requireSpace(ctx, stagings[0]!.dir, inputs, reroot(trees[0]!.host, target.into));
    for (const input of inputs) await extract(ctx, input, paths, staged, options);
    for (const path of paths) {
      if (!(await platform.exists(staged.get(path)!))) throw new LifeboatError("RESTORE", `Cannot restore "${path}": the archive does not contain it`);
    }
    await check(staged);
    await swapAllIn(
      trees.map((tree) => {
        const at = reroot(tree.host, target.into);
        return { target: at, begin: () => beginSwap(platform, staged.get(tree.path)!, at, ctx.jobId) };
      }),
      ctx.jobId,
    );
    // From here on parents hold restored data: never remove them.
    failed = false;
    return { restored: trees.map((t) => reroot(t.host, target.into)) };
  } finally {
    for (const staging of stagings) {
      await removeStaging(platform, staging, failed).catch((err: unknown) => ctx.warn(`could not remove the staging directory "${staging.dir}": ${messageOf(err)}`));
    }
  }
}

/** Refuses, before anything is written, a restore whose archives (by their recorded sizes) do not fit beside `target`. */
async function requireSpace(ctx: PluginContext, stagingDir: string, inputs: RestoreInput[], target: string): Promise<void> {
  const needed = inputs.reduce((n, i) => n + (i.record.plainSize || 0), 0);
  const free = await ctx.platform.freeBytes(stagingDir);
  if (free === null || needed <= free) return;
  const mib = (n: number) => `${(n / 1048576).toFixed(1)} MiB`;
  throw new LifeboatError("RESTORE", `Cannot restore "${target}": its staged copy needs about ${mib(needed)} beside it, and that file system has ${mib(free)} free`, {
    hint: `free space on the file system of "${target}", or restore --into a directory on a larger disk`,
  });
}

/** A symlink of the archive, made an inert placeholder file until every entry is written. */
interface PendingLink {
  path: string;
  target: string;
  uid: number;
  gid: number;
  mtime: number;
}

/**
 * Extracts tar inputs into staging, confined to it as bsdtar and GNU tar do it:
 * no entry is ever written through a symlink, because the archive's symlinks
 * are created as placeholder files and become links only once every entry is
 * written (an entry under one fails: its parent is a file); files are created
 * exclusively without following links, with owner, mode and time applied to
 * the open file; a name the archive already used is refused; setuid/setgid bits
 * are kept only for a root restore that asks for them. Nothing outside staging
 * is touched, and staging starts empty.
 */
async function extract(ctx: PluginContext, input: RestoreInput, paths: string[], staged: Map<string, string>, options: TreeRestoreOptions): Promise<void> {
  const platform = ctx.platform;
  const root = platform.uid() === 0;
  const links: PendingLink[] = [];
  const directories: { path: string; mtime: number; mode: number }[] = [];
  let droppedSpecialBits = 0;
  const what = `artifact "${input.record.key}"`;
  const refuse = (name: string, why: string) => new LifeboatError("RESTORE", `Refusing archive entry "${name}" of ${what}: ${why}`, { hint: "the stored archive is not what Lifeboat writes; restore from another snapshot and check who can write to the storage" });
  for await (const { header, body } of readTar(input.open())) {
    const segments = safeSegments(header.name, what);
    const name = segments.join("/");
    const owner = paths.find((p) => name === p.slice(1) || name.startsWith(`${p.slice(1)}/`));
    if (!owner) throw refuse(header.name, "it is outside the configured paths");
    const rest = name.slice(owner.length - 1); // "" or "/sub/path" (owner has a leading "/", name does not)
    const dest = `${staged.get(owner)!}${rest}`;
    const ownerIds = root ? { uid: header.uid, gid: header.gid } : undefined;
    let mode = header.mode & 0o7777;
    if (mode & 0o6000 && !(root && options.keepSetuid)) {
      mode &= ~0o6000;
      droppedSpecialBits++;
    }
    try {
      if (rest !== "") await platform.mkdir(parentOf(dest), 0o700);
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code === "EEXIST" || code === "ENOTDIR") throw refuse(header.name, "it would be written under a symlink or a file of the archive");
      throw err;
    }
    try {
      if (header.type === "directory") {
        const existing = await platform.lstat(dest).catch(() => null);
        if (existing && existing.kind !== "directory") throw refuse(header.name, "it names a path the archive already holds as a file or symlink");
        await platform.mkdir(dest, 0o700);
        if (ownerIds) await platform.lchown(dest, ownerIds.uid, ownerIds.gid);
        directories.push({ path: dest, mtime: header.mtime, mode });
      } else if (header.type === "file") {
        await platform.writeNewFile(dest, body, { mode, ...(ownerIds ? { owner: ownerIds } : {}), mtimeMs: header.mtime * 1000 });
      } else if (header.type === "symlink") {
        await platform.writeNewFile(dest, (async function* () {})(), { mode: 0o600 });
        links.push({ path: dest, target: header.linkname, uid: header.uid, gid: header.gid, mtime: header.mtime });
      } else {
        throw refuse(header.name, `unsupported entry type ${header.type} (hardlinks and device nodes are never restored)`);
      }
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code === "EEXIST") throw refuse(header.name, "it names a path the archive already holds");
      throw err;
    }
  }
  // Every entry is written: only now do the placeholders become links.
  for (const link of links) {
    const placeholder = await platform.lstat(link.path);
    if (placeholder.kind !== "file" || placeholder.size !== 0) throw refuse(link.path, "its symlink placeholder changed during the restore");
    await platform.remove(link.path);
    await platform.symlink(link.target, link.path);
    if (root) await platform.lchown(link.path, link.uid, link.gid);
    await platform.utimes(link.path, link.mtime * 1000, link.mtime * 1000, true).catch(() => {});
  }
  for (const dir of directories.reverse()) {
    await platform.chmod(dir.path, dir.mode);
    await platform.utimes(dir.path, dir.mtime * 1000, dir.mtime * 1000);
  }
  if (droppedSpecialBits > 0) {
    ctx.warn(`${droppedSpecialBits} entr${droppedSpecialBits === 1 ? "y" : "ies"} of ${what} had setuid/setgid bits, restored without them${root ? " (set keepSetuid: true for this plugin to keep them)" : " (only a restore as root can keep them)"}`);
  }
}
