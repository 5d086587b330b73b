/**
 * @module Simulated hosts for tests: each its own Unix user and home, client
 * key, host key(s) and a real OpenSSH `sshd` on 127.0.0.1 and a free port,
 * started as a child process of the tests. Needs root (useradd) and
 * openssh-server; without them it throws, so tests fail instead of skipping.
 * A bare host (a fresh VPS) runs its sshd in a mount namespace of its own in
 * which no Node.js or Deno binary of this machine can run.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { currentPlatform } from "../../platform/current";
import type { SshTarget } from "../../controller/ssh/connect";
import { freePort, waitForPort } from "./free-port";
import { denoForHosts, runtimeBinaries, testRuntime } from "./test-runtime";

/** Host key types a simulated host can have. */
export type HostKeyType = "ed25519" | "ecdsa" | "rsa";

/** Options of {@link startSimulatedHost}. */
export interface SimulatedHostOptions {
  /** The host's keys, in sshd's order of preference; default `["ed25519"]`. */
  hostKeyTypes?: HostKeyType[];
  /**
   * A fresh VPS: sshd runs in a mount namespace of its own (`unshare -m`,
   * private propagation) where an empty, non-executable file is bind-mounted
   * over every Node.js and Deno binary of this machine, so its sessions cannot
   * run either; their PATH has no node directory.
   */
  bare?: boolean;
  /**
   * Directories that look empty on this host: an empty tmpfs, owned by the
   * host's user with the directory's mode, is mounted over each inside the
   * host's mount namespace, e.g. another host's data directories, so the same
   * paths start empty here.
   */
  hide?: string[];
  /** More files masked like the runtimes of a bare host, e.g. `/usr/bin/gzip` for a host without gzip. */
  mask?: string[];
  /**
   * The controller logs in as root, as on a fresh VPS (restores then keep
   * owners). The host gets a mount namespace in which `/root` is an empty
   * tmpfs, so the machine's real root home is never touched; `home` is `/root`
   * there (not visible from the tests' side).
   */
  root?: boolean;
}

/** A running simulated host. */
export interface SimulatedHost {
  name: string;
  /** The Unix user the controller logs in as: `lbt-<name>-<random>`. */
  user: string;
  hostname: "127.0.0.1";
  port: number;
  /** The user's home (inside the host's own temp dir). */
  home: string;
  /** Started with `bare`: no Node.js or Deno runs there. */
  bare: boolean;
  /** The passphrase-less ed25519 private key the controller logs in with (its `.pub` is beside it). */
  clientKeyPath: string;
  /** The first host key as in its `.pub` file: `ssh-ed25519 AAAA...`. */
  hostPublicKeyLine: string;
  /** The first host key as a known_hosts line: `[127.0.0.1]:port ssh-ed25519 AAAA...`. */
  knownHostsLine: string;
  /** One known_hosts line per host key, in the order of `hostKeyTypes`. */
  knownHostsLines: string[];
  /** sshd's log (stderr, LogLevel VERBOSE) so far. */
  log(): string;
  /** Stops sshd and the user's processes, deletes the user and the temp dir. Safe to call twice. */
  stop(): Promise<void>;
}

const SSHD = "/usr/sbin/sshd";
const SSH_KEYGEN = "/usr/bin/ssh-keygen";

