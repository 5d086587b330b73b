// Storage access scoped per host, tried as root on one host would: real sshd hosts, the real controller
// CLI, the enforcing S3 front before s3rver (SigV4 signatures, per-key prefix policies, presigned scope),
// and the stock age CLI. Each host backs up with its own S3 key (write under fleet/<host>/ and fleet/blobs/,
// nothing else); beta's runtime records every spec it is sent. Proved:
// - nothing beta receives (backup, verify, two restores) opens gamma's objects (every identity it saw,
//   tried with `age -d`), reaches another host's prefix (its key, against the front) or another object
//   (every download link it saw, edited to name one of gamma's objects); no spec carries the admin key;
//   verify and both restores still work, and the recording runtime leaves no process behind;
// - the multipart upload a killed agent left open is aborted by the host's next job, with the host's key,
//   and the operator is told so (in the run's output or the ledger);
// - a restore of an S3 snapshot carries download links for exactly its objects, expiring as configured, and
//   no storage credentials.
import { execFileSync } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from "@aws-sdk/client-s3";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jsonLines } from "../harness/controller-cli";
import { startFleet, type Fleet, type HostEntry, type InventoryOptions } from "../harness/fleet";
import { listTree } from "../harness/tree";
import { readWithStockTools } from "./stored-object";

interface SnapshotJson {
  id: string;
  manifestKey: string;
  artifacts: { instance: string; key: string; compression: string }[];
}

interface SignedSpecJson {
  format: string;
  spec: { kind: string; host: string; issuedAt: string; destination: Record<string, unknown> & { type: string }; [field: string]: unknown };
  signature: string;
}

const HOSTS = ["alpha", "beta", "gamma"] as const;
const MARKER = `gamma-only-secret-${crypto.randomBytes(8).toString("hex")}`;
const MiB = 1024 * 1024;

/** Every value of a field named `name` anywhere in `value`. */
function fieldValues(value: unknown, name: string): unknown[] {
  if (Array.isArray(value)) return value.flatMap((v) => fieldValues(v, name));
  if (value === null || typeof value !== "object") return [];
  return Object.entries(value).flatMap(([k, v]) => [...(k === name ? [v] : []), ...fieldValues(v, name)]);
}

/** Every string anywhere in `value`. */
function strings(value: unknown): string[] {
  if (typeof value === "string") return [value];
  if (Array.isArray(value)) return value.flatMap(strings);
  if (value === null || typeof value !== "object") return [];
  return Object.values(value).flatMap(strings);
}

/** The error name an S3 call failed with, or "ok". */
async function outcomeOf(call: Promise<unknown>): Promise<string> {
  try {
    await call;
    return "ok";
  } catch (err) {
    return (err as { name?: string }).name ?? String(err);
  }
}

async function waitFor<T>(what: string, probe: () => T | undefined, timeoutMs: number, everyMs = 1): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = probe();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

