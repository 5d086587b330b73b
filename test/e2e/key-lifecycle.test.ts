// The controller's keys over their life, through the real CLI and a real sshd host: exported to
// one offline file, imported by a new controller that restores a snapshot made before, and a host
// pinned to a lost signing key taken over by a new controller.
import * as fs from "node:fs";
import * as path from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp, type AppData } from "../harness/app-data";
import { jsonLines } from "../harness/controller-cli";
import { startFleet, type Fleet, type HostEntry } from "../harness/fleet";
import { listTree } from "../harness/tree";

/** Every secret of a state directory: age identities, the signing key's PEM body, the blob naming key. */
function secretsOf(stateDir: string): string[] {
  const found: string[] = [];
  for (const rel of fs.readdirSync(stateDir, { recursive: true }) as string[]) {
    if (rel.endsWith(".key") || rel === "age-identity.txt") found.push(...fs.readFileSync(path.join(stateDir, rel), "utf8").split("\n").filter((l) => l.startsWith("AGE-SECRET-KEY-1")));
  }
  const pem = fs.readFileSync(path.join(stateDir, "signing-key.pem"), "utf8").split("\n").filter((l) => l && !l.startsWith("-----"));
  return [...found, pem.join(""), ...pem, fs.readFileSync(path.join(stateDir, "blob-key"), "utf8").trim()];
}

function expectNoSecret(output: string, secrets: string[]) {
  for (const s of secrets) expect(output.includes(s), "key material in the output").toBe(false);
}

/** Every file under `dir` with its mode and content. */
function snapshotDir(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const rel of fs.readdirSync(dir, { recursive: true }) as string[]) {
    const st = fs.statSync(path.join(dir, rel));
    out[rel] = `${(st.mode & 0o777).toString(8)} ${st.isFile() ? fs.readFileSync(path.join(dir, rel), "base64") : "dir"}`;
  }
  return out;
}

