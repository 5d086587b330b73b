// Connecting with ssh2 to real OpenSSH sshd on loopback: host keys, authentication, failures.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../../test/harness/free-port";
import { sshTargetOf, startSimulatedHost, type SimulatedHost } from "../../test/harness/sshd";
import { connectSsh, type SshTarget } from "./connect";

let host: SimulatedHost;
let dir: string;
let counter = 0;

beforeAll(async () => {
  host = await startSimulatedHost("conntest");
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "lifeboat-connect-"));
});
afterAll(async () => {
  await host?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

function file(text?: string): string {
  const p = path.join(dir, `f${counter++}`);
  if (text !== undefined) fs.writeFileSync(p, text);
  return p;
}

/** A target whose known_hosts trusts the host. */
const trusted = (over: Partial<SshTarget> = {}): SshTarget => sshTargetOf(host, file(`${host.knownHostsLine}\n`), over);

/** `SHA256:...` of a public key line, as the real ssh-keygen computes it. */
function keygenFingerprint(publicKeyLine: string): string {
  const pub = file(`${publicKeyLine}\n`);
  return execFileSync("ssh-keygen", ["-l", "-f", pub], { encoding: "utf8" }).split(" ")[1]!;
}

/** Runs `ssh-agent` on its own socket holding `keys`; kill() stops exactly that agent. */
async function startAgent(keys: string[]): Promise<{ sock: string; kill(): void }> {
  const sock = path.join(dir, `agent${counter++}.sock`);
  const agent: ChildProcess = spawn("ssh-agent", ["-D", "-a", sock], { stdio: "ignore" });
  for (let i = 0; i < 200 && !fs.existsSync(sock); i++) await new Promise((r) => setTimeout(r, 25));
  for (const key of keys) execFileSync("ssh-add", ["-q", key], { env: { ...process.env, SSH_AUTH_SOCK: sock }, stdio: "ignore" });
  return { sock, kill: () => agent.kill() };
}

async function withAuthSock<T>(sock: string, run: () => Promise<T>): Promise<T> {
  const saved = process.env.SSH_AUTH_SOCK;
  process.env.SSH_AUTH_SOCK = sock;
  try {
    return await run();
  } finally {
    if (saved === undefined) delete process.env.SSH_AUTH_SOCK;
    else process.env.SSH_AUTH_SOCK = saved;
  }
}

async function echo(target: SshTarget): Promise<string> {
  const conn = await connectSsh(target);
  try {
    return (await conn.exec("echo ok")).stdout.trim();
  } finally {
    conn.close();
  }
}

describe("host keys", () => {
  it("refuses an unknown host key, naming the host, its fingerprint and the known_hosts file", async () => {
    const knownHosts = file();
    const err = await connectSsh(sshTargetOf(host, knownHosts)).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "HOST_KEY", message: `Cannot connect to "conntest": its SSH host key is not known (ssh-ed25519 ${keygenFingerprint(host.hostPublicKeyLine)})` });
    expect((err as { hint: string }).hint).toMatch(new RegExp(`--accept-new-host-key.*ssh-keyscan.*${knownHosts}`));
    expect(fs.existsSync(knownHosts)).toBe(false);
  });

  it("records an unknown key with acceptNewHostKey, after which a plain connect succeeds", async () => {
    const knownHosts = path.join(dir, `home${counter++}`, ".ssh", "known_hosts");
    expect(await echo(sshTargetOf(host, knownHosts, { acceptNewHostKey: true }))).toBe("ok");
    expect(fs.readFileSync(knownHosts, "utf8")).toBe(`${host.knownHostsLine}\n`);
    expect(fs.statSync(knownHosts).mode & 0o777).toBe(0o600);
    expect(fs.statSync(path.dirname(knownHosts)).mode & 0o777).toBe(0o700);
    expect(await echo(sshTargetOf(host, knownHosts))).toBe("ok");
  });

  it("refuses a changed host key even with acceptNewHostKey, pointing at the old line", async () => {
    const other = file();
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", other]);
    const stale = `[127.0.0.1]:${host.port} ${fs.readFileSync(`${other}.pub`, "utf8").split(" ").slice(0, 2).join(" ")}\n`;
    const knownHosts = file(`# reinstalled last week?\n${stale}`);
    const err = await connectSsh(sshTargetOf(host, knownHosts, { acceptNewHostKey: true })).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "HOST_KEY" });
    const { message, hint } = err as { message: string; hint: string };
    expect(message).toContain(`Cannot connect to "conntest": its SSH host key CHANGED`);
    expect(message).toContain(keygenFingerprint(host.hostPublicKeyLine));
    expect(message).toContain(`${knownHosts}:2`);
    expect(hint).toMatch(/man-in-the-middle.*ssh-keygen -R/);
    expect(fs.readFileSync(knownHosts, "utf8")).toBe(`# reinstalled last week?\n${stale}`);
  });

  it("trusts a hashed known_hosts entry made by ssh-keygen -H", async () => {
    const knownHosts = file(`${host.knownHostsLine}\n`);
    execFileSync("ssh-keygen", ["-H", "-f", knownHosts], { stdio: "ignore" });
    expect(fs.readFileSync(knownHosts, "utf8")).toMatch(/^\|1\|/);
    expect(await echo(sshTargetOf(host, knownHosts))).toBe("ok");
  });

  it("refuses a host key marked @revoked", async () => {
    const knownHosts = file(`${host.knownHostsLine}\n@revoked * ${host.hostPublicKeyLine}\n`);
    await expect(connectSsh(sshTargetOf(host, knownHosts, { acceptNewHostKey: true }))).rejects.toMatchObject({
      code: "HOST_KEY",
      message: expect.stringMatching(/"conntest".*@revoked/),
    });
  });

  describe("on a host with ed25519 and ecdsa keys", () => {
    let multi: SimulatedHost;
    beforeAll(async () => {
      multi = await startSimulatedHost("multikey", { hostKeyTypes: ["ed25519", "ecdsa"] });
    });
    afterAll(async () => {
      await multi?.stop();
    });

    it("asks for the key type already known, so knowing only the ecdsa key is enough", async () => {
      expect(multi.knownHostsLines[1]).toMatch(/ ecdsa-sha2-nistp256 /);
      expect(await echo(sshTargetOf(multi, file(`${multi.knownHostsLines[1]}\n`)))).toBe("ok");
    });

    it("treats a host known only by a key type it does not offer as changed", async () => {
      const rsa = file();
      execFileSync("ssh-keygen", ["-q", "-t", "rsa", "-b", "2048", "-N", "", "-f", rsa]);
      const line = `[127.0.0.1]:${multi.port} ${fs.readFileSync(`${rsa}.pub`, "utf8").split(" ").slice(0, 2).join(" ")}\n`;
      await expect(connectSsh(sshTargetOf(multi, file(line), { acceptNewHostKey: true }))).rejects.toMatchObject({
        code: "HOST_KEY",
        message: expect.stringMatching(/CHANGED.*different ssh-rsa key/),
      });
    });
  });
});

