/**
 * @module An open, authenticated SSH connection: commands with stdin and
 * line-by-line stdout (for the agent's NDJSON events), cancellation, and
 * atomic SFTP uploads. Get one from `connectSsh` (./connect).
 */
import * as os from "node:os";
import type { Client, ClientChannel } from "ssh2";
import { LifeboatError, messageOf } from "../../core/errors";
import { RemoteFiles, sftpReason } from "./remote-files";

/** Options of {@link SshConnection.exec}. */
export interface ExecOptions {
  /** Written to the command's stdin, which is then closed (secrets go here, never in argv). */
  stdin?: string | Buffer;
  /**
   * Leave stdin open after writing `stdin`, until the command exits: a command
   * that watches its stdin (`agent run --attached`) then sees it close when this
   * side, or the connection, goes away.
   */
  keepStdinOpen?: boolean;
  /** Called with each complete stdout line (without `\n`), as it arrives; a last unterminated line comes at the end. */
  onStdoutLine?(line: string): void;
  /** Called with each stderr chunk as it arrives. */
  onStderr?(chunk: string): void;
  /** Aborting sends SIGTERM to the remote command, closes its channel and rejects. */
  signal?: AbortSignal;
}

/** How a command ended. */
export interface ExecResult {
  /** The exit status; 128 + n when the command was killed by signal n. */
  code: number;
  /** All of stdout; with `onStdoutLine`, only the last {@link STREAMED_STDOUT_TAIL} characters. */
  stdout: string;
  /** The last {@link STDERR_TAIL} characters of stderr. */
  stderr: string;
}

/** How much stderr {@link ExecResult} keeps. */
export const STDERR_TAIL = 64 * 1024;
/** How much stdout {@link ExecResult} keeps when lines are streamed (they were delivered already). */
export const STREAMED_STDOUT_TAIL = 1024 * 1024;

function exitCode(code: number | null | undefined, signal: string | undefined): number | undefined {
  if (typeof code === "number") return code;
  if (signal) return 128 + (os.constants.signals[signal as keyof typeof os.constants.signals] ?? 0);
  return undefined;
}

/** The parts of ssh2's channel internals that {@link sendSignal} needs. */
interface ChannelInternals {
  outgoing?: { id: number; state: string };
  _client?: { _protocol?: { signal(channel: number, signal: string): void } };
}

/**
 * Sends a signal request (RFC 4254 6.9; OpenSSH >= 7.9 delivers it to the
 * command's process group). ssh2's `channel.signal()` silently does nothing
 * once stdin was closed, which `exec` always does, so this goes one level
 * down, to the same protocol call, while the channel is still open.
 */
function sendSignal(channel: ClientChannel, name: string): void {
  const internals = channel as unknown as ChannelInternals;
  const state = internals.outgoing?.state;
  if (state !== "open" && state !== "eof") return;
  try {
    internals._client?._protocol?.signal(internals.outgoing!.id, name);
  } catch {
    // the connection is going away; closing the channel is all that is left
  }
}

/** Asks the remote command to stop and closes its channel. */
function terminate(channel: ClientChannel): void {
  sendSignal(channel, "TERM");
  channel.close();
}

/** One authenticated connection to a host. Close it when done. */
export class SshConnection {
  private files?: Promise<RemoteFiles>;
  /** Why the connection is gone, once it is. */
  private lost?: string;

  /** Takes over a ready ssh2 client; `host` is the inventory name used in messages. */
  constructor(
    private readonly client: Client,
    readonly host: string,
  ) {
    client.on("error", (err: Error & { level?: string }) => {
      this.lost ??= err.level === "client-timeout" ? "the host stopped answering keepalives" : messageOf(err);
    });
    client.on("close", () => {
      this.lost ??= "the connection closed";
    });
  }

