// Commands and SFTP over a real OpenSSH sshd on loopback.
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sshTargetOf, startSimulatedHost, type SimulatedHost } from "../../test/harness/sshd";
import { connectSsh, type SshTarget } from "./connect";
import type { SshConnection } from "./session";

let host: SimulatedHost;
let dir: string;
let conn: SshConnection;

beforeAll(async () => {
  host = await startSimulatedHost("sessiontest");
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "lifeboat-session-"));
  conn = await connectSsh(trusted(host));
});
afterAll(async () => {
  conn?.close();
  await host?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

function trusted(h: SimulatedHost, over: Partial<SshTarget> = {}): SshTarget {
  const knownHosts = path.join(dir, `known_hosts_${h.name}`);
  fs.writeFileSync(knownHosts, `${h.knownHostsLine}\n`);
  return sshTargetOf(h, knownHosts, over);
}

/** A TCP relay to `port` that can stop relaying without closing anything (a link that went dead). */
async function startFreezableRelay(port: number): Promise<{ port: number; freeze(): void; close(): void }> {
  const sockets: net.Socket[] = [];
  const server = net.createServer((client) => {
    const upstream = net.connect(port, "127.0.0.1");
    for (const s of [client, upstream]) s.on("error", () => {});
    client.pipe(upstream);
    upstream.pipe(client);
    sockets.push(client, upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    freeze() {
      for (const s of sockets) {
        s.unpipe();
        s.pause();
      }
    },
    close() {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

describe("exec", () => {
  it("passes stdin, returns stdout, stderr and the exit code", async () => {
    const result = await conn.exec("cat; echo oops >&2; exit 3", { stdin: "one\ntwo\n" });
    expect(result).toEqual({ code: 3, stdout: "one\ntwo\n", stderr: "oops\n" });
  });

  it("closes stdin after writing it, also when it is large or binary", async () => {
    const bytes = crypto.randomBytes(3 * 1024 * 1024 + 7);
    const result = await conn.exec("sha256sum", { stdin: bytes });
    expect(result.stdout.split(" ")[0]).toBe(crypto.createHash("sha256").update(bytes).digest("hex"));
  });

  it("closes stdin when none is given, so reading commands finish", async () => {
    expect(await conn.exec("wc -c")).toMatchObject({ code: 0, stdout: "0\n" });
  });

  it("delivers stdout line by line as it arrives, joining lines split across chunks", async () => {
    const lines: string[] = [];
    const stderr: string[] = [];
    await conn.exec(`printf '{"type":"start"}\\n{"type":'; sleep 0.2; printf '"progress"}\\nlast'; echo warn >&2`, {
      onStdoutLine: (line) => lines.push(line),
      onStderr: (chunk) => stderr.push(chunk),
    });
    expect(lines).toEqual(['{"type":"start"}', '{"type":"progress"}', "last"]);
    expect(stderr.join("")).toBe("warn\n");
  });

  it("reports a command killed by a signal as 128 + the signal number", async () => {
    expect((await conn.exec("kill -TERM $$")).code).toBe(128 + os.constants.signals.SIGTERM);
  });

  it("runs in the user's home with node on PATH", async () => {
    const result = await conn.exec('pwd; command -v node; echo "$SHELL"');
    expect(result.stdout.split("\n").slice(0, 3)).toEqual([host.home, expect.stringMatching(/\/node$/), "/bin/bash"]);
  });

  it("cancels a running command through its AbortSignal and stops it on the host", async () => {
    const controller = new AbortController();
    const running = conn.exec("echo started; exec sleep 300", { signal: controller.signal, onStdoutLine: () => controller.abort() });
    await expect(running).rejects.toMatchObject({ code: "SSH", message: `Cannot run a command on "sessiontest": it was cancelled` });
    await expect.poll(async () => (await conn.exec(`pgrep -u ${host.user} -x sleep`)).stdout, { timeout: 10_000 }).toBe("");
    expect((await conn.exec("echo still usable")).stdout).toBe("still usable\n");
  });

  it("rejects with what an onStdoutLine callback throws, stops the command and delivers no more lines", async () => {
    const seen: string[] = [];
    const bad = new Error("not an event");
    const running = conn.exec("echo first; echo second; exec sleep 300", {
      onStdoutLine: (line) => {
        seen.push(line);
        throw bad;
      },
    });
    await expect(running).rejects.toBe(bad);
    expect(seen).toEqual(["first"]);
    await expect.poll(async () => (await conn.exec(`pgrep -u ${host.user} -x sleep`)).stdout, { timeout: 10_000 }).toBe("");
  });

  it("refuses to start a command whose signal is already aborted", async () => {
    await expect(conn.exec("echo never", { signal: AbortSignal.abort() })).rejects.toMatchObject({ code: "SSH", message: expect.stringContaining("cancelled") });
  });
});

describe("lost connections", () => {
  it("rejects a running command when the host goes away, naming the host", async () => {
    const doomed = await startSimulatedHost("doomed");
    const c = await connectSsh(trusted(doomed));
    try {
      const running = c.exec("echo started; exec sleep 300", { onStdoutLine: () => void doomed.stop() });
      await expect(running).rejects.toMatchObject({ code: "SSH", message: expect.stringMatching(/^Cannot run a command on "doomed": the connection was lost/) });
      await expect(c.exec("true")).rejects.toMatchObject({ code: "SSH", message: expect.stringContaining("the connection is gone") });
    } finally {
      c.close();
      await doomed.stop();
    }
  });

  it("detects a link that goes silent through keepalives within the idle timeout", async () => {
    const relay = await startFreezableRelay(host.port);
    const knownHosts = path.join(dir, "known_hosts_relay");
    fs.writeFileSync(knownHosts, `[127.0.0.1]:${relay.port} ${host.hostPublicKeyLine}\n`);
    const c = await connectSsh(sshTargetOf(host, knownHosts, { port: relay.port, idleTimeoutMs: 800 }));
    try {
      const running = c.exec("echo started; exec sleep 300", { onStdoutLine: () => relay.freeze() });
      await expect(running).rejects.toMatchObject({ code: "SSH", message: expect.stringContaining("stopped answering keepalives") });
    } finally {
      c.close();
      relay.close();
    }
  });
});

describe("SFTP", () => {
  it("uploads bytes under ~ with the given mode, creating parent directories 0700", async () => {
    await conn.sftpPut(Buffer.from("payload"), "~/.lifeboat/sub/spec.json", 0o600);
    const local = path.join(host.home, ".lifeboat/sub/spec.json");
    expect(fs.readFileSync(local, "utf8")).toBe("payload");
    expect(fs.statSync(local).mode & 0o777).toBe(0o600);
    expect(fs.statSync(path.dirname(local)).mode & 0o777).toBe(0o700);
    expect(fs.statSync(path.join(host.home, ".lifeboat")).mode & 0o777).toBe(0o700);
    expect(fs.statSync(local).uid).toBe(Number((await conn.exec("id -u")).stdout.trim()));
    expect((await conn.sftpGet("~/.lifeboat/sub/spec.json")).toString()).toBe("payload");
  });

  it("uploads a local file, replacing the old one whole and leaving no temp file", async () => {
    const bundle = path.join(dir, "agent.mjs");
    const bytes = crypto.randomBytes(2 * 1024 * 1024);
    fs.writeFileSync(bundle, bytes);
    await conn.sftpPut(Buffer.from("old"), "~/agent/agent.mjs", 0o600);
    await conn.sftpPut(bundle, "~/agent/agent.mjs", 0o700);
    const local = path.join(host.home, "agent/agent.mjs");
    expect(fs.readFileSync(local).equals(bytes)).toBe(true);
    expect(fs.statSync(local).mode & 0o777).toBe(0o700);
    expect(fs.readdirSync(path.dirname(local))).toEqual(["agent.mjs"]);
    expect((await conn.sftpGet(`${host.home}/agent/agent.mjs`)).equals(bytes)).toBe(true);
  });

  it("names the host and path when a download does not exist", async () => {
    await expect(conn.sftpGet("~/nothing/here")).rejects.toMatchObject({
      code: "SSH",
      message: `Cannot download "~/nothing/here" from "sessiontest": no such file or directory`,
    });
  });

  it("names the host and path when an upload is not permitted", async () => {
    await expect(conn.sftpPut(Buffer.from("x"), "/etc/lifeboat-test/forbidden", 0o600)).rejects.toMatchObject({
      code: "SSH",
      message: `Cannot upload "/etc/lifeboat-test/forbidden" to "sessiontest": permission denied`,
    });
  });
});