describe("authentication", () => {
  it("reports a key the host does not accept as an authentication failure listing what was tried", async () => {
    const stranger = file();
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", stranger]);
    const err = await connectSsh(trusted({ identityFiles: [stranger, path.join(dir, "no-such-key")] })).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "SSH", message: expect.stringMatching(/^Cannot connect to "conntest" \(.*\): authentication failed/) });
    expect((err as Error).message).toContain(`identity file ${stranger}`);
    expect((err as Error).message).toContain("no-such-key (missing)");
    expect((err as { hint?: string }).hint).toContain("authorized_keys");
  });

  it("logs in through ssh-agent without identity files", async () => {
    const agent = await startAgent([host.clientKeyPath]);
    try {
      expect(await withAuthSock(agent.sock, () => echo(trusted({ identityFiles: [], useAgent: true })))).toBe("ok");
    } finally {
      agent.kill();
    }
  });

  it("falls back to the identity file when the ssh-agent socket is dead", async () => {
    expect(await withAuthSock(path.join(dir, "dead.sock"), () => echo(trusted({ useAgent: true })))).toBe("ok");
  });

  it("refuses a passphrase-protected identity file without ssh-agent, saying to load it there", async () => {
    const locked = file();
    fs.copyFileSync(host.clientKeyPath, locked);
    execFileSync("ssh-keygen", ["-q", "-p", "-P", "", "-N", "correct horse", "-f", locked]);
    await expect(connectSsh(trusted({ identityFiles: [locked] }))).rejects.toMatchObject({
      code: "SSH",
      message: `Cannot use identity file "${locked}" for "conntest": it is protected by a passphrase`,
      hint: expect.stringContaining(`ssh-add ${locked}`),
    });
    const agent = await startAgent([host.clientKeyPath]);
    try {
      expect(await withAuthSock(agent.sock, () => echo(trusted({ identityFiles: [locked], useAgent: true })))).toBe("ok");
    } finally {
      agent.kill();
    }
  });

  it("says there is no key to log in with when no identity file exists and the agent is off", async () => {
    await expect(connectSsh(trusted({ identityFiles: [path.join(dir, "gone")] }))).rejects.toMatchObject({
      code: "SSH",
      message: expect.stringMatching(/"conntest": no SSH key to log in with \(skipped: identity file .*gone \(missing\)\)/),
    });
  });
});

describe("connection failures", () => {
  it("reports a closed port as connection refused, naming the host", async () => {
    const port = await freePort();
    await expect(connectSsh(trusted({ port }))).rejects.toMatchObject({
      code: "SSH",
      message: `Cannot connect to "conntest" (${host.user}@127.0.0.1:${port}): connection refused`,
      hint: expect.stringContaining("sshd"),
    });
  });

  it("reports a name that does not resolve, naming the host and the name", async () => {
    await expect(connectSsh(trusted({ hostname: "no-such-host.invalid" }))).rejects.toMatchObject({
      code: "SSH",
      message: expect.stringMatching(/^Cannot connect to "conntest" .*: the name "no-such-host\.invalid" does not resolve/),
    });
  });

  it("reports a port that accepts TCP but never speaks SSH as a timeout", async () => {
    const silent = net.createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const sockets: net.Socket[] = [];
    silent.on("connection", (s) => sockets.push(s));
    try {
      await expect(connectSsh(trusted({ port: (silent.address() as net.AddressInfo).port, connectTimeoutMs: 300 }))).rejects.toMatchObject({
        code: "SSH",
        message: expect.stringMatching(/^Cannot connect to "conntest" .*: timed out after 300 ms$/),
      });
    } finally {
      for (const s of sockets) s.destroy();
      silent.close();
    }
  });
});