describe("storage access scoped per host: what root on one host can reach", () => {
  let fleet: Fleet;
  /** Each host's own principal at the front, as its inventory entry gives it. */
  const principals: Record<string, { accessKeyId: string; secretAccessKey: string }> = {};
  const data: Record<string, string> = {};
  /** Where beta's recording runtime appends everything it reads on stdin. */
  let record: string;
  let wrapper: string;
  /** The output of the run after the killed one (test 2, read by the test after it). */

  const chown = (host: string, ...paths: string[]) => execFileSync("chown", ["-R", `${fleet.hosts[host]!.user}:${fleet.hosts[host]!.user}`, ...paths]);

  const entry = (host: string, extra: Partial<HostEntry> = {}): HostEntry => ({
    destination: "s3",
    plugins: { files: { paths: [data[host]!] } },
    storage: { accessKeyId: `\${S3_KEY_${host.toUpperCase()}}`, secretAccessKey: `\${S3_SECRET_${host.toUpperCase()}}` },
    ...extra,
  });

  const writeThreeHosts = (options?: InventoryOptions) =>
    fleet.writeInventory({ alpha: entry("alpha"), beta: entry("beta", { runtime: wrapper }), gamma: entry("gamma") }, options);

  const admin = () => fleet.s3.client();

  async function listKeys(prefix: string): Promise<{ key: string; etag: string }[]> {
    const client = admin();
    try {
      const out = await client.send(new ListObjectsV2Command({ Bucket: fleet.s3.bucket, Prefix: prefix }));
      return (out.Contents ?? []).map((o) => ({ key: o.Key!, etag: o.ETag ?? "" })).sort((a, b) => a.key.localeCompare(b.key));
    } finally {
      client.destroy();
    }
  }

  async function readObject(key: string): Promise<Buffer> {
    const client = admin();
    try {
      const out = await client.send(new GetObjectCommand({ Bucket: fleet.s3.bucket, Key: key }));
      return Buffer.from(await out.Body!.transformToByteArray());
    } finally {
      client.destroy();
    }
  }

  async function snapshots(host: string): Promise<SnapshotJson[]> {
    const result = await fleet.controller(["snapshots", "--host", host, "--json"]);
    expect(result.code, result.stderr).toBe(0);
    return (JSON.parse(result.stdout) as { snapshots: SnapshotJson[] }).snapshots;
  }

  /** Every spec beta's runtime recorded, in order. */
  const recordedSpecs = (): SignedSpecJson[] =>
    fs
      .readFileSync(record, "utf8")
      .split("\n")
      .filter((l) => l.trim().startsWith("{"))
      .map((l) => JSON.parse(l) as SignedSpecJson);

  const keyOf = (file: string) => fs.readFileSync(file, "utf8").split("\n").find((l) => l.startsWith("AGE-SECRET-KEY-1"))!;

  /** Whether the stock age CLI decrypts `stored` with `identity`. */
  function ageDecrypts(identity: string, stored: Buffer): boolean {
    const file = path.join(fleet.dir, `identity-${crypto.randomBytes(4).toString("hex")}.txt`);
    fs.writeFileSync(file, `${identity}\n`, { mode: 0o600 });
    try {
      execFileSync("age", ["-d", "-i", file], { input: stored, stdio: ["pipe", "ignore", "ignore"], maxBuffer: 1 << 30 });
      return true;
    } catch {
      return false;
    } finally {
      fs.rmSync(file);
    }
  }

  beforeAll(async () => {
    fleet = await startFleet([...HOSTS, "delta"]);
    for (const host of [...HOSTS, "delta"]) {
      const accessKeyId = `HOST${host.toUpperCase()}${crypto.randomBytes(4).toString("hex").toUpperCase()}`;
      const secretAccessKey = crypto.randomBytes(24).toString("base64url");
      fleet.s3.addPrincipal(accessKeyId, secretAccessKey, { write: [`fleet/${host}/`, "fleet/blobs/"] });
      principals[host] = { accessKeyId, secretAccessKey };
      fleet.env[`S3_KEY_${host.toUpperCase()}`] = accessKeyId;
      fleet.env[`S3_SECRET_${host.toUpperCase()}`] = secretAccessKey;
    }
    for (const host of HOSTS) {
      const dir = path.join(fleet.hosts[host]!.home, "app");
      fs.mkdirSync(path.join(dir, "notes"), { recursive: true });
      fs.writeFileSync(path.join(dir, "README.txt"), `${host}'s data\n`);
      fs.writeFileSync(path.join(dir, "notes", "random.bin"), crypto.randomBytes(64 * 1024));
      if (host === "gamma") fs.writeFileSync(path.join(dir, "notes", "secret.txt"), `${MARKER}\n`);
      chown(host, dir);
      data[host] = dir;
    }

    // beta's runtime, as root on beta could replace it: answers --version as node does, and otherwise
    // appends everything it reads on stdin to `record` while passing it on to node. node reads through a
    // FIFO and runs in the foreground, so its exit (not tee's) ends the session, and the controller
    // closing stdin still reaches the agent (tee sees end of input and closes the FIFO).
    const beta = fleet.hosts.beta!;
    record = path.join(beta.home, "recorded-specs.ndjson");
    wrapper = path.join(beta.home, "recording-runtime.sh");
    const node = process.execPath;
    fs.writeFileSync(
      wrapper,
      [
        "#!/bin/sh",
        `if [ "$1" = "--version" ]; then exec '${node}' --version; fi`,
        'fifo="$HOME/.runtime-fifo.$$"',
        'mkfifo -m 600 "$fifo" || exit 1',
        "exec 3<&0",
        `tee -a '${record}' <&3 >"$fifo" &`,
        "tee_pid=$!",
        "exec 3<&-",
        `'${node}' "$@" <"$fifo"`,
        "code=$?",
        'kill "$tee_pid" 2>/dev/null',
        'rm -f "$fifo"',
        'exit "$code"',
        "",
      ].join("\n"),
      { mode: 0o755 },
    );
    chown("beta", wrapper);

    expect((await fleet.controller(["init"])).code).toBe(0);
    writeThreeHosts();
    const backup = await fleet.controller(["run", "--all", "--json"]);
    expect(backup.code, backup.stdout + backup.stderr).toBe(0);
    const summaries = jsonLines(backup.stdout).filter((l) => l.type === "host-summary");
    expect(summaries.map((s) => [s.host, s.status]).sort()).toEqual(HOSTS.map((h) => [h, "ok"]));
  });

  afterAll(async () => {
    await fleet?.stop();
  });

  it("nothing beta receives opens gamma's data or reaches another host's prefix, and verify and restores still work", async () => {
    writeThreeHosts();
    const verify = await fleet.controller(["verify", "--host", "beta"]);
    expect(verify.code, `verify on beta, scoped: ${verify.stdout}${verify.stderr}`).toBe(0);
    const ownInto = path.join(fleet.hosts.beta!.home, "beta-restored");
    const own = await fleet.controller(["restore", "--from", "beta", "--snapshot", "latest", "--into", ownInto, "--yes"]);
    expect(own.code, `restore of beta onto beta, scoped: ${own.stdout}${own.stderr}`).toBe(0);
    expect(listTree(path.join(ownInto, "files", path.basename(data.beta!)))).toEqual(listTree(data.beta!));
    const alphaInto = path.join(fleet.hosts.beta!.home, "alpha-restored");
    const cross = await fleet.controller(["restore", "--from", "alpha", "--snapshot", "latest", "--to", "beta", "--into", alphaInto, "--yes"]);
    expect(cross.code, `restore of alpha onto beta, scoped: ${cross.stdout}${cross.stderr}`).toBe(0);
    expect(listTree(path.join(alphaInto, "files", path.basename(data.alpha!)))).toEqual(listTree(data.alpha!));

    // The wrapper let every session end: no process of beta's user is left (tee, node, the shell).
    const betaUser = fleet.hosts.beta!.user;
    await waitFor(
      "beta's processes to end",
      () => {
        try {
          execFileSync("pgrep", ["-u", betaUser], { stdio: "pipe" });
          return undefined;
        } catch {
          return true;
        }
      },
      10_000,
      100,
    );

    // What beta saw, as root on beta.
    const text = fs.readFileSync(record, "utf8");
    const specs = recordedSpecs();
    expect(specs.map((s) => s.spec.kind), "beta's runtime recorded one spec per job: its backup, the verify and the two restores").toEqual(["backup", "verify", "restore", "restore"]);
    expect(specs.every((s) => s.format === "lifeboat-job/1" && s.spec.host === "beta")).toBe(true);
    const identities = [...new Set(text.match(/AGE-SECRET-KEY-1[0-9A-Z]+/g) ?? [])];
    const urls = [...new Set(specs.flatMap((s) => strings(s.spec)).flatMap((s) => s.match(/https?:\/\/[^\s"]+/g) ?? []))];
    const links = urls.filter((u) => new URL(u).searchParams.has("X-Amz-Signature"));
    const keyIds = [...new Set(specs.flatMap((s) => fieldValues(s.spec, "accessKeyId")))];
    const secrets = [...new Set(specs.flatMap((s) => fieldValues(s.spec, "secretAccessKey")))];

    const betaKey = keyOf(path.join(fleet.state, "host-keys", "beta.key"));
    const gammaKey = keyOf(path.join(fleet.state, "host-keys", "gamma.key"));
    const master = keyOf(path.join(fleet.state, "age-identity.txt"));
    expect(identities, "beta saw its own identity (in its verify and restore)").toContain(betaKey);
    expect(identities, "beta never saw gamma's identity").not.toContain(gammaKey);
    expect(identities, "beta never saw the master identity").not.toContain(master);
    expect(keyIds, "the only storage key beta saw is its own (in its backup spec)").toEqual([principals.beta!.accessKeyId]);
    expect(secrets).toEqual([principals.beta!.secretAccessKey]);
    for (const s of specs.filter((x) => x.spec.kind !== "backup")) {
      expect(s.spec.destination.type, `${s.spec.kind} spec's destination`).toBe("presigned");
      expect(fieldValues(s.spec, "accessKeyId").concat(fieldValues(s.spec, "secretAccessKey"), fieldValues(s.spec, "sessionToken")), `${s.spec.kind} spec carries no credentials`).toEqual([]);
    }
    // The admin key id is public in each link's X-Amz-Credential (that is how SigV4 links work); apart from
    // that, neither it nor its secret (the same string here) appears anywhere, nor another host's key.
    const withoutCredentialParams = text.replace(/X-Amz-Credential=[^&"\s]*/g, "");
    for (const secret of [fleet.s3.accessKeyId, fleet.s3.secretAccessKey, principals.alpha!.accessKeyId, principals.alpha!.secretAccessKey, principals.gamma!.accessKeyId, principals.gamma!.secretAccessKey]) {
      expect(withoutCredentialParams.includes(secret), `a spec beta received contains "${secret.slice(0, 6)}…"`).toBe(false);
    }
    expect(text, "gamma's data never reached beta").not.toContain(MARKER);
    expect(links.length, "beta was given download links (verify, restores)").toBeGreaterThanOrEqual(6);
    expect(links.filter((u) => decodeURIComponent(new URL(u).pathname).includes("/fleet/gamma/")), "no link points into gamma's prefix").toEqual([]);

    // 1. Every identity beta saw fails on every one of gamma's objects, with the stock age CLI.
    const gammaObjects = await listKeys("fleet/gamma/");
    expect(gammaObjects.length, "gamma's snapshot is stored (manifest and artifact)").toBeGreaterThanOrEqual(2);
    for (const { key } of gammaObjects) {
      const stored = await readObject(key);
      for (const identity of identities) expect(ageDecrypts(identity, stored), `an identity beta saw decrypts ${key}`).toBe(false);
      expect(ageDecrypts(master, stored), `control: the master identity decrypts ${key}`).toBe(true);
    }
    const [gammaSnap] = await snapshots("gamma");
    const gammaFiles = gammaSnap!.artifacts.find((a) => a.instance === "files")!;
    // A chunked artifact is reassembled from its chunks, with the stock tools too.
    expect((await readWithStockTools(fleet, "s3", gammaFiles)).includes(MARKER), "control: gamma's artifact holds the marker").toBe(true);
    const [betaSnap] = await snapshots("beta");
    expect(ageDecrypts(betaKey, await readObject(`fleet/${betaSnap!.artifacts[0]!.key}`)), "control: beta's identity decrypts beta's own object").toBe(true);

    // 2. beta's own key, as the SDK uses it, reaches nothing outside fleet/beta/ (writes) .
    const [betaKeyId] = keyIds as string[];
    const betaClient = fleet.s3.client({ accessKeyId: betaKeyId!, secretAccessKey: (secrets as string[])[0]! });
    const bucket = fleet.s3.bucket;
    const gammaKeyName = gammaObjects[0]!.key;
    const alphaKeyName = (await listKeys("fleet/alpha/"))[0]!.key;
    try {
      const attempts: Record<string, () => Promise<unknown>> = {
        "PutObject fleet/gamma/ (new)": () => betaClient.send(new PutObjectCommand({ Bucket: bucket, Key: "fleet/gamma/planted.age", Body: "x" })),
        "PutObject over gamma's object": () => betaClient.send(new PutObjectCommand({ Bucket: bucket, Key: gammaKeyName, Body: "x" })),
        "PutObject fleet/alpha/ (new)": () => betaClient.send(new PutObjectCommand({ Bucket: bucket, Key: "fleet/alpha/planted.age", Body: "x" })),
        "PutObject over alpha's object": () => betaClient.send(new PutObjectCommand({ Bucket: bucket, Key: alphaKeyName, Body: "x" })),
        "DeleteObject of gamma's object": () => betaClient.send(new DeleteObjectCommand({ Bucket: bucket, Key: gammaKeyName })),
        "DeleteObject of alpha's object": () => betaClient.send(new DeleteObjectCommand({ Bucket: bucket, Key: alphaKeyName })),
        "GetObject of gamma's object": () => betaClient.send(new GetObjectCommand({ Bucket: bucket, Key: gammaKeyName })),
        "ListObjectsV2 fleet/gamma/": () => betaClient.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: "fleet/gamma/" })),
        "ListObjectsV2 fleet/": () => betaClient.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: "fleet/" })),
      };
      const outcomes: Record<string, string> = {};
      for (const [what, call] of Object.entries(attempts)) outcomes[what] = await outcomeOf(call());
      expect(outcomes, "beta's key is refused outside its prefix").toEqual(Object.fromEntries(Object.keys(attempts).map((k) => [k, "AccessDenied"])));
      const probe = `fleet/beta/probe-${crypto.randomBytes(4).toString("hex")}`;
      expect(await outcomeOf(betaClient.send(new PutObjectCommand({ Bucket: bucket, Key: probe, Body: "probe" }))), "control: beta's key writes under fleet/beta/").toBe("ok");
      const client = admin();
      await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: probe }));
      client.destroy();
    } finally {
      betaClient.destroy();
    }
    expect(await listKeys("fleet/gamma/"), "gamma's objects are unchanged").toEqual(gammaObjects);

    // 3. Every link beta saw, edited to name one of gamma's objects, is refused; unedited, it works.
    for (const link of links) {
      const unedited = await fetch(link);
      expect(unedited.status, `control: the link works as issued (${new URL(link).pathname})`).toBe(200);
      await unedited.arrayBuffer();
      for (const { key } of gammaObjects) {
        const edited = new URL(link);
        edited.pathname = `/${bucket}/${key}`;
        const response = await fetch(edited);
        const body = await response.text();
        expect(response.status, `${new URL(link).pathname} edited to ${key}: ${body}`).toBe(403);
        expect(body).not.toContain(MARKER);
      }
    }
  });

  it("aborts, with the host's own key, the multipart upload an agent killed mid-upload left open", async () => {
    const host = fleet.hosts.delta!;
    const dir = path.join(host.home, "big");
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, "random.bin"), crypto.randomBytes(30 * MiB));
    chown("delta", dir);
    fleet.writeInventory(
      {
        delta: {
          destination: "s3",
          plugins: { files: { paths: [dir] } },
          storage: { accessKeyId: "${S3_KEY_DELTA}", secretAccessKey: "${S3_SECRET_DELTA}" },
        },
      },
      // One 30 MiB object, uploaded in parts (chunks are at most 4 MiB: single requests).
      { s3: { partSizeMiB: 5 }, defaults: { chunking: false } },
    );
    const journal = path.join(host.home, ".lifeboat", "uploads");
    const before = new Set(fleet.s3.openUploads().map((u) => u.uploadId));

    const running = fleet.controller(["run", "--host", "delta", "--json"]);
    let settled = false;
    void running.finally(() => (settled = true));
    // Killed once the upload is open at the front and the agent has journaled it (killed between the two,
    // the agent has no record of the upload: only the bucket's lifecycle rule removes it). The front runs
    // in this process, so while the kill runs synchronously it answers no further part.
    const journaled = () => (fs.existsSync(journal) ? fs.readdirSync(journal).filter((n) => n.endsWith(".json")).length > 0 : false);
    const upload = await waitFor(
      "a multipart upload under fleet/delta/, journaled on the host",
      () => {
        if (settled) throw new Error("the run ended before a multipart upload was open and journaled");
        const open = fleet.s3.openUploads().find((u) => u.key.startsWith("fleet/delta/") && !before.has(u.uploadId));
        return open && journaled() ? open : undefined;
      },
      90_000,
    );
    execFileSync("pkill", ["-KILL", "-u", host.user, "-f", "agent.mjs"]);
    const first = await running;
    expect(first.code, `the killed run must fail: ${first.stdout}${first.stderr}`).not.toBe(0);
    expect(
      fleet.s3.openUploads().map((u) => u.uploadId),
      "the upload is still open (not completed, not aborted) after the kill",
    ).toContain(upload.uploadId);
    const left = fs.readdirSync(journal);
    expect(left, "the journal holds the killed job's upload").toHaveLength(1);
    expect(JSON.parse(fs.readFileSync(path.join(journal, left[0]!), "utf8"))).toMatchObject({ key: upload.key.replace(/^fleet\//, ""), uploadId: upload.uploadId });

    const requestsBefore = fleet.s3.requests.length;
    const second = await fleet.controller(["run", "--host", "delta", "--json"]);
    expect(second.code, `the next run succeeds: ${second.stdout}${second.stderr}`).toBe(0);
    expect(fleet.s3.openUploads().map((u) => u.uploadId), "the killed job's upload is no longer open").not.toContain(upload.uploadId);
    const aborts = fleet.s3.requests.slice(requestsBefore).filter((r) => r.action === "AbortMultipartUpload");
    expect(aborts, "one AbortMultipartUpload, of the killed job's upload, by delta's own key").toEqual([
      { accessKeyId: principals.delta!.accessKeyId, method: "DELETE", key: upload.key, action: "AbortMultipartUpload", status: 204 },
    ]);
    expect(fs.readdirSync(journal), "the journal is empty").toEqual([]);
    // The operator is told, in the run's output and in the ledger's warnings.
    expect(second.stdout, "the run's output says it aborted the upload").toMatch(/aborted 1 unfinished upload\(s\) that an earlier job left at s3 /);
    const ledger = new Database(path.join(fleet.state, "ledger.db"), { readonly: true });
    const warnings = ledger.prepare("SELECT message FROM events WHERE host = 'delta' AND level = 'warning'").pluck().all() as string[];
    ledger.close();
    expect(warnings.some((w) => /aborted 1 unfinished upload/.test(w)), `the ledger's warnings: ${JSON.stringify(warnings)}`).toBe(true);
    const [latest] = await fleet.controller(["snapshots", "--host", "delta", "--json"]).then((r) => (JSON.parse(r.stdout) as { snapshots: SnapshotJson[] }).snapshots);
    expect(upload.key.startsWith(`fleet/delta/${latest!.id}/`), "the killed job's snapshot does not count: the latest complete one is the second run's").toBe(false);
  });

  it("a restore of an S3 snapshot carries download links for exactly its objects, expiring as configured, and no credentials", async () => {
    for (const [linkExpiry, expiryMs] of [
      [undefined, 12 * 3600_000],
      ["90m", 90 * 60_000],
    ] as const) {
      writeThreeHosts(linkExpiry ? { s3: { linkExpiry } } : {});
      const into = path.join(fleet.hosts.beta!.home, `alpha-again-${crypto.randomBytes(3).toString("hex")}`);
      const restore = await fleet.controller(["restore", "--from", "alpha", "--snapshot", "latest", "--to", "beta", "--into", into, "--yes"]);
      expect(restore.code, restore.stdout + restore.stderr).toBe(0);
      const spec = recordedSpecs().at(-1)!.spec;
      expect(spec.kind).toBe("restore");
      const [alphaSnap] = await snapshots("alpha");
      const destination = spec.destination as { type: string; of: string; expiresAt: string; objects: Record<string, string> };
      expect(Object.keys(destination).sort(), "the destination is download links, nothing else").toEqual(["expiresAt", "objects", "of", "type"]);
      expect(destination.type).toBe("presigned");
      expect(Object.keys(destination.objects).sort(), "links for exactly the snapshot's manifest and artifacts").toEqual([alphaSnap!.manifestKey, ...alphaSnap!.artifacts.map((a) => a.key)].sort());
      const expiresAt = Date.parse(destination.expiresAt);
      const label = `expiresAt ${destination.expiresAt}, issued ${spec.issuedAt}, linkExpiry ${linkExpiry ?? "default (12h)"}`;
      expect(expiresAt, label).toBeGreaterThan(Date.now());
      expect(expiresAt - Date.parse(spec.issuedAt), label).toBeLessThanOrEqual(expiryMs + 5_000);
      expect(expiresAt - Date.parse(spec.issuedAt), label).toBeGreaterThanOrEqual(expiryMs - 60_000);
      for (const [key, link] of Object.entries(destination.objects)) {
        const url = new URL(link);
        expect(decodeURIComponent(url.pathname), `the link of ${key}`).toBe(`/${fleet.s3.bucket}/fleet/${key}`);
        expect(Number(url.searchParams.get("X-Amz-Expires")), `the link of ${key}`).toBeLessThanOrEqual(expiryMs / 1000);
      }
      expect(JSON.stringify(spec)).not.toMatch(/accessKeyId|secretAccessKey|sessionToken/);
      // The admin key id is in each link's X-Amz-Credential, as SigV4 links go; its secret is nowhere.
      expect(JSON.stringify(spec).replace(/X-Amz-Credential=[^&"]*/g, ""), "no credential outside a link's public key id").not.toContain(fleet.s3.secretAccessKey);
    }
  });
});
