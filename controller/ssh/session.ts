/** @module An open SSH connection: commands with stdin and line-by-line stdout, atomic SFTP uploads. */
import type { Client, SFTPWrapper } from "ssh2";
import { LifeboatError, messageOf } from "../../agent/errors";

/** Options of {@link SshConnection.exec}. */
export interface ExecOptions {
  /** Written to the command's stdin, which is then closed (secrets go here, never in argv). */
  stdin?: string | Buffer;
  /** Called for each complete stdout line, as it arrives. */
  onStdoutLine?(line: string): void;
  onStderr?(chunk: string): void;
}

const STDERR_TAIL = 64 * 1024;

/** One authenticated connection to a host. Close it when done. */
export class SshConnection {
  private sftpSession?: Promise<SFTPWrapper>;

  constructor(
    private readonly client: Client,
    /** The inventory name, for messages. */
    readonly host: string,
  ) {}

  /** Runs `command` through the login shell; resolves with its exit code, full stdout and stderr tail. */
  exec(command: string, options: ExecOptions = {}): Promise<{ code: number; stdout: string; stderr: string }> {
    return new Promise((resolve, reject) => {
      this.client.exec(command, (err, stream) => {
        if (err) {
          reject(new LifeboatError("SSH", `Cannot run a command on "${this.host}": ${messageOf(err)}`));
          return;
        }
        let stdout = "";
        let partial = "";
        let stderr = "";
        stream.setEncoding("utf8");
        stream.on("data", (chunk: string) => {
          stdout += chunk;
          if (!options.onStdoutLine) return;
          partial += chunk;
          let nl = partial.indexOf("\n");
          while (nl >= 0) {
            options.onStdoutLine(partial.slice(0, nl));
            partial = partial.slice(nl + 1);
            nl = partial.indexOf("\n");
          }
        });
        stream.stderr.setEncoding("utf8");
        stream.stderr.on("data", (chunk: string) => {
          options.onStderr?.(chunk);
          stderr = (stderr + chunk).slice(-STDERR_TAIL);
        });
        stream.on("close", (code: number | null, signal?: string) => {
          if (partial && options.onStdoutLine) options.onStdoutLine(partial);
          resolve({ code: code ?? (signal ? 128 : 255), stdout, stderr });
        });
        stream.on("error", (e: Error) => reject(new LifeboatError("SSH", `Lost the command on "${this.host}": ${messageOf(e)}`)));
        if (options.stdin !== undefined) stream.end(options.stdin);
        else stream.end();
      });
    });
  }

  private sftp(): Promise<SFTPWrapper> {
    this.sftpSession ??= new Promise((resolve, reject) =>
      this.client.sftp((err, sftp) => (err ? reject(new LifeboatError("SSH", `Cannot open SFTP on "${this.host}": ${messageOf(err)}`, { hint: "enable the sftp subsystem in the host's sshd_config" })) : resolve(sftp))),
    );
    return this.sftpSession;
  }

  private async resolve(path: string): Promise<string> {
    if (!path.startsWith("~")) return path;
    const sftp = await this.sftp();
    const home = await new Promise<string>((resolve, reject) => sftp.realpath(".", (err, p) => (err ? reject(err) : resolve(p))));
    return path === "~" ? home : `${home}/${path.slice(2)}`;
  }

  private async mkdirs(sftp: SFTPWrapper, dir: string): Promise<void> {
    const parts = dir.split("/").filter(Boolean);
    let current = "";
    for (const part of parts) {
      current += `/${part}`;
      const exists = await new Promise<boolean>((resolve) => sftp.stat(current, (err) => resolve(!err)));
      if (!exists) {
        await new Promise<void>((resolve, reject) => sftp.mkdir(current, { mode: 0o700 }, (err) => (err ? reject(err) : resolve())));
      }
    }
  }

  /** Uploads `data` to `remotePath` (`~/` = remote home) atomically: temp file, then rename over. */
  async sftpPut(data: Buffer, remotePath: string, mode: number): Promise<void> {
    try {
      const sftp = await this.sftp();
      const target = await this.resolve(remotePath);
      await this.mkdirs(sftp, target.slice(0, target.lastIndexOf("/")));
      const temp = `${target}.upload-${process.pid}-${Date.now()}`;
      await new Promise<void>((resolve, reject) => sftp.writeFile(temp, data, { mode }, (err) => (err ? reject(err) : resolve())));
      await new Promise<void>((resolve, reject) => sftp.chmod(temp, mode, (err) => (err ? reject(err) : resolve())));
      await new Promise<void>((resolve, reject) => sftp.ext_openssh_rename(temp, target, (err) => (err ? reject(err) : resolve())));
    } catch (err) {
      if (err instanceof LifeboatError) throw err;
      throw new LifeboatError("SSH", `Cannot upload "${remotePath}" to "${this.host}": ${messageOf(err)}`, { hint: "check free space and permissions of the agent directory on the host" });
    }
  }

  /** Downloads a remote file. */
  async sftpGet(remotePath: string): Promise<Buffer> {
    const sftp = await this.sftp();
    const target = await this.resolve(remotePath);
    return new Promise((resolve, reject) => sftp.readFile(target, (err, data) => (err ? reject(new LifeboatError("SSH", `Cannot download "${remotePath}" from "${this.host}": ${messageOf(err)}`)) : resolve(data))));
  }

  close(): void {
    this.client.end();
  }
}
