// Exporting every key of a state directory and importing it elsewhere, on real files with real keys.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LifeboatError } from "../core/errors";
import { BLOB_AREA, HostKeys } from "./host-keys";
import { exportKeys, importKeys, KEY_EXPORT_FORMAT, parseKeyExport, type KeyExport } from "./key-export";
import { initState, loadKeys } from "./keys";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "lifeboat-key-export-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

let n = 0;
const fresh = (name: string) => path.join(tmp, `${name}-${++n}`);

/** Every file under `dir` with its mode and content, to prove nothing changed. */
function snapshotDir(dir: string): Record<string, string> {
  if (!fs.existsSync(dir)) return {};
  const out: Record<string, string> = {};
  for (const rel of fs.readdirSync(dir, { recursive: true }) as string[]) {
    const full = path.join(dir, rel);
    const st = fs.statSync(full);
    out[rel] = `${(st.mode & 0o777).toString(8)} ${st.isFile() ? fs.readFileSync(full, "base64") : "dir"}`;
  }
  return out;
}

/** Every secret of a state directory: identities, the signing key's PEM body, the blob key. */
function secretsOf(stateDir: string): string[] {
  const found: string[] = [];
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, e.name);
      if (e.isDirectory()) walk(full);
      else if (e.name.endsWith(".key") || e.name === "age-identity.txt") found.push(...fs.readFileSync(full, "utf8").split("\n").filter((l) => l.startsWith("AGE-SECRET-KEY-1")));
    }
  };
  walk(stateDir);
  const pemBody = fs.readFileSync(path.join(stateDir, "signing-key.pem"), "utf8").split("\n").filter((l) => l && !l.startsWith("-----")).join("");
  return [...found, pemBody, fs.readFileSync(path.join(stateDir, "blob-key"), "utf8").trim()];
}

/** The error `promise` rejects with (fails the test when it resolves). */
async function failure(promise: Promise<unknown>): Promise<LifeboatError> {
  const outcome = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(outcome, "expected a refusal").toBeInstanceOf(LifeboatError);
  return outcome as LifeboatError;
}

function expectNoSecret(text: string, secrets: string[]) {
  for (const s of secrets) expect(text.includes(s), "a secret in the output").toBe(false);
}

