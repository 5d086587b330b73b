// End to end, through the real controller CLI, real sshd per host, real s3rver,
// rclone over SFTP to a "vault" host, and the stock age CLI to read what was stored.
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jsonLines } from "../harness/controller-cli";
import { createApp, rowCount, startWriter, type AppData } from "../harness/app-data";
import { startFleet, type Fleet, type HostEntry } from "../harness/fleet";
import { createChromaDir } from "../harness/chroma-dir";
import { addCertificate } from "../harness/letsencrypt-tree";
import { listTree } from "../harness/tree";
import { readStored, readWithStockTools, writeStored } from "./stored-object";

interface SnapshotJson {
  id: string;
  host: string;
  status: string;
  destination: string;
  artifacts: { plugin: string; instance: string; name: string; key: string; sha256: string; compression: string; plainSize: number; storedSize: number; metadata: Record<string, unknown> }[];
}

const excluded = (rel: string) => rel === "cache" || rel.startsWith("cache/") || rel === "audit.log";

describe("a fleet of two hosts backed up and restored through the controller", () => {
  let fleet: Fleet;
  const apps: Record<string, AppData> = {};

  const entry = (name: string, destination: HostEntry["destination"]): HostEntry => ({
    destination,
    plugins: {
      files: { paths: [apps[name]!.data], exclude: ["cache/", "audit.log"] },
      db: { plugin: "sqlite", databases: [apps[name]!.database] },
    },
  });

  async function snapshots(host: string): Promise<SnapshotJson[]> {
    const result = await fleet.controller(["snapshots", "--host", host, "--json"]);
    expect(result.code, result.stderr).toBe(0);
    return (JSON.parse(result.stdout) as { snapshots: SnapshotJson[] }).snapshots;
  }

  beforeAll(async () => {
    fleet = await startFleet(["alpha", "beta"]);
    apps.alpha = createApp(fleet.hosts.alpha!);
    apps.beta = createApp(fleet.hosts.beta!);
    const init = await fleet.controller(["init"]);
    expect(init.code, init.stderr).toBe(0);
  });

  afterAll(async () => {
    await fleet?.stop();
  });

  for (const [alphaDest, betaDest] of [
    ["s3", "sftp"],
    ["sftp", "local"],
    ["local", "s3"],
  ] as const) {
    it(`backs up both hosts (alpha → ${alphaDest}, beta → ${betaDest}) and the age CLI decrypts every artifact to the source`, async () => {
      fleet.writeInventory({ alpha: entry("alpha", alphaDest), beta: entry("beta", betaDest) });
      const writer = startWriter(fleet.hosts.alpha!, apps.alpha!);
      let result;
      try {
        result = await fleet.controller(["run", "--all", "--json"]);
      } finally {
        await writer.stop();
      }
      expect(result.code, `${result.stdout}\n${result.stderr}`).toBe(0);
      const summaries = jsonLines(result.stdout).filter((l) => l.type === "host-summary");
      expect(summaries.map((s) => [s.host, s.status]).sort()).toEqual([
        ["alpha", "ok"],
        ["beta", "ok"],
      ]);

      for (const [host, destination] of [
        ["alpha", alphaDest],
        ["beta", betaDest],
      ] as const) {
        const [latest] = await snapshots(host);
        expect(latest!.status).toBe("complete");
        expect(latest!.destination).toBe(destination);
        expect(latest!.artifacts.map((a) => `${a.instance}/${a.name}`).sort()).toEqual(["db/webui.db", "files/files.tar"]);
        expect(latest!.artifacts.find((a) => a.instance === "files")!.compression).toBe("chunked");
        for (const artifact of latest!.artifacts) {
          // Chunked artifacts (the bigger ones) are reassembled with the recipe of docs/storage-format.md.
          const plain = await readWithStockTools(fleet, destination, artifact);
          expect(plain.length).toBe(artifact.plainSize);
          const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "lifeboat-check-"));
          try {
            if (artifact.instance === "files") {
              execFileSync("tar", ["-xf", "-", "-C", scratch], { input: plain });
              const restored = path.join(scratch, apps[host]!.data.slice(1));
              expect(listTree(restored)).toEqual(listTree(apps[host]!.data, excluded));
            } else {
              const copy = path.join(scratch, "copy.db");
              fs.writeFileSync(copy, plain);
              expect(execFileSync("sqlite3", [copy, "PRAGMA integrity_check"], { encoding: "utf8" }).trim()).toBe("ok");
              const tables = artifact.metadata.tables as Record<string, number>;
              expect(rowCount(copy, "chat")).toBe(tables.chat);
              expect(rowCount(copy, "user settings")).toBe(2);
              expect(tables.chat).toBeGreaterThanOrEqual(2000);
            }
          } finally {
            fs.rmSync(scratch, { recursive: true, force: true });
          }
        }
      }
    });
  }

  it("restores alpha's latest snapshot onto beta under a directory, byte for byte, sqlite checked", async () => {
    fleet.writeInventory({ alpha: entry("alpha", "s3"), beta: entry("beta", "sftp") });
    const backup = await fleet.controller(["run", "--host", "alpha"]);
    expect(backup.code, backup.stdout + backup.stderr).toBe(0);
    const into = path.join(fleet.hosts.beta!.home, "from-alpha");
    const result = await fleet.controller(["restore", "--from", "alpha", "--snapshot", "latest", "--to", "beta", "--into", into, "--yes"]);
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toContain("alpha → beta");
    // Progress names the host the restore runs on.
    expect(result.stdout).toMatch(/^ {2}beta: connecting to /m);
    expect(result.stdout).not.toMatch(/^ {2}alpha: /m);
    // --into DIR: each instance under DIR/<instance>, its paths relative to the folder above them.
    const restoredData = path.join(into, "files", path.basename(apps.alpha!.data));
    expect(listTree(restoredData)).toEqual(listTree(apps.alpha!.data, excluded));
    const restoredDb = path.join(into, "db", path.basename(apps.alpha!.database));
    expect(execFileSync("sqlite3", [restoredDb, "PRAGMA integrity_check"], { encoding: "utf8" }).trim()).toBe("ok");
    const [latest] = await snapshots("alpha");
    const db = latest!.artifacts.find((a) => a.instance === "db")!;
    expect(rowCount(restoredDb, "chat")).toBe((db.metadata.tables as Record<string, number>).chat);
    expect(fs.statSync(restoredData).uid).toBe(Number(execFileSync("id", ["-u", fleet.hosts.beta!.user], { encoding: "utf8" })));
  });

  it("restores in place on the same host, replacing changed and removing new files", async () => {
    fleet.writeInventory({ alpha: entry("alpha", "local"), beta: entry("beta", "sftp") });
    const backup = await fleet.controller(["run", "--host", "alpha"]);
    expect(backup.code, backup.stdout + backup.stderr).toBe(0);
    const before = listTree(apps.alpha!.data, excluded);
    fs.writeFileSync(path.join(apps.alpha!.data, "README.txt"), "damaged\n");
    fs.writeFileSync(path.join(apps.alpha!.data, "new-file.txt"), "created after the backup\n");
    fs.rmSync(path.join(apps.alpha!.data, "uploads"), { recursive: true });
    const result = await fleet.controller(["restore", "--from", "alpha", "--snapshot", "latest", "--plugins", "files", "--yes"]);
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(listTree(apps.alpha!.data, excluded)).toEqual(before);
  });

  it("refuses to restore when one byte of a stored object was modified, and leaves the target untouched", async () => {
    fleet.writeInventory({ alpha: entry("alpha", "s3"), beta: entry("beta", "sftp") });
    const backup = await fleet.controller(["run", "--host", "alpha", "--plugins", "files"]);
    expect(backup.code, backup.stdout + backup.stderr).toBe(0);
    const [latest] = await snapshots("alpha");
    const artifact = latest!.artifacts.find((a) => a.instance === "files")!;
    const stored = await readStored(fleet, "s3", artifact.key);
    stored[Math.floor(stored.length / 2)]! ^= 0x01;
    await writeStored(fleet, "s3", artifact.key, stored);

    fs.writeFileSync(path.join(apps.alpha!.data, "README.txt"), "changed since the backup\n");
    const before = listTree(apps.alpha!.root);
    const result = await fleet.controller(["restore", "--from", "alpha", "--snapshot", latest!.id, "--plugins", "files", "--yes", "--json"]);
    expect(result.code).toBe(1);
    const errors = jsonLines(result.stdout).filter((l) => l.type === "error");
    expect(errors[0]?.code).toBe("INTEGRITY");
    expect(listTree(apps.alpha!.root)).toEqual(before);
    expect(fs.readdirSync(path.dirname(apps.alpha!.data)).filter((n) => n.includes("lifeboat"))).toEqual([]);
  });

  it("changes nothing anywhere when an object of a later plugin instance was modified: every object is checked before the first instance is restored", async () => {
    fleet.writeInventory({ alpha: entry("alpha", "s3"), beta: entry("beta", "sftp") });
    const backup = await fleet.controller(["run", "--host", "alpha"]);
    expect(backup.code, backup.stdout + backup.stderr).toBe(0);
    const [latest] = await snapshots("alpha");
    const db = latest!.artifacts.find((a) => a.instance === "db")!;
    const stored = await readStored(fleet, "s3", db.key);
    stored[stored.length - 10]! ^= 0x01;
    await writeStored(fleet, "s3", db.key, stored);
    fs.writeFileSync(path.join(apps.alpha!.data, "README.txt"), "changed since the backup\n");
    const before = listTree(apps.alpha!.root);
    const result = await fleet.controller(["restore", "--from", "alpha", "--snapshot", latest!.id, "--yes", "--json"]);
    expect(result.code).toBe(1);
    expect(jsonLines(result.stdout).filter((l) => l.type === "error").map((l) => l.code)).toContain("INTEGRITY");
    expect(listTree(apps.alpha!.root)).toEqual(before);
  });

  it("encrypts each host's snapshots to its own key, and a job carries only the key of the snapshot it opens, never the master identity", async () => {
    // beta's runtime records every spec it is sent, as root on beta could.
    const specs = path.join(fleet.hosts.beta!.home, "specs.log");
    const wrapper = path.join(fleet.hosts.beta!.home, "recording-node.mjs");
    fs.writeFileSync(
      wrapper,
      [
        "#!/usr/bin/env node",
        'import { spawn } from "node:child_process";',
        'import { appendFileSync } from "node:fs";',
        'const child = spawn(process.execPath, process.argv.slice(2), { stdio: ["pipe", "inherit", "inherit"] });',
        `process.stdin.on("data", (d) => { appendFileSync(${JSON.stringify(specs)}, d); child.stdin.write(d); });`,
        'process.stdin.on("end", () => child.stdin.end());',
        "child.on(\"exit\", (code) => process.exit(code ?? 1));",
        "",
      ].join("\n"),
      { mode: 0o755 },
    );
    execFileSync("chown", [`${fleet.hosts.beta!.user}:${fleet.hosts.beta!.user}`, wrapper]);
    fleet.writeInventory({ alpha: entry("alpha", "s3"), beta: { ...entry("beta", "s3"), runtime: wrapper } });
    expect((await fleet.controller(["run", "--all"])).code).toBe(0);
    const [alphaSnap] = await snapshots("alpha");
    const [betaSnap] = await snapshots("beta");
    const into = path.join(fleet.hosts.beta!.home, "alpha-on-beta");
    expect((await fleet.controller(["restore", "--from", "alpha", "--snapshot", "latest", "--to", "beta", "--into", into, "--yes"])).code).toBe(0);
    expect((await fleet.controller(["verify", "--host", "beta"])).code).toBe(0);

    const keyOf = (file: string) => fs.readFileSync(file, "utf8").split("\n").find((l) => l.startsWith("AGE-SECRET-KEY-1"))!;
    const alphaKey = keyOf(path.join(fleet.state, "host-keys", "alpha.key"));
    const betaKey = keyOf(path.join(fleet.state, "host-keys", "beta.key"));
    const master = keyOf(path.join(fleet.state, "age-identity.txt"));
    const seen = new Set(fs.readFileSync(specs, "utf8").match(/AGE-SECRET-KEY-1[0-9A-Z]+/g) ?? []);
    expect([...seen].sort()).toEqual([alphaKey, betaKey].sort());
    expect(seen.has(master)).toBe(false);

    // Each host key opens its own host's objects only; the master opens both.
    const tryDecrypt = (identity: string, stored: Buffer) => {
      const file = path.join(fleet.dir, "try-identity.txt");
      fs.writeFileSync(file, `${identity}\n`, { mode: 0o600 });
      try {
        execFileSync("age", ["-d", "-i", file], { input: stored, stdio: ["pipe", "ignore", "ignore"] });
        return true;
      } catch {
        return false;
      }
    };
    const alphaObject = await readStored(fleet, "s3", alphaSnap!.artifacts[0]!.key);
    const betaObject = await readStored(fleet, "s3", betaSnap!.artifacts[0]!.key);
    expect([tryDecrypt(alphaKey, alphaObject), tryDecrypt(alphaKey, betaObject), tryDecrypt(betaKey, betaObject), tryDecrypt(betaKey, alphaObject)]).toEqual([true, false, true, false]);
    expect([tryDecrypt(master, alphaObject), tryDecrypt(master, betaObject)]).toEqual([true, true]);
    const keys = await fleet.controller(["keys", "--json"]);
    expect((JSON.parse(keys.stdout) as { keys: { name: string }[] }).keys.map((k) => k.name).sort()).toEqual(["_blobs", "alpha", "beta"]);
  });

  it("verifies at the stored level on the controller, with the host unreachable and no key sent, and fails a tampered object", async () => {
    for (const destination of ["s3", "sftp"] as const) {
      fleet.writeInventory({ alpha: entry("alpha", destination), beta: entry("beta", "sftp") });
      const backup = await fleet.controller(["run", "--host", "alpha"]);
      expect(backup.code, backup.stdout + backup.stderr).toBe(0);
      const [latest] = await snapshots("alpha");
      // The host is out of reach: nothing of this runs there.
      fleet.writeInventory({ alpha: { ...entry("alpha", destination), sshOverride: { host: "127.0.0.1", port: 9, user: "nobody" } }, beta: entry("beta", "sftp") });
      const ok = await fleet.controller(["verify", "--host", "alpha", "--level", "stored", "--json"]);
      expect(ok.code, ok.stdout + ok.stderr).toBe(0);
      expect(ok.stdout).toContain("objects read through their hashes, age and decompression");
      const [verified] = await snapshots("alpha");
      expect((verified as unknown as { verification: { level: string; result: string } }).verification).toMatchObject({ level: "stored", result: "ok" });
      const artifact = latest!.artifacts.find((a) => a.instance === "files")!;
      const stored = await readStored(fleet, destination, artifact.key);
      stored[Math.floor(stored.length / 2)]! ^= 0x01;
      await writeStored(fleet, destination, artifact.key, stored);
      const tampered = await fleet.controller(["verify", "--host", "alpha", "--level", "stored", "--json"]);
      expect(tampered.code).toBe(1);
      expect(jsonLines(tampered.stdout).find((l) => l.type === "host-summary")).toMatchObject({ status: "failed", error: { code: "INTEGRITY" } });
    }
    fleet.writeInventory({ alpha: entry("alpha", "local"), beta: entry("beta", "sftp") });
    expect((await fleet.controller(["run", "--host", "alpha"])).code).toBe(0);
    // A local destination is a directory on the host: the controller reads it over the host's SSH login.
    const local = await fleet.controller(["verify", "--host", "alpha", "--level", "stored"]);
    expect(local.code, local.stdout + local.stderr).toBe(0);
    expect(local.stdout).toContain("on alpha");
  });

  it("verifies the latest snapshot on the host (restored into scratch, checked, removed), records it, and fails a tampered one", async () => {
    fleet.writeInventory({ alpha: entry("alpha", "local"), beta: entry("beta", "sftp") });
    const backup = await fleet.controller(["run", "--host", "alpha"]);
    expect(backup.code, backup.stdout + backup.stderr).toBe(0);
    const before = listTree(apps.alpha!.root);
    const ok = await fleet.controller(["verify", "--host", "alpha"]);
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/checked files: .*restored \d+ files/);
    expect(ok.stdout).toMatch(/checked db: .*integrity_check ok, row counts of \d+ tables as recorded/);
    expect(listTree(apps.alpha!.root)).toEqual(before);
    const [latest] = (await snapshots("alpha")) as (SnapshotJson & { verification: { level: string; result: string; details: { plugins: Record<string, { checks: string[] }> } } })[];
    expect(latest!.verification).toMatchObject({ level: "deep", result: "ok" });
    expect(Object.keys(latest!.verification.details.plugins).sort()).toEqual(["db", "files"]);
    expect((await fleet.controller(["snapshots", "--host", "alpha"])).stdout).toMatch(/ok just now/);

    const artifact = latest!.artifacts.find((a) => a.instance === "db")!;
    const stored = await readStored(fleet, "local", artifact.key);
    stored[stored.length - 20]! ^= 0x01;
    await writeStored(fleet, "local", artifact.key, stored);
    const bad = await fleet.controller(["verify", "--host", "alpha", "--snapshot", latest!.id, "--json"]);
    expect(bad.code).toBe(1);
    expect(jsonLines(bad.stdout).find((l) => l.type === "error")).toMatchObject({ code: "INTEGRITY", plugin: "db" });
    const [again] = (await snapshots("alpha")) as (SnapshotJson & { verification: { result: string; details: { plugins: Record<string, { status: string }> } } })[];
    expect(again!.verification.result).toBe("failed");
    expect(again!.verification.details.plugins).toMatchObject({ files: { status: "ok" }, db: { status: "failed" } });
    expect((await fleet.controller(["snapshots", "--host", "alpha"])).stdout).toMatch(/FAILED just now/);
    expect((await fleet.controller(["hosts"])).stdout).toMatch(new RegExp(`alpha .* FAILED ${latest!.id} \\(just now\\)`));
    expect(listTree(apps.alpha!.root)).toEqual(before);
  });

  it("runs before and after hooks around a plugin, runs after even when the backup fails, and keeps their output in the ledger", async () => {
    const log = path.join(fleet.hosts.beta!.home, "hooks.log");
    const doomed = path.join(fleet.hosts.beta!.home, "doomed");
    fs.mkdirSync(doomed);
    fs.writeFileSync(path.join(doomed, "a"), "a");
    execFileSync("chown", ["-R", `${fleet.hosts.beta!.user}:${fleet.hosts.beta!.user}`, doomed]);
    const hooks = (extra: string) => ({ before: [`echo stopping app >> ${log}`, extra], after: `echo starting app >> ${log}` });
    fleet.writeInventory({
      alpha: entry("alpha", "s3"),
      beta: { destination: "local", plugins: { files: { paths: [apps.beta!.data], hooks: hooks("true") }, doomed: { plugin: "files", paths: [doomed], hooks: hooks(`rm -rf ${doomed}`) } } },
    });
    const result = await fleet.controller(["run", "--host", "beta", "--json"]);
    expect(result.code).toBe(1);
    expect(fs.readFileSync(log, "utf8")).toBe("stopping app\nstarting app\nstopping app\nstarting app\n");
    const events = jsonLines(result.stdout);
    expect(events.filter((e) => e.type === "hook").map((e) => `${e.plugin} ${e.phase} ${e.code}`)).toEqual([
      "files before 0",
      "files before 0",
      "files after 0",
      "doomed before 0",
      "doomed before 0",
      "doomed after 0",
    ]);
    expect(events.find((e) => e.type === "error"), result.stdout).toMatchObject({ plugin: "doomed", code: "SOURCE" });
    const db = new Database(path.join(fleet.state, "ledger.db"), { readonly: true });
    const rows = db.prepare("SELECT plugin, phase, command, exit_code FROM hook_runs WHERE host = 'beta' ORDER BY id").all() as { command: string }[];
    db.close();
    expect(rows).toHaveLength(6);
    expect(rows[5]!.command).toBe(`echo starting app >> ${log}`);
  });

  it("warns about a certificate that expires within 14 days, in the run and in controller snapshots", async () => {
    const root = path.join(fleet.hosts.beta!.home, "letsencrypt");
    addCertificate(root, "beta.example", ["beta.example"], 90);
    addCertificate(root, "soon.example", ["soon.example", "www.soon.example"], 3);
    execFileSync("chown", ["-R", `${fleet.hosts.beta!.user}:${fleet.hosts.beta!.user}`, root]);
    fleet.writeInventory({ alpha: entry("alpha", "s3"), beta: { destination: "sftp", plugins: { certs: { plugin: "letsencrypt", root } } } });
    const run = await fleet.controller(["run", "--host", "beta"]);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toMatch(/warning: \[certs\] certificate "soon.example" \(soon.example, www.soon.example\) expires .* \(in 3 days\)/);
    const text = await fleet.controller(["snapshots", "--host", "beta"]);
    expect(text.stdout).toMatch(/warning: beta \S+: \[certs\] certificate "soon.example"/);
    expect(text.stdout).not.toMatch(/"beta.example".*expires/);
    const [latest] = await snapshots("beta");
    expect((latest as unknown as { warnings: string[] }).warnings).toHaveLength(1);
  });

  it("records nginx's version over SSH although the session's PATH lacks /usr/sbin, where Debian installs nginx", async () => {
    const root = path.join(fleet.hosts.beta!.home, "etc-nginx");
    execFileSync("cp", ["-a", "/etc/nginx", root]);
    execFileSync("chown", ["-R", `${fleet.hosts.beta!.user}:${fleet.hosts.beta!.user}`, root]);
    fleet.writeInventory({ alpha: entry("alpha", "s3"), beta: { destination: "s3", plugins: { web: { plugin: "nginx", root } } } });
    const run = await fleet.controller(["run", "--host", "beta"]);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).not.toContain("warning");
    const [latest] = await snapshots("beta");
    expect(latest!.artifacts[0]!.metadata.nginxVersion).toMatch(/^nginx version: nginx\//);
  });

  it("backs up and restores an Open WebUI data directory through the openwebui preset", async () => {
    const data = path.join(fleet.hosts.beta!.home, "openwebui", "data");
    fs.mkdirSync(path.join(data, "uploads"), { recursive: true });
    fs.mkdirSync(path.join(data, "cache", "image"), { recursive: true });
    fs.writeFileSync(path.join(data, "uploads", "report.pdf"), "%PDF-1.7 report");
    fs.writeFileSync(path.join(data, "cache", "image", "x.png"), "cached");
    fs.writeFileSync(path.join(data, "audit.log"), "audit");
    execFileSync("sqlite3", [path.join(data, "webui.db")], { input: "PRAGMA journal_mode=WAL; CREATE TABLE chat(id INTEGER PRIMARY KEY, title TEXT); INSERT INTO chat(title) VALUES ('hello'), ('wörld');" });
    createChromaDir(path.join(data, "vector_db"), ["docs"], 50);
    execFileSync("chown", ["-R", `${fleet.hosts.beta!.user}:${fleet.hosts.beta!.user}`, path.join(fleet.hosts.beta!.home, "openwebui")]);
    fleet.writeInventory({ alpha: entry("alpha", "s3"), beta: { destination: "s3", plugins: {}, presets: { openwebui: { data } } } });
    const run = await fleet.controller(["run", "--host", "beta", "--json"]);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    const [latest] = await snapshots("beta");
    expect(latest!.artifacts.map((a) => `${a.instance}/${a.name}`).sort()).toEqual(["openwebui-db/webui.db", "openwebui-files/files.tar", "openwebui-vectors/chroma.tar"]);
    const into = path.join(fleet.hosts.beta!.home, "owui-restored");
    const restore = await fleet.controller(["restore", "--from", "beta", "--snapshot", "latest", "--into", into, "--yes"]);
    expect(restore.code, restore.stdout + restore.stderr).toBe(0);
    // Each of the preset's instances under its own name, relative to the folder above its paths.
    const restored = listTree(`${into}/openwebui-files/${path.basename(data)}`);
    expect(Object.keys(restored).filter((k) => k.startsWith("cache") || k === "audit.log")).toEqual([]);
    expect(restored["uploads/report.pdf"]).toEqual(listTree(data)["uploads/report.pdf"]);
    expect(execFileSync("sqlite3", [`${into}/openwebui-db/webui.db`, "SELECT count(*) FROM chat"], { encoding: "utf8" }).trim()).toBe("2");
    expect(fs.existsSync(`${into}/openwebui-vectors/vector_db/chroma.sqlite3`)).toBe(true);
  });

  it("lists snapshots with their artifacts, keys, sizes and hashes", async () => {
    const all = await snapshots("alpha");
    expect(all.length).toBeGreaterThanOrEqual(4);
    for (const s of all.filter((x) => x.status === "complete")) {
      for (const a of s.artifacts) {
        expect(a.key).toBe(`alpha/${s.id}/${a.instance}/${a.name}.age`);
        expect(a.sha256).toMatch(/^[0-9a-f]{64}$/);
        expect(a.storedSize).toBeGreaterThan(0);
      }
    }
    const text = await fleet.controller(["snapshots"]);
    expect(text.stdout).toMatch(/alpha\s+\d{8}T\d{6}Z-[0-9a-f]{4}\s+complete/);
  });
});