function run(command: string, args: string[]): string {
  return execFileSync(command, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

/** Runs a user-database command, retrying while another test worker holds /etc/passwd's lock. */
async function runLocked(command: string, args: string[]): Promise<string> {
  for (let attempt = 1; ; attempt++) {
    try {
      return run(command, args);
    } catch (err) {
      const stderr = String((err as { stderr?: unknown }).stderr ?? "");
      if (attempt >= 20 || !/lock|try again/i.test(stderr)) throw new Error(`${command} ${args.join(" ")} failed: ${stderr.trim()}`, { cause: err });
      await new Promise((r) => setTimeout(r, 100 * attempt));
    }
  }
}

function checkPrerequisites(): void {
  for (const tool of [SSHD, SSH_KEYGEN]) {
    if (!fs.existsSync(tool)) throw new Error(`${tool} is missing: install openssh-server (apt-get install openssh-server; scripts/setup.sh does)`);
  }
  if (process.getuid?.() !== 0) throw new Error("simulated hosts need root (useradd, sshd): run the tests as root");
}

/** The PATH sshd gives sessions: the node running the tests first (and Deno's directory under LIFEBOAT_TEST_RUNTIME=deno); none of them on a bare host. */
function sessionPath(bare: boolean): string {
  const system = ["/usr/local/bin", "/usr/bin", "/bin"];
  if (bare) return system.join(":");
  const runtimes = [path.dirname(process.execPath), ...(testRuntime() === "deno" ? [path.dirname(denoForHosts())] : [])];
  return [...new Set([...runtimes, ...system])].join(":");
}

function sshdConfig(base: string, port: number, user: string, hostKeys: string[], bare: boolean, root: boolean): string {
  // As root, the authorized keys live with the host's files (under the temp dir, hence no StrictModes).
  const login = root ? ["AllowUsers root", "PermitRootLogin prohibit-password", `AuthorizedKeysFile ${path.join(base, "root_authorized_keys")}`, "StrictModes no"] : ["AuthorizedKeysFile .ssh/authorized_keys", "StrictModes yes", `AllowUsers ${user}`];
  return [
    `Port ${port}`,
    "ListenAddress 127.0.0.1",
    ...hostKeys.map((k) => `HostKey ${k}`),
    `PidFile ${path.join(base, "sshd.pid")}`,
    "UsePAM no",
    "PasswordAuthentication no",
    "KbdInteractiveAuthentication no",
    "PubkeyAuthentication yes",
    ...login,
    "Subsystem sftp internal-sftp",
    // LIFEBOAT_AGENT_WORKERS of the tests reaches the agents (e.g. chunk worker threads on a 2-core machine).
    `SetEnv PATH=${sessionPath(bare)}${process.env.LIFEBOAT_AGENT_WORKERS ? ` LIFEBOAT_AGENT_WORKERS=${Number.parseInt(process.env.LIFEBOAT_AGENT_WORKERS, 10)}` : ""}`,
    "LogLevel VERBOSE",
    "",
  ].join("\n");
}

/** A word for /bin/sh. */
function shWord(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/** How a host's own mount namespace is made: what to mask and hide, and as whom hidden directories appear. */
interface Namespace {
  mask: string;
  binaries: string[];
  hide: { dir: string; uid: number; gid: number; mode?: number }[];
}

/**
 * sshd's command: sshd itself, or (bare, hide, mask) `unshare -m` running a shell
 * that mounts the masks and tmpfs directories, then execs sshd (same pid).
 */
function sshdCommand(config: string, namespace: Namespace | undefined): { command: string; args: string[] } {
  const sshd = ["-D", "-e", "-f", config];
  if (!namespace) return { command: SSHD, args: sshd };
  const script = [
    "set -e",
    ...namespace.binaries.map((b) => `mount --bind ${shWord(namespace.mask)} ${shWord(b)}`),
    ...namespace.hide.map(({ dir, uid, gid, mode }) => {
      const octal = (mode ?? fs.statSync(dir).mode & 0o7777).toString(8);
      return `mount -t tmpfs -o mode=${octal},uid=${uid},gid=${gid} lifeboat-hidden ${shWord(dir)}`;
    }),
    `exec ${[SSHD, ...sshd].map(shWord).join(" ")}`,
  ].join("\n");
  return { command: "/usr/bin/unshare", args: ["--mount", "--propagation", "private", "/bin/sh", "-c", script] };
}

/** Starts sshd on a free port; retries with another port if one was taken in between. */
async function startSshd(base: string, user: string, hostKeys: string[], logFile: string, bare: boolean, root: boolean, namespace?: Namespace): Promise<{ sshd: ChildProcess; port: number; exited: Promise<void> }> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const config = path.join(base, "sshd_config");
    fs.writeFileSync(config, sshdConfig(base, port, user, hostKeys, bare, root));
    const logFd = fs.openSync(logFile, "a");
    const launch = sshdCommand(config, namespace);
    const sshd = spawn(launch.command, launch.args, { stdio: ["ignore", logFd, logFd] });
    fs.closeSync(logFd);
    let gone = false;
    const exited = new Promise<void>((resolve) => sshd.once("exit", () => ((gone = true), resolve())));
    const died = exited.then(() => Promise.reject(new Error("sshd exited")));
    try {
      await Promise.race([waitForPort(port), died]);
      died.catch(() => undefined);
      return { sshd, port, exited };
    } catch (err) {
      died.catch(() => undefined);
      if (!gone) sshd.kill("SIGKILL");
      const log = fs.readFileSync(logFile, "utf8");
      if (attempt < 3 && /Address already in use/i.test(log)) continue;
      throw new Error(`sshd on 127.0.0.1:${port} did not start: ${log.trim() || messageOf(err)}`, { cause: err });
    }
  }
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Kills every process of `uid` (the simulated host's own throwaway user), by pid. */
function killUserProcesses(uid: number): void {
  let pids: string[] = [];
  try {
    pids = run("pgrep", ["-U", String(uid)]).split("\n").filter(Boolean);
  } catch {
    return; // pgrep exits 1 when there are none
  }
  for (const pid of pids) {
    try {
      process.kill(Number(pid), "SIGKILL");
    } catch {
      // already gone
    }
  }
}


/**
 * Deletes the users and temp dirs that simulated hosts of test processes that
 * died (killed before `stop()`) left behind: those whose temp dir is gone, or
 * whose owner process (recorded in `owner.pid`) no longer runs.
 */
async function removeStaleSimulatedHosts(): Promise<void> {
  const homePattern = new RegExp(`^${os.tmpdir().replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}/lifeboat-host-[^/]+/home$`);
  for (const entry of fs.readFileSync("/etc/passwd", "utf8").split("\n")) {
    const [user, , uid, , , home] = entry.split(":");
    if (!user?.startsWith("lbt-") || !home || !homePattern.test(home)) continue;
    const base = path.dirname(home);
    const ownerFile = path.join(base, "owner.pid");
    const stale = !fs.existsSync(base) || (fs.existsSync(ownerFile) && !currentPlatform().processAlive(Number(fs.readFileSync(ownerFile, "utf8"))));
    if (!stale) continue;
    killUserProcesses(Number(uid));
    await runLocked("userdel", ["--force", "--remove", user]).catch(() => undefined);
    fs.rmSync(base, { recursive: true, force: true });
  }
}

/**
 * Starts a simulated host called `name`: creates user `lbt-<name>-<random>`
 * (unique, so parallel test files may use the same name) with /bin/bash and a
 * home in a fresh temp dir, a client key in its authorized_keys, host key(s),
 * and `sshd -D -e` as a child process; resolves once the port accepts connections.
 * @throws Error when not root, when openssh-server is missing, or when sshd does not start.
 */
export async function startSimulatedHost(name: string, options: SimulatedHostOptions = {}): Promise<SimulatedHost> {
  checkPrerequisites();
  const ownNamespace = Boolean(options.bare || options.hide?.length || options.mask?.length || options.root);
  if (ownNamespace && !fs.existsSync("/usr/bin/unshare")) {
    throw new Error("/usr/bin/unshare is missing: install util-linux (bare, hide and mask start sshd in a mount namespace)");
  }
  for (const dir of options.hide ?? []) {
    if (!path.isAbsolute(dir) || !fs.statSync(dir, { throwIfNoEntry: false })?.isDirectory()) throw new Error(`startSimulatedHost: cannot hide "${dir}": not an existing absolute directory`);
  }
  await removeStaleSimulatedHosts();
  const user = `lbt-${name.replace(/[^a-z0-9-]/gi, "").toLowerCase().slice(0, 16)}-${crypto.randomBytes(3).toString("hex")}`;
  const base = fs.mkdtempSync(path.join(os.tmpdir(), `lifeboat-host-${name}-`));
  fs.chmodSync(base, 0o755);
  fs.writeFileSync(path.join(base, "owner.pid"), String(process.pid));
  const home = path.join(base, "home");
  try {
    await runLocked("useradd", ["--home-dir", home, "--create-home", "--shell", "/bin/bash", "--user-group", user]);
  } catch (err) {
    fs.rmSync(base, { recursive: true, force: true });
    throw err;
  }
  const uid = Number(run("id", ["-u", user]).trim());
  let sshd: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    process.removeListener("exit", killOnExit);
    sshd?.kill("SIGTERM");
    await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
    killUserProcesses(uid); // its sessions (and anything tests started as the user)
    await runLocked("userdel", ["--force", "--remove", user]).catch(() => undefined);
    fs.rmSync(base, { recursive: true, force: true });
  };
  const killOnExit = () => sshd?.kill("SIGKILL");
  process.once("exit", killOnExit);
  try {
    // sshd refuses locked accounts ("!" in shadow) even for key logins when UsePAM is off.
    await runLocked("usermod", ["-p", "*", user]);
    fs.chmodSync(home, 0o755);
    const sshDir = path.join(home, ".ssh");
    fs.mkdirSync(sshDir, { mode: 0o700 });
    const clientKeyPath = path.join(base, "client_ed25519");
    run(SSH_KEYGEN, ["-q", "-t", "ed25519", "-N", "", "-C", `controller@${name}`, "-f", clientKeyPath]);
    fs.writeFileSync(path.join(sshDir, "authorized_keys"), fs.readFileSync(`${clientKeyPath}.pub`), { mode: 0o600 });
    if (options.root) fs.writeFileSync(path.join(base, "root_authorized_keys"), fs.readFileSync(`${clientKeyPath}.pub`), { mode: 0o600 });
    run("chown", ["-R", `${user}:${user}`, sshDir]);

    const hostKeys = (options.hostKeyTypes ?? ["ed25519"]).map((type) => {
      const file = path.join(base, `ssh_host_${type}_key`);
      run(SSH_KEYGEN, ["-q", "-t", type, "-N", "", "-C", `host@${name}`, "-f", file]);
      return file;
    });
    fs.mkdirSync("/run/sshd", { recursive: true, mode: 0o755 }); // sshd's privilege-separation directory
    const logFile = path.join(base, "sshd.log");
    let namespace: Namespace | undefined;
    if (ownNamespace) {
      const mask = path.join(base, "masked");
      fs.writeFileSync(mask, "", { mode: 0o644 });
      const gid = Number(run("id", ["-g", user]).trim());
      const binaries = [...new Set([...(options.bare ? runtimeBinaries() : []), ...(options.mask ?? []).map((f) => fs.realpathSync(f))])];
      const hide = [...(options.hide ?? []).map((dir) => ({ dir, uid, gid })), ...(options.root ? [{ dir: "/root", uid: 0, gid: 0, mode: 0o700 }] : [])];
      namespace = { mask, binaries, hide };
    }
    const started = await startSshd(base, user, hostKeys, logFile, options.bare === true, options.root === true, namespace);
    sshd = started.sshd;
    exited = started.exited;
    const publicLines = hostKeys.map((k) => fs.readFileSync(`${k}.pub`, "utf8").trim().split(/\s+/).slice(0, 2).join(" "));
    const knownHostsLines = publicLines.map((line) => `[127.0.0.1]:${started.port} ${line}`);
    return {
      name,
      user: options.root ? "root" : user,
      hostname: "127.0.0.1",
      port: started.port,
      home: options.root ? "/root" : home,
      bare: options.bare === true,
      clientKeyPath,
      hostPublicKeyLine: publicLines[0]!,
      knownHostsLine: knownHostsLines[0]!,
      knownHostsLines,
      log: () => fs.readFileSync(logFile, "utf8"),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/**
 * An SSH target for logging in to `host` with its client key, checking host
 * keys against `knownHostsFile`; `overrides` replace single fields.
 */
export function sshTargetOf(host: SimulatedHost, knownHostsFile: string, overrides: Partial<SshTarget> = {}): SshTarget {
  return {
    host: host.name,
    hostname: host.hostname,
    port: host.port,
    user: host.user,
    identityFiles: [host.clientKeyPath],
    knownHostsFiles: [knownHostsFile],
    useAgent: false,
    connectTimeoutMs: 10_000,
    idleTimeoutMs: 60_000,
    acceptNewHostKey: false,
    ...overrides,
  };
}
