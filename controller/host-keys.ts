/**
 * @module One age key pair per host, plus one for the shared blob area, in the
 * state directory (`host-keys/`, files 0600). A host's snapshots are encrypted
 * to its own recipient (with the controller's master recipient and the
 * inventory's escrow recipients), so a restore or verify job carries only the
 * identity of the host whose snapshot it opens — never the master identity.
 * A rotated key is kept under `host-keys/retired/` for the snapshots made with it.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { generateIdentity, recipientOf } from "../core/age-keys";
import { LifeboatError } from "../core/errors";

/** An age key pair of the state directory. */
export interface AgeKeyPair {
  /** The host it belongs to, or {@link BLOB_AREA} for the blob area. */
  name: string;
  identity: string;
  recipient: string;
  created: string;
  /** The file that holds it. */
  file: string;
}

/** The key of the shared blob area (no host can be named so: host names start with a letter or digit). */
export const BLOB_AREA = "_blobs";

/** The host keys of one state directory. */
export class HostKeys {
  private readonly dir: string;

  constructor(stateDir: string) {
    this.dir = path.join(stateDir, "host-keys");
  }

  /** The current key of `name` (a host, or {@link BLOB_AREA}), created on first use. */
  async current(name: string): Promise<AgeKeyPair> {
    const file = path.join(this.dir, `${name}.key`);
    if (!fs.existsSync(file)) {
      fs.mkdirSync(this.dir, { recursive: true, mode: 0o700 });
      const { identity, recipient } = await generateIdentity();
      // Written whole under a temp name, then linked into place: a concurrent run sees no file or the complete one.
      const temp = `${file}.${process.pid}.${Date.now()}.tmp`;
      try {
        fs.writeFileSync(temp, `# host: ${name}\n# created: ${new Date().toISOString()}\n# public key: ${recipient}\n${identity}\n`, { mode: 0o600, flag: "wx" });
        fs.linkSync(temp, file);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err; // made by a concurrent run: use it
      } finally {
        fs.rmSync(temp, { force: true });
      }
    }
    return read(name, file);
  }

  /** The key (current or retired) whose recipient is `recipient`. @throws KEYS when it is not in the state directory. */
  async byRecipient(recipient: string): Promise<AgeKeyPair> {
    for (const key of await this.list()) if (key.recipient === recipient) return key;
    throw new LifeboatError("KEYS", `Cannot find the age key with recipient ${recipient} in "${this.dir}"`, {
      hint: "restore host-keys/ from your backup of the controller's state directory; snapshots made with it can still be opened with the master or an escrow identity",
    });
  }

  /** Every key, current and retired, oldest first per name. */
  async list(): Promise<(AgeKeyPair & { retired: boolean })[]> {
    const keys: (AgeKeyPair & { retired: boolean })[] = [];
    for (const [folder, retired] of [[path.join(this.dir, "retired"), true], [this.dir, false]] as const) {
      if (!fs.existsSync(folder)) continue;
      for (const entry of fs.readdirSync(folder).filter((n) => n.endsWith(".key")).sort()) {
        keys.push({ ...(await read(entry.replace(/(\.\d{8}T\d{6}Z)?\.key$/, ""), path.join(folder, entry))), retired });
      }
    }
    return keys;
  }

  /** Retires the current key of `name` (kept for the snapshots made with it) and makes a new one. */
  async rotate(name: string): Promise<{ retired?: AgeKeyPair; current: AgeKeyPair }> {
    const file = path.join(this.dir, `${name}.key`);
    let retired: AgeKeyPair | undefined;
    if (fs.existsSync(file)) {
      const old = await read(name, file);
      const folder = path.join(this.dir, "retired");
      fs.mkdirSync(folder, { recursive: true, mode: 0o700 });
      const stamp = new Date().toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");
      const to = path.join(folder, `${name}.${stamp}.key`);
      fs.renameSync(file, to);
      retired = { ...old, file: to };
    }
    return { ...(retired ? { retired } : {}), current: await this.current(name) };
  }
}

async function read(name: string, file: string): Promise<AgeKeyPair> {
  const text = fs.readFileSync(file, "utf8");
  const identity = text.split("\n").find((l) => l.startsWith("AGE-SECRET-KEY-1"));
  if (!identity) throw new LifeboatError("KEYS", `Cannot load the age key "${file}": no AGE-SECRET-KEY-1 line`, { hint: "restore the file from your backup of the state directory" });
  return { name, identity, recipient: await recipientOf(identity), created: /# created: (\S+)/.exec(text)?.[1] ?? "", file };
}
