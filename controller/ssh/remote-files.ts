/**
 * @module File transfer over one SFTP session: `~`-relative paths, `mkdir -p`,
 * atomic uploads (temp name in the same directory, then rename over).
 */
import * as crypto from "node:crypto";
import type { SFTPWrapper } from "ssh2";

/** SFTP status codes (draft-ietf-secsh-filexfer-02) worth naming in messages. */
const SFTP_NO_SUCH_FILE = 2;
const SFTP_PERMISSION_DENIED = 3;

/** A short reason for an SFTP error: "no such file", "permission denied" or the server's text. */
export function sftpReason(err: unknown): string {
  const code = (err as { code?: unknown }).code;
  if (code === SFTP_NO_SUCH_FILE) return "no such file or directory";
  if (code === SFTP_PERMISSION_DENIED) return "permission denied";
  return err instanceof Error ? err.message : String(err);
}

function call<T = void>(run: (done: (err: Error | undefined | null, value?: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => run((err, value) => (err ? reject(err) : resolve(value as T))));
}

/** Remote files of one host, reached through one SFTP session. */
export class RemoteFiles {
  private home?: Promise<string>;

  constructor(private readonly sftp: SFTPWrapper) {}

  /** The absolute remote path: `~` and `~/x` are taken from the remote home (SFTP `realpath('.')`). */
  async resolve(remotePath: string): Promise<string> {
    if (remotePath !== "~" && !remotePath.startsWith("~/")) return remotePath;
    this.home ??= call<string>((done) => this.sftp.realpath(".", done));
    const home = (await this.home).replace(/\/+$/, "");
    return remotePath === "~" ? home || "/" : `${home}/${remotePath.slice(2)}`;
  }

  /** Creates `dir` and its missing parents with mode 0700 (existing ones are left alone). */
  async mkdirs(dir: string): Promise<void> {
    if (await this.isDirectory(dir)) return;
    const parent = dir.slice(0, dir.lastIndexOf("/"));
    if (parent !== "" && parent !== dir) await this.mkdirs(parent);
    try {
      await call((done) => this.sftp.mkdir(dir, { mode: 0o700 }, done));
    } catch (err) {
      if (!(await this.isDirectory(dir))) throw err; // a concurrent mkdir may have won
    }
  }

  private async isDirectory(dir: string): Promise<boolean> {
    try {
      const stats = await call<{ isDirectory(): boolean }>((done) => this.sftp.stat(dir, done));
      return stats.isDirectory();
    } catch {
      return false;
    }
  }

  /**
   * Writes `source` (a local file path or the bytes) to `target` (absolute)
   * with `mode`: into a temp name beside it, then renamed over `target`, so a
   * reader sees the old file or the complete new one, never a partial one.
   */
  async putAtomic(source: string | Buffer, target: string, mode: number): Promise<void> {
    await this.mkdirs(target.slice(0, target.lastIndexOf("/")) || "/");
    const temp = `${target}.upload-${crypto.randomBytes(6).toString("hex")}`;
    try {
      if (typeof source === "string") await call((done) => this.sftp.fastPut(source, temp, { mode }, done));
      else await call((done) => this.sftp.writeFile(temp, source, { mode }, done));
      await call((done) => this.sftp.chmod(temp, mode, done)); // the remote umask may have narrowed `mode`
      await this.renameOver(temp, target);
    } catch (err) {
      await call((done) => this.sftp.unlink(temp, done)).catch(() => undefined);
      throw err;
    }
  }

  private async renameOver(from: string, to: string): Promise<void> {
    try {
      await call((done) => this.sftp.ext_openssh_rename(from, to, done));
    } catch (err) {
      // Only servers without posix-rename@openssh.com get here (ssh2 throws before sending).
      if (!/not support/i.test(String((err as Error).message))) throw err;
      await call((done) => this.sftp.unlink(to, done)).catch(() => undefined);
      await call((done) => this.sftp.rename(from, to, done));
    }
  }

  /** The bytes of `target` (absolute), streamed. */
  async *readStream(target: string): AsyncIterable<Uint8Array> {
    yield* this.sftp.createReadStream(target) as AsyncIterable<Buffer>;
  }

  /** The size of a regular file, or null when there is none at `target`. */
  async fileSize(target: string): Promise<number | null> {
    try {
      const stats = await call<{ isFile(): boolean; size: number }>((done) => this.sftp.lstat(target, done));
      return stats.isFile() ? stats.size : null;
    } catch (err) {
      if ((err as { code?: unknown }).code === SFTP_NO_SUCH_FILE) return null;
      throw err;
    }
  }

  /** The entries of directory `dir` (absolute): names, whether each is a directory or a regular file, and sizes. */
  async list(dir: string): Promise<{ name: string; kind: "directory" | "file" | "other"; size: number }[]> {
    let entries: { filename: string; attrs: { isDirectory(): boolean; isFile(): boolean; size: number } }[];
    try {
      entries = await call((done) => this.sftp.readdir(dir, done as never));
    } catch (err) {
      if ((err as { code?: unknown }).code === SFTP_NO_SUCH_FILE) return [];
      throw err;
    }
    return entries.map((e) => ({ name: e.filename, kind: e.attrs.isDirectory() ? "directory" : e.attrs.isFile() ? "file" : "other", size: e.attrs.size }));
  }

  /** The whole content of `target` (absolute). */
  get(target: string): Promise<Buffer> {
    return call<Buffer>((done) => this.sftp.readFile(target, done));
  }
}
