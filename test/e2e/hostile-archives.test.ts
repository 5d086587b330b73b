// Restores of archives an attacker made, tried as an attacker would: a real tar (GNU tar), encrypted
// with the stock age CLI to the fleet's public recipient, put at the snapshot's real object key in the
// S3 server, with the ledger's hash updated to match (as a compromised source agent would report it).
// For restore in place, restore --into and verify: nothing outside the target changes, the live
// target stays as it was, and the run fails naming the entry.
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as crypto from "node:crypto";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp, type AppData } from "../harness/app-data";
import { jsonLines } from "../harness/controller-cli";
import { startFleet, type Fleet } from "../harness/fleet";
import { listTree } from "../harness/tree";
import { decryptWithAgeCli, deleteStored, readStored, writeStored } from "./stored-object";

describe("restores of hostile archives", () => {
  let fleet: Fleet;
  let app: AppData;
  let snapshotId: string;
  let objectKey: string;
  let victim: string;
  let victimDir: string;
  let work: string;

  const home = () => fleet.hosts.alpha!.home;
  const user = () => fleet.hosts.alpha!.user;
  /** Name of a path in the archive: the data directory without its leading "/". */
  const inArchive = (rel: string) => path.join(app.data.slice(1), rel);

  /** What must never change: the victim file and directory (bytes, mode, owner) and the live data. */
  const untouched = () => ({
    victim: [fs.readFileSync(victim, "utf8"), fs.statSync(victim).mode, fs.statSync(victim).uid],
    victimDir: [fs.statSync(victimDir).mode, fs.readdirSync(victimDir)],
    data: listTree(app.data),
  });

  /**
   * Builds a tar with GNU tar — each step's arguments add entries (the first creates the
   * archive, the next append to it), in a build root that mirrors "/" — encrypts it with
   * the stock age CLI to the fleet's recipient and stores it as the snapshot's files artifact.
   */
  async function plant(build: (root: string, add: (...args: string[]) => void) => void, options: { claimFiles?: number } = {}): Promise<void> {
    const root = fs.mkdtempSync(path.join(work, "forge-"));
    const tar = `${root}.tar`;
    fs.mkdirSync(path.join(root, app.data), { recursive: true });
    let entries = 0;
    build(root, (...args) => execFileSync("tar", [entries++ === 0 ? "-cf" : "-rf", tar, "-C", root, ...args]));
    // Recipients are public: the host's own and the master one, as the real objects have them.
    const recipients = publicRecipients();
    const stored = execFileSync("age", recipients.flatMap((r) => ["-r", r]), { input: fs.readFileSync(tar) });
    await writeStored(fleet, "s3", objectKey, stored);
    // A compromised source agent reports whatever it likes, consistently: the manifest it writes
    // and the hashes the ledger records are the forged object's, and it claims no counts the
    // restore could hold the forged tree against.
    const forged = { sha256: crypto.createHash("sha256").update(stored).digest("hex"), storedSize: stored.length, plainSize: fs.statSync(tar).size, compression: "none" };
    const ledger = new Database(path.join(fleet.state, "ledger.db"));
    ledger
      .prepare("UPDATE artifacts SET sha256 = ?, stored_size = ?, plain_size = ?, compression = ?, metadata = CASE WHEN ? IS NULL THEN json_remove(metadata, '$.files', '$.directories', '$.symlinks', '$.bytes') ELSE json_set(json_remove(metadata, '$.directories', '$.symlinks', '$.bytes'), '$.files', ?) END WHERE host = 'alpha' AND snapshot_id = ? AND instance = 'files'")
      .run(forged.sha256, forged.storedSize, forged.plainSize, forged.compression, options.claimFiles ?? null, options.claimFiles ?? null, snapshotId);
    const manifestKey = ledger.prepare("SELECT manifest_key FROM snapshots WHERE host = 'alpha' AND id = ?").pluck().get(snapshotId) as string;
    const manifest = JSON.parse(decryptWithAgeCli(fleet, await readStored(fleet, "s3", manifestKey), "none").toString()) as { artifacts: Record<string, unknown>[] };
    for (const a of manifest.artifacts) {
      if (a.instance !== "files") continue;
      Object.assign(a, forged);
      for (const count of ["files", "directories", "symlinks", "bytes"]) delete (a.metadata as Record<string, unknown>)[count];
      if (options.claimFiles !== undefined) (a.metadata as Record<string, unknown>).files = options.claimFiles;
    }
    const storedManifest = execFileSync("age", recipients.flatMap((r) => ["-r", r]), { input: JSON.stringify(manifest) });
    await writeStored(fleet, "s3", manifestKey, storedManifest);
    ledger.prepare("UPDATE snapshots SET manifest_sha256 = ?, manifest_size = ? WHERE host = 'alpha' AND id = ?").run(crypto.createHash("sha256").update(storedManifest).digest("hex"), storedManifest.length, snapshotId);
    ledger.close();
  }

  /** The fleet's public recipients for alpha's snapshots: alpha's own key and the master key. */
  const publicRecipients = () =>
    [path.join(fleet.state, "host-keys", "alpha.key"), path.join(fleet.state, "age-identity.txt")].map((file) => /public key: (age1\S+)/.exec(fs.readFileSync(file, "utf8"))![1]!);

  /** Restore in place, restore --into, and verify: each must fail, naming `entry`, and change nothing. */
  async function expectRefusedEverywhere(entry: RegExp): Promise<void> {
    const before = untouched();
    const into = path.join(home(), `into-${crypto.randomBytes(3).toString("hex")}`);
    const runs = [
      ["restore", "--from", "alpha", "--snapshot", snapshotId, "--yes", "--json"],
      ["restore", "--from", "alpha", "--snapshot", snapshotId, "--into", into, "--yes", "--json"],
      ["verify", "--host", "alpha", "--snapshot", snapshotId, "--json"],
    ];
    for (const args of runs) {
      const result = await fleet.controller(args);
      expect(result.code, `${args.join(" ")}\n${result.stdout}`).toBe(1);
      const errors = jsonLines(result.stdout).filter((l) => l.type === "error").map((l) => String(l.message));
      expect(errors.join("\n"), args.join(" ")).toMatch(entry);
      expect(untouched(), args.join(" ")).toEqual(before);
    }
    expect(fs.existsSync(into) ? listTree(into) : {}).toEqual({});
    expect(fs.readdirSync(path.dirname(app.data)).filter((n) => n.includes("lifeboat"))).toEqual([]);
  }

  beforeAll(async () => {
    fleet = await startFleet(["alpha"]);
    app = createApp(fleet.hosts.alpha!);
    work = fs.mkdtempSync(path.join(os.tmpdir(), "lifeboat-hostile-"));
    victim = path.join(home(), "victim.txt");
    fs.writeFileSync(victim, "the victim's own bytes\n", { mode: 0o600 });
    victimDir = path.join(home(), "private");
    fs.mkdirSync(victimDir, { mode: 0o700 });
    execFileSync("chown", [`${user()}:${user()}`, victim, victimDir]);
    expect((await fleet.controller(["init"])).code).toBe(0);
    fleet.writeInventory({ alpha: { destination: "s3", plugins: { files: { paths: [app.data] } } } });
    const backup = await fleet.controller(["run", "--host", "alpha", "--json"]);
    expect(backup.code, backup.stdout + backup.stderr).toBe(0);
    const snapshots = JSON.parse((await fleet.controller(["snapshots", "--host", "alpha", "--json"])).stdout) as { snapshots: { id: string; artifacts: { instance: string; key: string }[] }[] };
    snapshotId = snapshots.snapshots[0]!.id;
    objectKey = snapshots.snapshots[0]!.artifacts.find((a) => a.instance === "files")!.key;
  });

  afterAll(async () => {
    await fleet?.stop();
    fs.rmSync(work, { recursive: true, force: true });
  });

  it("a symlink to a file outside, then a setuid file of the same name", async () => {
    await plant((root, add) => {
      const evil = path.join(root, app.data, "evil");
      fs.symlinkSync(victim, evil);
      add(inArchive("evil"));
      fs.rmSync(evil);
      fs.writeFileSync(evil, "pwned\n");
      fs.chmodSync(evil, 0o4777);
      add(inArchive("evil"));
    });
    await expectRefusedEverywhere(/Refusing archive entry ".*\/evil".*already holds/);
  });

  it("a symlink to a directory outside, then a directory of the same name and a file in it", async () => {
    await plant((root, add) => {
      const d = path.join(root, app.data, "d");
      fs.symlinkSync(victimDir, d);
      add(inArchive("d"));
      fs.rmSync(d);
      fs.mkdirSync(d);
      fs.chmodSync(d, 0o777);
      fs.writeFileSync(path.join(d, "planted"), "planted\n");
      add("--no-recursion", inArchive("d"));
      add(inArchive("d/planted"));
    });
    await expectRefusedEverywhere(/Refusing archive entry ".*\/d\/?".*already holds/);
  });

  it("a file under a symlink of the archive", async () => {
    await plant((root, add) => {
      const l = path.join(root, app.data, "l");
      fs.symlinkSync(victimDir, l);
      add(inArchive("l"));
      fs.rmSync(l);
      fs.mkdirSync(l);
      fs.writeFileSync(path.join(l, "planted"), "planted\n");
      add(inArchive("l/planted"));
    });
    await expectRefusedEverywhere(/Refusing archive entry ".*\/l\/planted".*under a symlink/);
  });

  it('a ".." name and an absolute name', async () => {
    await plant((root, add) => {
      fs.writeFileSync(path.join(root, app.data, "..", "victim.txt"), "pwned\n");
      add("-P", `${app.data.slice(1)}/../victim.txt`);
    });
    await expectRefusedEverywhere(/Refusing archive entry ".*\.\.\/victim\.txt".*"\.\."/);
    await plant((root, add) => {
      fs.writeFileSync(path.join(root, "victim.txt"), "pwned\n");
      add("-P", "--transform", `s|^|${path.dirname(victim)}/|`, "victim.txt");
    });
    await expectRefusedEverywhere(/Refusing archive entry "\/.*victim\.txt".*absolute/);
  });

  it("a hardlink and a device node", async () => {
    await plant((root, add) => {
      fs.writeFileSync(path.join(root, app.data, "a"), "a\n");
      fs.linkSync(path.join(root, app.data, "a"), path.join(root, app.data, "b"));
      add(inArchive("a"), inArchive("b"));
    });
    await expectRefusedEverywhere(/Refusing archive entry ".*\/b".*hardlink/);
    await plant((root, add) => {
      execFileSync("mknod", [path.join(root, app.data, "null"), "c", "1", "3"]);
      add(inArchive("null"));
    });
    await expectRefusedEverywhere(/Refusing archive entry ".*\/null".*unsupported entry type/);
  });

  it("restores --into a directory whose inside is a symlink planted to lead out: refused, nothing written there", async () => {
    await plant((_root, add) => add(inArchive("")));
    const into = path.join(home(), "into-with-link");
    const outside = path.join(work, "outside");
    fs.mkdirSync(outside);
    // Planted where the instance's folder goes (DIR/files), and below it (DIR/files/<data>).
    for (const link of [path.join(into, "files"), path.join(into, "files", path.basename(app.data))]) {
      fs.rmSync(into, { recursive: true, force: true });
      fs.mkdirSync(path.dirname(link), { recursive: true });
      fs.symlinkSync(outside, link);
      execFileSync("chown", ["-hR", `${user()}:${user()}`, into]);
      const result = await fleet.controller(["restore", "--from", "alpha", "--snapshot", snapshotId, "--into", into, "--yes", "--json"]);
      expect(result.code, link).toBe(1);
      expect(result.stdout).toContain(`${link}\\" is a symlink, which would carry the restore out of that directory`);
      expect(fs.readdirSync(outside)).toEqual([]);
    }
  });

  it("refuses, before anything changes, an archive that does not hold what its manifest counts", async () => {
    await plant((root, add) => {
      fs.writeFileSync(path.join(root, app.data, "only-this"), "planted\n");
      add(inArchive(""));
    }, { claimFiles: 6 });
    const before = listTree(app.data);
    const result = await fleet.controller(["restore", "--from", "alpha", "--snapshot", snapshotId, "--plugins", "files", "--yes", "--json"]);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/The restored copy of [^"]+ has 1 files, the snapshot recorded \d+/);
    expect(listTree(app.data)).toEqual(before);
  });

  it("restores a setuid file without its setuid bit, and says so", async () => {
    await plant((root, add) => {
      fs.writeFileSync(path.join(root, app.data, "tool"), "#!/bin/sh\n");
      fs.chmodSync(path.join(root, app.data, "tool"), 0o4755);
      add(inArchive(""));
    });
    const into = path.join(home(), "into-setuid");
    const result = await fleet.controller(["restore", "--from", "alpha", "--snapshot", snapshotId, "--into", into, "--yes", "--json"]);
    expect(result.code, result.stdout).toBe(0);
    expect(fs.statSync(path.join(into, "files", path.basename(app.data), "tool")).mode & 0o7777).toBe(0o755);
    expect(jsonLines(result.stdout).filter((l) => l.type === "warning").map((l) => l.message)).toEqual([expect.stringContaining("setuid/setgid bits, restored without them")]);
  });

  it("ledger metadata edited to name another path: an in-place restore writes only where this host's inventory says", async () => {
    await plant((_root, add) => add(inArchive("")));
    const ledger = new Database(path.join(fleet.state, "ledger.db"));
    ledger.prepare("UPDATE artifacts SET metadata = json_set(metadata, '$.paths', json_array(?)) WHERE host = 'alpha' AND snapshot_id = ? AND instance = 'files'").run(victimDir, snapshotId);
    ledger.close();
    const before = untouched();
    const result = await fleet.controller(["restore", "--from", "alpha", "--snapshot", snapshotId, "--yes", "--json"]);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain(`Refusing to restore \\"${victimDir}\\" of \\"files\\" in place: this host's configuration of the plugin does not include it`);
    expect(untouched()).toEqual(before);
  });

  it("a tampered manifest and a deleted one: verify and restore fail before anything is restored, and the snapshot shows as damaged", async () => {
    for (const tamper of ["replace", "delete"] as const) {
      const backup = await fleet.controller(["run", "--host", "alpha", "--json"]);
      expect(backup.code, backup.stdout).toBe(0);
      const [latest] = (JSON.parse((await fleet.controller(["snapshots", "--host", "alpha", "--json"])).stdout) as { snapshots: { id: string; manifestKey: string }[] }).snapshots;
      if (tamper === "replace") {
        const forged = execFileSync("age", publicRecipients().flatMap((r) => ["-r", r]), { input: JSON.stringify({ format: "lifeboat-manifest/1", host: "alpha", snapshotId: latest!.id, artifacts: [] }) });
        await writeStored(fleet, "s3", latest!.manifestKey, forged);
      } else {
        await deleteStored(fleet, "s3", latest!.manifestKey);
      }
      const before = untouched();
      const verify = await fleet.controller(["verify", "--host", "alpha", "--snapshot", latest!.id, "--json"]);
      expect(verify.code).toBe(1);
      expect(verify.stdout).toContain(tamper === "replace" ? "was altered" : "is missing from storage");
      const restore = await fleet.controller(["restore", "--from", "alpha", "--snapshot", latest!.id, "--yes", "--json"]);
      expect(restore.code).toBe(1);
      expect(untouched()).toEqual(before);
      const listed = await fleet.controller(["snapshots", "--host", "alpha"]);
      expect(listed.stdout).toMatch(new RegExp(`${latest!.id}\\s+DAMAGED`));
    }
  });
});
