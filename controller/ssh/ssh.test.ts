// SSH transport against a real OpenSSH sshd on loopback.
import { execFileSync, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../../test/harness/free-port";
import { startSimulatedHost, type SimulatedHost } from "../../test/harness/sshd";
import { connectSsh, type SshTarget } from "./connect";

describe("SSH transport", () => {
  let host: SimulatedHost;
  let dir: string;

  beforeAll(async () => {
    host = await startSimulatedHost("sshtest");
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "lifeboat-ssh-"));
  });
  afterAll(async () => {
    await host?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const target = (over: Partial<SshTarget> = {}): SshTarget => ({
    host: "sshtest",
    hostname: host.hostname,
    port: host.port,
    user: host.user,
    identityFiles: [host.clientKeyPath],
    knownHostsFiles: [path.join(dir, "known_hosts")],
    useAgent: false,
    connectTimeoutMs: 5000,
    idleTimeoutMs: 30000,
    acceptNewHostKey: false,
    ...over,
  });

  it("refuses an unknown host key, naming the host and its fingerprint", async () => {
    await expect(connectSsh(target({ knownHostsFiles: [path.join(dir, "empty")] }))).rejects.toMatchObject({
      code: "HOST_KEY",
      message: expect.stringMatching(/"sshtest".*not known.*SHA256:/),
    });
  });

  it("records a new host key only when asked, then trusts it", async () => {
    const file = path.join(dir, "accept");
    const conn = await connectSsh(target({ knownHostsFiles: [file], acceptNewHostKey: true }));
    conn.close();
    expect(fs.readFileSync(file, "utf8")).toContain(`[127.0.0.1]:${host.port} ssh-ed25519 `);
    (await connectSsh(target({ knownHostsFiles: [file] }))).close();
  });

  it("refuses a changed host key even when new keys are accepted", async () => {
    const file = path.join(dir, "changed");
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", path.join(dir, "other")]);
    const other = fs.readFileSync(path.join(dir, "other.pub"), "utf8").split(" ");
    fs.writeFileSync(file, `# old entry\n[127.0.0.1]:${host.port} ${other[0]} ${other[1]}\n`);
    await expect(connectSsh(target({ knownHostsFiles: [file], acceptNewHostKey: true }))).rejects.toMatchObject({
      code: "HOST_KEY",
      message: expect.stringContaining(`CHANGED`),
    });
    expect((await connectSsh(target({ knownHostsFiles: [file], acceptNewHostKey: true })).catch((e: Error) => e)) as Error).toMatchObject({ message: expect.stringContaining(`${file}:2`) });
  });

  it("matches hashed known_hosts entries", async () => {
    const file = path.join(dir, "hashed");
    fs.writeFileSync(file, `${host.knownHostsLine}\n`);
    execFileSync("ssh-keygen", ["-H", "-f", file], { stdio: "ignore" });
    expect(fs.readFileSync(file, "utf8")).toMatch(/^\|1\|/);
    (await connectSsh(target({ knownHostsFiles: [file] }))).close();
  });

  describe("with a trusted connection", () => {
    const trusted = () => {
      const file = path.join(dir, "trusted");
      fs.writeFileSync(file, `${host.knownHostsLine}\n`);
      return target({ knownHostsFiles: [file] });
    };

    it("runs commands with stdin, streams stdout lines, reports exit codes", async () => {
      const conn = await connectSsh(trusted());
      try {
        const lines: string[] = [];
        const result = await conn.exec("cat; echo done; echo oops >&2; exit 3", { stdin: "one\ntwo\n", onStdoutLine: (l) => lines.push(l) });
        expect(result.code).toBe(3);
        expect(lines).toEqual(["one", "two", "done"]);
        expect(result.stderr.trim()).toBe("oops");
      } finally {
        conn.close();
      }
    });

    it("uploads atomically over SFTP under ~ with the given mode", async () => {
      const conn = await connectSsh(trusted());
      try {
        await conn.sftpPut(Buffer.from("payload"), "~/.lifeboat/sub/file.txt", 0o600);
        expect((await conn.sftpGet("~/.lifeboat/sub/file.txt")).toString()).toBe("payload");
        const st = fs.statSync(path.join(host.home, ".lifeboat/sub/file.txt"));
        expect(st.mode & 0o777).toBe(0o600);
        await conn.sftpPut(Buffer.from("second"), "~/.lifeboat/sub/file.txt", 0o600);
        expect(fs.readFileSync(path.join(host.home, ".lifeboat/sub/file.txt"), "utf8")).toBe("second");
      } finally {
        conn.close();
      }
    });

    it("authenticates through ssh-agent without identity files", async () => {
      const sock = path.join(dir, "agent.sock");
      const agent = spawn("ssh-agent", ["-D", "-a", sock], { stdio: "ignore" });
      try {
        for (let i = 0; i < 50 && !fs.existsSync(sock); i++) await new Promise((r) => setTimeout(r, 50));
        execFileSync("ssh-add", [host.clientKeyPath], { env: { ...process.env, SSH_AUTH_SOCK: sock }, stdio: "ignore" });
        const saved = process.env.SSH_AUTH_SOCK;
        process.env.SSH_AUTH_SOCK = sock;
        try {
          const conn = await connectSsh({ ...trusted(), identityFiles: [], useAgent: true });
          expect((await conn.exec("echo via-agent")).stdout.trim()).toBe("via-agent");
          conn.close();
        } finally {
          if (saved === undefined) delete process.env.SSH_AUTH_SOCK;
          else process.env.SSH_AUTH_SOCK = saved;
        }
      } finally {
        agent.kill();
      }
    });

    it("reports a wrong key as an authentication failure naming the host", async () => {
      execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", path.join(dir, "stranger")]);
      await expect(connectSsh({ ...trusted(), identityFiles: [path.join(dir, "stranger")] })).rejects.toMatchObject({
        code: "SSH",
        message: expect.stringMatching(/"sshtest".*authentication failed/),
      });
    });
  });

  it("reports a closed port as refused, naming the host", async () => {
    const port = await freePort();
    await expect(connectSsh(target({ port }))).rejects.toMatchObject({ code: "SSH", message: expect.stringMatching(/"sshtest".*refused/) });
  });
});