  /**
   * Runs `command` through the remote user's shell. Resolves with its exit code
   * (a non-zero code is not an error here), stdout and a stderr tail.
   * @throws LifeboatError("SSH") when the command cannot be started, when the
   *   connection is lost before it exits, or when `signal` aborts it; what an
   *   `onStdoutLine`/`onStderr` callback throws, unchanged (the command is stopped).
   */
  exec(command: string, options: ExecOptions = {}): Promise<ExecResult> {
    const { signal } = options;
    return new Promise((resolve, reject) => {
      const failure = (details: string, hint?: string, cause?: unknown) =>
        new LifeboatError("SSH", `Cannot run a command on "${this.host}": ${details}`, { ...(hint ? { hint } : {}), ...(cause === undefined ? {} : { cause }) });
      if (signal?.aborted) return reject(failure("it was cancelled", undefined, signal.reason));
      if (this.lost) return reject(failure(`the connection is gone (${this.lost})`, "reconnect and retry"));
      let channel: ClientChannel | undefined;
      let settled = false;
      /** Stops the remote command (SIGTERM, then the channel closes) and rejects with `err`. */
      const stop = (err: unknown) => {
        if (channel) terminate(channel);
        settle(() => reject(err));
      };
      const onAbort = () => stop(failure("it was cancelled", undefined, signal?.reason));
      const settle = (finish: () => void) => {
        if (settled) return;
        settled = true;
        signal?.removeEventListener("abort", onAbort);
        finish();
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      const started = (err: Error | undefined, stream: ClientChannel) => {
        if (err) return settle(() => reject(failure(messageOf(err), "check the host's sshd log (MaxSessions?)", err)));
        if (settled) return terminate(stream); // cancelled while the command started
        channel = stream;
        this.collect(stream, options, { active: () => !settled, callbackFailed: stop }, (code, stdout, stderr) =>
          settle(() =>
            code === undefined
              ? reject(failure(`the connection was lost before the command finished (${this.lost ?? "no exit status"})`, "check the host and the network, then retry"))
              : resolve({ code, stdout, stderr }),
          ),
        );
        stream.on("error", (e: Error) => settle(() => reject(failure(messageOf(e), undefined, e))));
        if (options.keepStdinOpen) stream.write(options.stdin ?? "");
        else stream.end(options.stdin ?? "");
      };
      try {
        this.client.exec(command, started);
      } catch (err) {
        settle(() => reject(failure(`the connection is gone (${messageOf(err)})`, "reconnect and retry", err)));
      }
    });
  }

  /**
   * Gathers a channel's output; `done` gets `undefined` as code when no exit
   * status arrived. Callbacks are called only while `active()`;
   * `callbackFailed` gets what one of them threw.
   */
  private collect(
    stream: ClientChannel,
    options: ExecOptions,
    control: { active(): boolean; callbackFailed(err: unknown): void },
    done: (code: number | undefined, stdout: string, stderr: string) => void,
  ): void {
    const deliver = <T>(callback: ((value: T) => void) | undefined, value: T) => {
      if (!callback || !control.active()) return;
      try {
        callback(value);
      } catch (err) {
        control.callbackFailed(err);
      }
    };
    let stdout = "";
    let partial = "";
    let stderr = "";
    stream.setEncoding("utf8");
    stream.on("data", (chunk: string) => {
      if (!options.onStdoutLine) {
        stdout += chunk;
        return;
      }
      stdout = (stdout + chunk).slice(-STREAMED_STDOUT_TAIL);
      partial += chunk;
      let nl = partial.indexOf("\n");
      while (nl >= 0) {
        deliver(options.onStdoutLine, partial.slice(0, nl).replace(/\r$/, ""));
        partial = partial.slice(nl + 1);
        nl = partial.indexOf("\n");
      }
    });
    stream.stderr.setEncoding("utf8");
    stream.stderr.on("data", (chunk: string) => {
      deliver(options.onStderr, chunk);
      stderr = (stderr + chunk).slice(-STDERR_TAIL);
    });
    stream.on("close", (code?: number | null, signal?: string) => {
      if (partial) deliver(options.onStdoutLine, partial);
      done(exitCode(code, signal), stdout, stderr);
    });
  }

  private remoteFiles(): Promise<RemoteFiles> {
    this.files ??= new Promise<RemoteFiles>((resolve, reject) => {
      try {
        this.client.sftp((err, sftp) => (err ? reject(err) : resolve(new RemoteFiles(sftp))));
      } catch (err) {
        reject(err);
      }
    }).catch((err: unknown) => {
      this.files = undefined;
      throw new LifeboatError("SSH", `Cannot open SFTP on "${this.host}": ${messageOf(err)}`, { hint: "enable the sftp subsystem in the host's sshd_config (Subsystem sftp ...)", cause: err });
    });
    return this.files;
  }

  /**
   * Uploads a local file (path) or bytes to `remotePath` (`~/...` = remote home)
   * with `mode`, atomically: temp name beside it, then rename over. Missing
   * parent directories are created with mode 0700.
   * @throws LifeboatError("SSH") naming the host and the remote path.
   */
  async sftpPut(source: string | Buffer, remotePath: string, mode: number): Promise<void> {
    const files = await this.remoteFiles();
    try {
      await files.putAtomic(source, await files.resolve(remotePath), mode);
    } catch (err) {
      throw new LifeboatError("SSH", `Cannot upload "${remotePath}" to "${this.host}": ${sftpReason(err)}`, {
        hint: "check free space and the permissions of the directory on the host",
        cause: err,
      });
    }
  }

  /**
   * Downloads `remotePath` (`~/...` = remote home) whole.
   * @throws LifeboatError("SSH") naming the host and the path, e.g. "no such file or directory".
   */
  async sftpGet(remotePath: string): Promise<Buffer> {
    const files = await this.remoteFiles();
    try {
      return await files.get(await files.resolve(remotePath));
    } catch (err) {
      throw new LifeboatError("SSH", `Cannot download "${remotePath}" from "${this.host}": ${sftpReason(err)}`, { cause: err });
    }
  }

  /** The host's files through this connection's SFTP session (absolute paths; see {@link RemoteFiles}). */
  hostFiles(): Promise<RemoteFiles> {
    return this.remoteFiles();
  }

  /** Closes the connection (running commands lose their channel). Safe to call twice. */
  close(): void {
    this.client.end();
  }
}
