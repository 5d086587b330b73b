/**
 * @module Simulated hosts: each its own Unix user, home, host key and `sshd` on
 * 127.0.0.1, started as a child process of the tests (needs root: useradd).
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { freePort, waitForPort } from "./free-port";

/** A running simulated host. */
export interface SimulatedHost {
  name: string;
  user: string;
  hostname: string;
  port: number;
  home: string;
  /** The private key the controller logs in with. */
  clientKeyPath: string;
  /** `[127.0.0.1]:port ssh-ed25519 AAAA...` for a known_hosts file. */
  knownHostsLine: string;
  /** sshd's log so far. */
  log(): string;
  stop(): Promise<void>;
}

function need(binary: string, pkg: string): void {
  if (!fs.existsSync(binary)) throw new Error(`${binary} is missing: install ${pkg} (apt-get install ${pkg}); scripts/setup.sh does`);
}

function run(command: string, args: string[]): string {
  return execFileSync(command, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

function userExists(user: string): boolean {
  try {
    run("id", ["-u", user]);
    return true;
  } catch {
    return false;
  }
}

/** Starts a simulated host named `name` (user `lbt-<name>-<random>`). */
export async function startSimulatedHost(name: string): Promise<SimulatedHost> {
  need("/usr/sbin/sshd", "openssh-server");
  need("/usr/bin/ssh-keygen", "openssh-client");
  if (process.getuid?.() !== 0) throw new Error("simulated hosts need root (useradd, sshd): run the tests as root");
  // Unique per instance: test files run in parallel and may each start a host of the same name.
  const user = `lbt-${name.slice(0, 16)}-${crypto.randomBytes(3).toString("hex")}`;
  const base = fs.mkdtempSync(path.join(os.tmpdir(), `lifeboat-host-${name}-`));
  fs.chmodSync(base, 0o755);
  const home = path.join(base, "home");
  if (userExists(user)) run("userdel", ["-f", user]);
  run("useradd", ["--home-dir", home, "--create-home", "--shell", "/bin/bash", "--user-group", user]);
  run("usermod", ["-p", "*", user]);
  fs.chmodSync(home, 0o755);

  const sshDir = path.join(home, ".ssh");
  fs.mkdirSync(sshDir, { mode: 0o700 });
  const clientKeyPath = path.join(base, "client_ed25519");
  run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", `controller@${name}`, "-f", clientKeyPath]);
  fs.writeFileSync(path.join(sshDir, "authorized_keys"), fs.readFileSync(`${clientKeyPath}.pub`), { mode: 0o600 });
  run("chown", ["-R", `${user}:${user}`, sshDir]);

  const hostKey = path.join(base, "ssh_host_ed25519_key");
  run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", hostKey]);
  const port = await freePort();
  const config = path.join(base, "sshd_config");
  fs.writeFileSync(
    config,
    [
      `Port ${port}`,
      "ListenAddress 127.0.0.1",
      `HostKey ${hostKey}`,
      `PidFile ${path.join(base, "sshd.pid")}`,
      "UsePAM no",
      "PasswordAuthentication no",
      "KbdInteractiveAuthentication no",
      "PubkeyAuthentication yes",
      "AuthorizedKeysFile .ssh/authorized_keys",
      "StrictModes yes",
      `AllowUsers ${user}`,
      "Subsystem sftp internal-sftp",
      "LogLevel VERBOSE",
      "",
    ].join("\n"),
  );
  fs.mkdirSync("/run/sshd", { recursive: true, mode: 0o755 });
  const logFile = path.join(base, "sshd.log");
  const logFd = fs.openSync(logFile, "a");
  const sshd: ChildProcess = spawn("/usr/sbin/sshd", ["-D", "-e", "-f", config], { stdio: ["ignore", logFd, logFd] });
  fs.closeSync(logFd);
  const exited = new Promise<void>((resolve) => sshd.once("exit", () => resolve()));
  try {
    await waitForPort(port);
  } catch (err) {
    sshd.kill();
    throw new Error(`sshd for ${name} did not start: ${fs.readFileSync(logFile, "utf8")}`, { cause: err });
  }
  const hostPub = fs.readFileSync(`${hostKey}.pub`, "utf8").trim().split(/\s+/);
  return {
    name,
    user,
    hostname: "127.0.0.1",
    port,
    home,
    clientKeyPath,
    knownHostsLine: `[127.0.0.1]:${port} ${hostPub[0]} ${hostPub[1]}`,
    log: () => fs.readFileSync(logFile, "utf8"),
    async stop() {
      sshd.kill("SIGTERM");
      await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
      try {
        run("pkill", ["-u", user]);
      } catch {
        // nothing left running
      }
      try {
        run("userdel", ["-f", user]);
      } catch {
        // already gone
      }
      fs.rmSync(base, { recursive: true, force: true });
    },
  };
}
