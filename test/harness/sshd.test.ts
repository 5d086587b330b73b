// The simulated-host harness, checked with the stock OpenSSH client (not Lifeboat's own transport).
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSimulatedHost, type SimulatedHost } from "./sshd";
import { runtimeBinaries } from "./test-runtime";

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "lifeboat-sshd-test-"));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Runs `command` on `host` with /usr/bin/ssh, strict host-key checking against the harness's known_hosts line. */
function ssh(host: SimulatedHost, command: string): string {
  const knownHosts = path.join(dir, `known_hosts_${host.user}`);
  fs.writeFileSync(knownHosts, `${host.knownHostsLines.join("\n")}\n`);
  return execFileSync(
    "ssh",
    ["-F", "none", "-i", host.clientKeyPath, "-p", String(host.port), "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes", "-o", `UserKnownHostsFile=${knownHosts}`, "-o", "IdentitiesOnly=yes", `${host.user}@${host.hostname}`, command],
    { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] },
  );
}

function passwdEntry(user: string): string[] {
  return execFileSync("getent", ["passwd", user], { encoding: "utf8" }).trim().split(":");
}

describe("simulated hosts", () => {
  let hosts: SimulatedHost[] = [];
  afterAll(async () => {
    await Promise.all(hosts.map((h) => h.stop()));
  });

  it("run side by side, each with its own user, home, port and host key", async () => {
    // Same name twice: parallel test files do that, and users must still not collide.
    hosts = await Promise.all([startSimulatedHost("twin"), startSimulatedHost("twin"), startSimulatedHost("other")]);
    for (const field of ["user", "home", "port", "hostPublicKeyLine", "clientKeyPath"] as const) {
      expect(new Set(hosts.map((h) => h[field])).size).toBe(3);
    }
    for (const h of hosts) {
      expect(h.user).toMatch(new RegExp(`^lbt-${h.name}-[0-9a-f]{6}$`));
      expect(h.knownHostsLine).toBe(`[127.0.0.1]:${h.port} ${h.hostPublicKeyLine}`);
      expect(ssh(h, "whoami").trim()).toBe(h.user);
    }
  });

  it("give the user /bin/bash and a home that sshd's StrictModes accepts", () => {
    for (const h of hosts) {
      const [, , uid, , , home, shell] = passwdEntry(h.user);
      expect({ home, shell }).toEqual({ home: h.home, shell: "/bin/bash" });
      expect(fs.statSync(h.home).uid).toBe(Number(uid));
      expect(fs.statSync(path.join(h.home, ".ssh")).mode & 0o777).toBe(0o700);
      const keys = fs.statSync(path.join(h.home, ".ssh", "authorized_keys"));
      expect({ mode: keys.mode & 0o777, uid: keys.uid }).toEqual({ mode: 0o600, uid: Number(uid) });
    }
  });

  it("let commands find node on PATH and start in the home directory", () => {
    const [pwd, nodeVersion] = ssh(hosts[0]!, "pwd; node --version").trim().split("\n");
    expect(pwd).toBe(hosts[0]!.home);
    expect(nodeVersion).toBe(process.version);
  });

  it("capture sshd's log, including logins", () => {
    const h = hosts[0]!;
    expect(h.log()).toContain(`Accepted publickey for ${h.user}`);
  });

  it("offer one known_hosts line per requested host key type", async () => {
    const multi = await startSimulatedHost("keys", { hostKeyTypes: ["ed25519", "ecdsa", "rsa"] });
    hosts.push(multi);
    expect(multi.knownHostsLines.map((l) => l.split(" ")[1])).toEqual(["ssh-ed25519", "ecdsa-sha2-nistp256", "ssh-rsa"]);
    expect(ssh(multi, "echo ok").trim()).toBe("ok");
  });

  it("a bare host (a fresh VPS) cannot run node or deno, has no node directory on its PATH, and sees hidden directories empty", async () => {
    fs.chmodSync(dir, 0o755);
    const data = fs.mkdtempSync(path.join(dir, "data-"));
    fs.chmodSync(data, 0o750);
    fs.writeFileSync(path.join(data, "secret.db"), "rows");
    const bare = await startSimulatedHost("bare", { bare: true, hide: [data] });
    hosts.push(bare);
    expect(bare.bare).toBe(true);
    const out = ssh(bare, 'echo "PATH=$PATH"; node --version; echo "node=$?"; deno --version; echo "deno=$?"; for b in ' + runtimeBinaries().join(" ") + ' ; do "$b" --version >/dev/null 2>&1; echo "$b=$?"; done; ls -A ' + data + '; stat -c "%U %a" ' + data);
    const lines = out.trim().split("\n");
    expect(lines[0]).toBe("PATH=/usr/local/bin:/usr/bin:/bin");
    // bash: 126 found but not executable (the mask), 127 not found.
    expect(lines.filter((l) => /^(node|deno)=/.test(l))).toEqual([expect.stringMatching(/^node=12[67]$/), expect.stringMatching(/^deno=12[67]$/)]);
    // Every Node.js and Deno binary of the machine, the npm Deno's included, fails to start there.
    const binaries = runtimeBinaries();
    expect(binaries.some((b) => b.endsWith("/deno")) && binaries.includes(fs.realpathSync(process.execPath))).toBe(true);
    for (const b of binaries) expect(lines).toContain(`${b}=126`);
    expect(lines.at(-1)).toBe(`${bare.user} 750`);
    expect(lines).not.toContain("secret.db");
    // Outside the host's namespace nothing changed.
    expect(fs.readdirSync(data)).toEqual(["secret.db"]);
    expect(execFileSync(process.execPath, ["--version"], { encoding: "utf8" }).trim()).toBe(process.version);
  });

  it("a later start removes the user and files left behind by a test process that died", async () => {
    const orphan = await startSimulatedHost("orphan");
    try {
      const deadPid = spawnSync("true").pid!;
      fs.writeFileSync(path.join(path.dirname(orphan.home), "owner.pid"), String(deadPid));
      hosts.push(await startSimulatedHost("heir"));
      expect(() => passwdEntry(orphan.user)).toThrow();
      expect(fs.existsSync(path.dirname(orphan.home))).toBe(false);
      expect(() => passwdEntry(hosts.at(-1)!.user)).not.toThrow();
    } finally {
      await orphan.stop();
    }
  });

  it("stop: sshd, the user and the temp dir are gone, and stopping twice is harmless", async () => {
    const h = hosts.pop()!;
    await h.stop();
    await h.stop();
    expect(() => passwdEntry(h.user)).toThrow();
    expect(fs.existsSync(h.home)).toBe(false);
    expect(fs.existsSync(path.dirname(h.clientKeyPath))).toBe(false);
    const refused = await new Promise<boolean>((resolve) => {
      const socket = net.connect(h.port, "127.0.0.1");
      socket.once("connect", () => (socket.destroy(), resolve(false)));
      socket.once("error", () => resolve(true));
    });
    expect(refused).toBe(true);
  });
});