describe("the controller's keys: export, import, take-over", () => {
  let fleet: Fleet;
  let app: AppData;
  let exportFile: string;
  const files = (): HostEntry => ({ destination: "local", plugins: { files: { paths: [app.data] } } });
  const pinned = () => JSON.parse(fs.readFileSync(path.join(fleet.hosts.kappa!.home, ".lifeboat", "pinned.json"), "utf8")) as { host: string; controllerKey: string };
  const publicKeyOf = (state: string) => fs.readFileSync(path.join(state, "signing-key.pub"), "utf8").trim();

  beforeAll(async () => {
    fleet = await startFleet(["kappa"]);
    app = createApp(fleet.hosts.kappa!);
    expect((await fleet.controller(["init"])).code).toBe(0);
    fleet.writeInventory({ kappa: files() });
    // Controller A's snapshot, made before the export.
    const run = await fleet.controller(["run", "--host", "kappa"]);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    exportFile = path.join(fleet.dir, "lifeboat-keys.json");
  });

  afterAll(async () => {
    await fleet?.stop();
  });

  it("exports every key to one new 0600 file, prints only public parts and advice, and never overwrites a file", async () => {
    const secrets = secretsOf(fleet.state);
    const result = await fleet.controller(["keys", "export", "--out", exportFile]);
    expect(result.code, result.stderr).toBe(0);
    expect(fs.statSync(exportFile).mode & 0o777).toBe(0o600);
    expect(result.stdout).toContain(`wrote ${exportFile} (mode 0600, lifeboat-keys/1)`);
    expect(result.stdout).toContain(publicKeyOf(fleet.state));
    expect(result.stdout).toMatch(/Keep it offline/);
    expectNoSecret(result.stdout + result.stderr, secrets);
    const doc = JSON.parse(fs.readFileSync(exportFile, "utf8")) as { format: string; hostKeys: { name: string }[] };
    expect(doc.format).toBe("lifeboat-keys/1");
    expect(doc.hostKeys.map((k) => k.name).sort()).toEqual(["_blobs", "kappa"]);
    for (const s of secrets.slice(0, 2)) expect(fs.readFileSync(exportFile, "utf8")).toContain(s);

    const before = fs.readFileSync(exportFile);
    const again = await fleet.controller(["keys", "export", "--out", exportFile]);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain(`Cannot write the key export "${exportFile}": the file already exists`);
    expect(again.stderr).toContain("hint: give a new file name with --out");
    expect(fs.readFileSync(exportFile).equals(before)).toBe(true);

    const second = path.join(fleet.dir, "second-export.json");
    const json = await fleet.controller(["keys", "export", "--out", second, "--json"]);
    expect(json.code, json.stderr).toBe(0);
    expectNoSecret(json.stdout + json.stderr, secrets);
    expect(JSON.parse(json.stdout)).toMatchObject({ type: "keys-exported", file: second, format: "lifeboat-keys/1", signingPublicKey: publicKeyOf(fleet.state) });
    const refused = await fleet.controller(["keys", "export", "--out", second, "--json"]);
    expect(JSON.parse(refused.stdout)).toMatchObject({ type: "error", code: "KEYS" });
  });

  it("a new controller imports the keys into an empty state directory, lists them, and restores a snapshot made before the export", async () => {
    const stateB = path.join(fleet.dir, "controller-b");
    // The ledger is not in the export: the operator copies it (here with SQLite's backup, as a live copy would need).
    fs.mkdirSync(stateB, { mode: 0o700 });
    const source = new Database(path.join(fleet.state, "ledger.db"), { readonly: true });
    await source.backup(path.join(stateB, "ledger.db"));
    source.close();

    const imported = await fleet.controller(["keys", "import", exportFile, "--state", stateB]);
    expect(imported.code, imported.stderr).toBe(0);
    expect(imported.stdout).toContain(`kept the ledger ${path.join(stateB, "ledger.db")}`);
    expectNoSecret(imported.stdout + imported.stderr, secretsOf(fleet.state));
    for (const dir of [stateB, path.join(stateB, "host-keys")]) expect(fs.statSync(dir).mode & 0o777).toBe(0o700);
    for (const file of ["signing-key.pem", "age-identity.txt", "blob-key", "host-keys/kappa.key", "host-keys/_blobs.key"]) expect(fs.statSync(path.join(stateB, file)).mode & 0o777, file).toBe(0o600);

    const keysA = JSON.parse((await fleet.controller(["keys", "--json"])).stdout) as Record<string, unknown>;
    const listB = await fleet.controller(["keys", "--json", "--state", stateB]);
    expect(listB.code, listB.stderr).toBe(0);
    expect(JSON.parse(listB.stdout)).toEqual(keysA);
    expect((keysA.keys as unknown[]).length).toBe(2);

    // A second import of the same file keeps every file.
    const again = await fleet.controller(["keys", "import", exportFile, "--state", stateB, "--json"]);
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ type: "keys-imported", written: [], ledger: "kept" });

    // The data changes; controller B brings back what controller A stored.
    const original = listTree(app.data);
    const readme = path.join(app.data, "README.txt");
    fs.writeFileSync(readme, "overwritten after the backup\n");
    fs.rmSync(path.join(app.data, "secret.env"));
    const restored = await fleet.controller(["restore", "--from", "kappa", "--snapshot", "latest", "--yes", "--state", stateB]);
    expect(restored.code, restored.stdout + restored.stderr).toBe(0);
    expect(listTree(app.data)).toEqual(original);
    expect(fs.readFileSync(readme, "utf8")).toContain("notes for kappa");
  });

  it("refuses to import into a state directory that holds other keys, naming the file, and writes nothing", async () => {
    const stateC = path.join(fleet.dir, "controller-c");
    expect((await fleet.controller(["init", "--state", stateC])).code).toBe(0);
    const before = snapshotDir(stateC);
    const refused = await fleet.controller(["keys", "import", exportFile, "--state", stateC]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain(`"${path.join(stateC, "signing-key.pem")}" already holds a different signing key`);
    expect(refused.stderr).toContain("nothing was written");
    expect(refused.stderr).toContain("hint: import into an empty state directory");
    expectNoSecret(refused.stdout + refused.stderr, [...secretsOf(fleet.state), ...secretsOf(stateC)]);
    expect(snapshotDir(stateC)).toEqual(before);
  });

  it("a controller with a new signing key is refused by the pinned host until install --take-over, then its backups run and old snapshots still open", async () => {
    const keyA = publicKeyOf(fleet.state);
    expect(pinned()).toMatchObject({ host: "kappa", controllerKey: keyA });
    // As docs/security.md says for a lost or stolen signing key: the exported age keys and the
    // ledger copy in a new state directory, a new signing key from init.
    const stateD = path.join(fleet.dir, "controller-d");
    expect((await fleet.controller(["keys", "import", exportFile, "--state", stateD])).code).toBe(0);
    fs.rmSync(path.join(stateD, "signing-key.pem"));
    fs.rmSync(path.join(stateD, "signing-key.pub"));
    fs.rmSync(path.join(stateD, "ledger.db"));
    const source = new Database(path.join(fleet.state, "ledger.db"), { readonly: true });
    await source.backup(path.join(stateD, "ledger.db"));
    source.close();
    const init = await fleet.controller(["init", "--state", stateD]);
    expect(init.code, init.stderr).toBe(0);
    expect(init.stdout).toContain(`created ${path.join(stateD, "signing-key.pem")}`);
    expect(init.stdout).toContain(`kept existing ${path.join(stateD, "age-identity.txt")}`);
    const keyD = publicKeyOf(stateD);
    expect(keyD).not.toBe(keyA);

    const refused = await fleet.controller(["run", "--host", "kappa", "--json", "--state", stateD]);
    expect(refused.code).toBe(1);
    const summary = jsonLines(refused.stdout).find((l) => l.type === "host-summary") as { error: { code: string; message: string; hint: string } };
    expect(summary.error).toMatchObject({ code: "KEYS" });
    expect(summary.error.message).toContain("pinned to another controller");
    expect(summary.error.hint).toContain("controller install --host kappa --take-over");
    expect(pinned().controllerKey).toBe(keyA);

    const takeOver = await fleet.controller(["install", "--host", "kappa", "--take-over", "--json", "--state", stateD]);
    expect(takeOver.code, takeOver.stdout + takeOver.stderr).toBe(0);
    expect(jsonLines(takeOver.stdout)[0]).toMatchObject({
      type: "install",
      host: "kappa",
      installed: true,
      reason: "taken over",
      takenOver: { from: { controllerKey: keyA, host: "kappa" }, to: { controllerKey: keyD, host: "kappa" } },
    });
    expect(pinned()).toMatchObject({ host: "kappa", controllerKey: keyD });

    const run = await fleet.controller(["run", "--host", "kappa", "--state", stateD]);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    // A snapshot made by controller A, before the take-over, restored by D.
    const snapshots = JSON.parse((await fleet.controller(["snapshots", "--host", "kappa", "--json", "--state", stateD])).stdout) as { snapshots: { id: string }[] };
    expect(snapshots.snapshots.length).toBeGreaterThanOrEqual(2);
    const first = snapshots.snapshots.at(-1)!.id;
    const into = path.join(fleet.hosts.kappa!.home, "restored-by-d");
    const restored = await fleet.controller(["restore", "--from", "kappa", "--snapshot", first, "--into", into, "--yes", "--state", stateD]);
    expect(restored.code, restored.stdout + restored.stderr).toBe(0);
    expect(fs.readFileSync(path.join(into, "files", path.basename(app.data), "README.txt"), "utf8")).toContain("notes for kappa");
    // The old controller (and anyone holding its key) is now the one refused.
    const old = await fleet.controller(["run", "--host", "kappa", "--json"]);
    expect(old.code).toBe(1);
    expect(old.stdout).toContain("pinned to another controller");
  });

  it("re-pins a machine under a new inventory name only with --take-over, printing the old and the new pinning", async () => {
    const stateD = path.join(fleet.dir, "controller-d");
    const keyD = publicKeyOf(stateD);
    const kappa = fleet.hosts.kappa!;
    fleet.writeInventory({ kappa: files(), "kappa-renamed": { ...files(), sshOverride: { host: kappa.hostname, port: kappa.port, user: kappa.user } } });
    const refused = await fleet.controller(["install", "--host", "kappa-renamed", "--state", stateD]);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toContain('Cannot use "kappa-renamed": the machine behind it is pinned as "kappa"');
    expect(refused.stdout).toContain("controller install --host kappa-renamed --take-over");
    expect(pinned().host).toBe("kappa");

    const takeOver = await fleet.controller(["install", "--host", "kappa-renamed", "--take-over", "--state", stateD]);
    expect(takeOver.code, takeOver.stdout + takeOver.stderr).toBe(0);
    expect(takeOver.stdout).toContain(`was pinned to controller key ${keyD} as "kappa"`);
    expect(takeOver.stdout).toContain(`now pinned to controller key ${keyD} as "kappa-renamed"`);
    expect(pinned()).toMatchObject({ host: "kappa-renamed", controllerKey: keyD });
    const run = await fleet.controller(["run", "--host", "kappa-renamed", "--state", stateD]);
    expect(run.code, run.stdout + run.stderr).toBe(0);
  });
});