describe("controller keys export / import", () => {
  let stateA: string;
  let exportFile: string;
  let secrets: string[];

  beforeAll(async () => {
    stateA = fresh("state-a");
    await initState(stateA);
    const hostKeys = new HostKeys(stateA);
    await hostKeys.current("alpha");
    await hostKeys.current("beta");
    await hostKeys.current(BLOB_AREA);
    await hostKeys.rotate("alpha");
    secrets = secretsOf(stateA);
    expect(secrets.length).toBe(7); // master, alpha, retired alpha, beta, blobs, PEM body, blob key
    exportFile = path.join(tmp, "keys.json");
    const summary = await exportKeys(stateA, exportFile);
    expectNoSecret(JSON.stringify(summary), secrets);
  });

  it("writes one 0600 file holding every key of the state directory, in the documented format", async () => {
    expect(fs.statSync(exportFile).mode & 0o777).toBe(0o600);
    const text = fs.readFileSync(exportFile, "utf8");
    for (const s of secrets) expect(text.replace(/\\n/g, "")).toContain(s);
    const doc = JSON.parse(text) as KeyExport;
    expect(doc.format).toBe(KEY_EXPORT_FORMAT);
    const a = await loadKeys(stateA);
    expect(doc.signingKey.publicKey).toBe(a.publicKey);
    expect(doc.masterIdentity.recipient).toBe(a.ageRecipient);
    expect(doc.blobNamingKey.key).toBe(a.blobKey);
    expect(doc.hostKeys.map((k) => [k.name, k.state]).sort()).toEqual([
      ["_blobs", "current"],
      ["alpha", "current"],
      ["alpha", "retired"],
      ["beta", "current"],
    ]);
    expect(doc.hostKeys.find((k) => k.state === "retired")!.file).toMatch(/^host-keys\/retired\/alpha\.\d{8}T\d{6}Z\.key$/);
    expect(doc.hostKeys.every((k) => k.created.length > 0)).toBe(true);
  });

  it("never overwrites an existing file, nor writes through a symlink, and names the file and the fix", async () => {
    const before = fs.readFileSync(exportFile);
    const err = await failure(exportKeys(stateA, exportFile));
    expect(err).toMatchObject({ code: "KEYS" });
    expect(err.message).toContain(`"${exportFile}"`);
    expect(err.message).toContain("already exists");
    expect(err.hint).toContain("--out");
    expect(fs.readFileSync(exportFile).equals(before)).toBe(true);

    const target = path.join(tmp, "victim.txt");
    fs.writeFileSync(target, "keep me\n");
    const link = path.join(tmp, "link.json");
    fs.symlinkSync(target, link);
    await expect(exportKeys(stateA, link)).rejects.toThrow(/already exists/);
    expect(fs.readFileSync(target, "utf8")).toBe("keep me\n");
  });

  it("imports into an empty directory with the state directory's layout and modes, the same keys as the source", async () => {
    const stateB = fresh("state-b");
    const result = await importKeys(stateB, exportFile);
    expectNoSecret(JSON.stringify(result), secrets);
    expect(result.kept).toEqual([]);
    expect(result.written.length).toBe(7); // signing key, master, blob key, 4 age keys
    const a = await loadKeys(stateA);
    const b = await loadKeys(stateB);
    expect([b.publicKey, b.ageIdentity, b.ageRecipient, b.blobKey]).toEqual([a.publicKey, a.ageIdentity, a.ageRecipient, a.blobKey]);
    const rel = (state: string) => async () => (await new HostKeys(state).list()).map((k) => ({ ...k, file: path.relative(state, k.file) }));
    expect(await rel(stateB)()).toEqual(await rel(stateA)());
    for (const dir of [stateB, path.join(stateB, "host-keys"), path.join(stateB, "host-keys", "retired")]) expect(fs.statSync(dir).mode & 0o777, dir).toBe(0o700);
    for (const file of result.written) expect(fs.statSync(file).mode & 0o777, file).toBe(0o600);
    expect(fs.readFileSync(path.join(stateB, "signing-key.pub"), "utf8").trim()).toBe(a.publicKey);
    // The files read back like the source's (comments included), so a second import keeps them all.
    expect(fs.readFileSync(path.join(stateB, "host-keys", "beta.key"), "utf8")).toBe(fs.readFileSync(path.join(stateA, "host-keys", "beta.key"), "utf8"));
    expect(fs.readFileSync(path.join(stateB, "age-identity.txt"), "utf8")).toBe(fs.readFileSync(path.join(stateA, "age-identity.txt"), "utf8"));
    const again = await importKeys(stateB, exportFile);
    expect(again.written).toEqual([]);
    expect(again.kept.length).toBe(7);
  });

  it("keeps a state directory's own extra keys and the files that hold the same key, and adds the missing ones", async () => {
    const stateB = fresh("state-partial");
    await importKeys(stateB, exportFile);
    fs.rmSync(path.join(stateB, "host-keys", "beta.key"));
    await new HostKeys(stateB).current("gamma");
    const result = await importKeys(stateB, exportFile);
    expect(result.written).toEqual([path.join(stateB, "host-keys", "beta.key")]);
    expect((await new HostKeys(stateB).list()).map((k) => k.name)).toContain("gamma");
  });

  it("refuses the whole import when a file holds a different key, names it, and writes nothing", async () => {
    const stateC = fresh("state-c");
    await initState(stateC);
    const before = snapshotDir(stateC);
    const err = await failure(importKeys(stateC, exportFile));
    expect(err).toMatchObject({ code: "KEYS" });
    expect(err.message).toContain(`"${path.join(stateC, "signing-key.pem")}" already holds a different signing key`);
    expect(err.message).toContain("age-identity.txt");
    expect(err.message).toContain("nothing was written");
    expect(err.hint).toContain("empty state directory");
    expectNoSecret(`${err.message} ${err.hint}`, [...secrets, ...secretsOf(stateC)]);
    expect(snapshotDir(stateC)).toEqual(before);

    // One different host key among equal ones: still nothing written.
    const stateD = fresh("state-d");
    await importKeys(stateD, exportFile);
    fs.rmSync(path.join(stateD, "host-keys", "_blobs.key"));
    fs.rmSync(path.join(stateD, "host-keys", "beta.key"));
    await new HostKeys(stateD).current("beta"); // a new, different key for beta
    const beforeD = snapshotDir(stateD);
    await expect(importKeys(stateD, exportFile)).rejects.toThrow(`"${path.join(stateD, "host-keys", "beta.key")}" already holds a different current age key of host "beta"`);
    expect(snapshotDir(stateD)).toEqual(beforeD);
    expect(fs.existsSync(path.join(stateD, "host-keys", "_blobs.key"))).toBe(false);
  });

  it("refuses a damaged or foreign file with a clear error that quotes no key material, and creates nothing", async () => {
    const good = JSON.parse(fs.readFileSync(exportFile, "utf8")) as KeyExport;
    const other = JSON.parse(fs.readFileSync(exportFile, "utf8")) as KeyExport;
    const otherState = fresh("other");
    await initState(otherState);
    const otherKeys = await loadKeys(otherState);
    const cases: [string, string, RegExp][] = [
      ["not JSON", `${good.masterIdentity.identity}\n`, /it is not JSON/],
      ["truncated", fs.readFileSync(exportFile, "utf8").slice(0, 400), /it is not JSON/],
      ["foreign", JSON.stringify({ format: "something-else", key: good.masterIdentity.identity }), /not a Lifeboat key export/],
      ["newer", JSON.stringify({ ...good, format: "lifeboat-keys/2" }), /its format is lifeboat-keys\/2, this Lifeboat .* reads lifeboat-keys\/1/],
      ["bad pem", JSON.stringify({ ...good, signingKey: { ...good.signingKey, privateKeyPem: "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n" } }), /signingKey\.privateKeyPem is not a PEM private key/],
      ["swapped public key", JSON.stringify({ ...good, signingKey: { ...good.signingKey, publicKey: otherKeys.publicKey } }), /signingKey\.publicKey does not belong/],
      ["bad identity", JSON.stringify({ ...good, masterIdentity: { ...good.masterIdentity, identity: `${good.masterIdentity.identity.slice(0, -3)}QQQ` } }), /masterIdentity\.identity is not a valid age identity/],
      ["swapped recipient", JSON.stringify({ ...good, masterIdentity: { ...good.masterIdentity, recipient: otherKeys.ageRecipient } }), /masterIdentity\.recipient does not belong/],
      ["bad blob key", JSON.stringify({ ...good, blobNamingKey: { key: "c2hvcnQ=" } }), /blobNamingKey\.key is not 32 bytes/],
      ["escaping path", JSON.stringify({ ...other, hostKeys: [{ ...good.hostKeys[0]!, file: "host-keys/../../escape.key" }] }), /hostKeys\[0\]\.file is not where/],
      ["name in the wrong file", JSON.stringify({ ...other, hostKeys: [{ ...good.hostKeys.find((k) => k.name === "beta")!, name: "alpha" }] }), /hostKeys\[0\]\.file is not where a current key of "alpha" lives/],
      ["key material as a name", JSON.stringify({ ...other, hostKeys: [{ ...good.hostKeys[0]!, name: `x ${good.masterIdentity.identity}` }] }), /hostKeys\[0\]\.name is not a host name/],
      ["a line break in created", JSON.stringify({ ...other, hostKeys: [{ ...good.hostKeys[0]!, created: `2026\n${other.masterIdentity.identity}` }] }), /hostKeys\[0\]\.created is not a time stamp/],
      ["missing list", JSON.stringify({ ...good, hostKeys: undefined }), /hostKeys is missing or not a list/],
    ];
    for (const [what, content, message] of cases) {
      const file = path.join(tmp, `bad-${what.replace(/ /g, "-")}.json`);
      fs.writeFileSync(file, content, { mode: 0o600 });
      const state = fresh("state-bad");
      const err = await failure(importKeys(state, file));
            expect(err.message, what).toMatch(message);
      expect(err.message, what).toContain(`"${file}"`);
      expect(err.code, what).toBe("KEYS");
      expectNoSecret(`${err.message} ${err.hint ?? ""}`, [...secrets, ...secretsOf(otherState)]);
      expect(fs.existsSync(state), what).toBe(false);
    }
    await expect(importKeys(fresh("state-missing"), path.join(tmp, "nope.json"))).rejects.toThrow(/the file does not exist/);
  });

  it("parses what it exports, and what parses imports", async () => {
    const doc = await parseKeyExport(fs.readFileSync(exportFile, "utf8"), exportFile);
    expect(doc.hostKeys.length).toBe(4);
  });
});
