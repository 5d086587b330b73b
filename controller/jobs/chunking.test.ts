// The controller's side of chunked backups, with a real state directory, inventory and ledger: the
// chunking a backup spec carries (naming key, parents, excluded chunks, rehash) and the read links
// a restore or verify job gets for the chunks of the snapshot it opens.
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { ChunkUpload } from "../../core/events";
import type { ArtifactRecord } from "../../core/records";
import { chunkObjectKey } from "../../core/storage-layout";
import { inventoryYaml } from "../../test/harness/ledger-rows";
import { setSnapshotTime } from "../../test/harness/ledger-time";
import { ControllerContext } from "../context";
import { chunkNamingKey, initState, statePaths } from "../keys";
import { Ledger } from "../ledger/ledger";
import { backupSpec } from "./fleet-backup";
import { snapshotJob } from "./snapshot-job";

const DAY = 86_400_000;
const files = { paths: ["/srv/data"] };
const media = { plugin: "files", paths: ["/srv/media"] };
const db = { plugin: "sqlite", databases: ["/srv/app.db"] };

describe("chunked backups on the controller", () => {
  let dir: string;
  let ctx: ControllerContext;
  let made = 0;
  const globals = () => ({ inventory: path.join(dir, "fleet.yaml"), state: path.join(dir, "state"), json: false });

  async function open(defaults: Record<string, unknown> = {}): Promise<void> {
    ctx?.close();
    fs.writeFileSync(globals().inventory, inventoryYaml({ web: { plugins: { files, media, db } }, api: { plugins: { files } } }, defaults));
    ctx = await ControllerContext.open(globals());
  }

  const nameOf = (label: string) => crypto.createHash("sha256").update(label).digest("hex");
  const upload = (host: string, label: string): ChunkUpload => ({ name: nameOf(label), key: chunkObjectKey(host, nameOf(label)), size: 100, stored: { sha256: nameOf(`stored ${label}`), size: 120 } });

  /**
   * A backup of `host` as `controller run` records it: chunked artifacts of `chunked` (each
   * referencing its `chunks`, uploaded by it), single objects of `single`; complete unless said.
   */
  function backUp(host: string, o: { recipient: string; chunked?: Record<string, ChunkUpload[]>; single?: string[]; status?: "complete" | "failed"; rehash?: boolean; destination?: string }): string {
    const snapshotId = `20261201T${String(++made).padStart(6, "0")}Z-0000`;
    const ledger = ctx.ledger;
    const runId = ledger.startRun({ kind: "backup", trigger: "test", hosts: [host] });
    ledger.startJob({ runId, jobId: `job-${made}`, host, kind: "backup", snapshotId });
    ledger.startSnapshot({ host, snapshotId, jobId: `job-${made}`, destination: o.destination ?? "local", destinationDescription: "test", recipient: o.recipient, rehash: o.rehash ?? false });
    const artifact = (instance: string, compression: ArtifactRecord["compression"]): ArtifactRecord => ({ plugin: instance === "db" ? "sqlite" : "files", instance, name: `${instance}.tar`, key: `${host}/${snapshotId}/${instance}/${instance}.tar.age`, plainSize: 100, storedSize: 120, sha256: "ab".repeat(32), compression, metadata: {} });
    for (const [instance, uploads] of Object.entries(o.chunked ?? {})) {
      expect(ledger.chunks.recordBatch({ destination: o.destination ?? "local", host, snapshotId, instance, recipient: o.recipient, uploaded: uploads, refs: uploads.map((u) => u.name) })).toEqual({ refused: [] });
      ledger.recordArtifact(host, snapshotId, { ...artifact(instance, "chunked"), chunks: { count: uploads.length, uploaded: uploads.length, uploadedBytes: 120 * uploads.length, reusedBytes: 0 } });
    }
    for (const instance of o.single ?? []) ledger.recordArtifact(host, snapshotId, artifact(instance, "zstd"));
    if ((o.status ?? "complete") === "complete") {
      ledger.completeSnapshot(host, snapshotId, { manifestKey: `${host}/${snapshotId}/manifest.json.age`, manifestSha256: "cd".repeat(32), manifestSize: 10 });
      ledger.chunks.compactSnapshot(host, snapshotId);
    } else ledger.failSnapshot(host, snapshotId);
    return snapshotId;
  }

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "lifeboat-chunking-"));
    await initState(globals().state);
    Ledger.open(statePaths(globals().state).ledger).close();
    await open();
  });
  afterEach(() => {
    ctx.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const web = () => ctx.host("web");
  const spec = (o: { rehash?: boolean } = {}) => backupSpec(ctx, web(), web().plugins, o);

  it("names chunks with a per-host key derived from the blob key and the host's current recipient, which a key rotation changes", async () => {
    const recipient = (await ctx.hostKeys.current("web")).recipient;
    const expected = crypto.createHmac("sha256", Buffer.from(ctx.keys.blobKey, "base64")).update(`lifeboat-chunk-names/1\nweb\n${recipient}`).digest("base64");
    const { chunking } = await spec();
    expect(chunking!.key).toBe(expected);
    expect(Buffer.from(chunking!.key, "base64")).toHaveLength(32);
    expect(chunkNamingKey(ctx.keys.blobKey, "web", recipient)).toBe(expected);
    expect((await backupSpec(ctx, ctx.host("api"), ctx.host("api").plugins)).chunking!.key).not.toBe(expected);
    await ctx.hostKeys.rotate("web");
    expect((await spec()).chunking!.key).not.toBe(expected);
  });

  it("gives each instance the newest complete, undamaged snapshot with a chunked artifact of it, encrypted to the current key, as parent; excludes the damaged chunks", async () => {
    const recipient = (await ctx.hostKeys.current("web")).recipient;
    const [a, b, c] = [upload("web", "a"), upload("web", "b"), upload("web", "c")];
    const both = backUp("web", { recipient, chunked: { files: [a], media: [b] } });
    const filesOnly = backUp("web", { recipient, chunked: { files: [c] }, single: ["db"] });
    backUp("web", { recipient, chunked: { files: [c], media: [b] }, status: "failed" });
    backUp("web", { recipient: "age1someotherkey", chunked: { files: [upload("web", "x")], media: [upload("web", "y")] } });
    backUp("api", { recipient: (await ctx.hostKeys.current("api")).recipient, chunked: { files: [upload("api", "a")] } });
    ctx.ledger.chunks.markDamaged("local", a.key, "missing");

    expect((await spec()).chunking).toEqual({ key: expect.any(String), parents: { files: filesOnly, media: both }, exclude: [a.name], rehash: true });
    // Only the instances of the job.
    expect((await backupSpec(ctx, web(), web().plugins.filter((p) => p.instance === "media"))).chunking!.parents).toEqual({ media: both });
    // A rotated key: no parent, and the old key's damaged chunks are not this key's names.
    await ctx.hostKeys.rotate("web");
    expect((await spec()).chunking).toMatchObject({ parents: {}, exclude: [] });
  });

  it("asks for a rehash when the host has no complete snapshot made with one within rehashEvery (default 30d), or when run --rehash says so; never with rehashEvery: never", async () => {
    const recipient = (await ctx.hostKeys.current("web")).recipient;
    expect((await spec()).chunking!.rehash).toBe(true);
    backUp("web", { recipient, rehash: true, status: "failed" });
    expect((await spec()).chunking!.rehash).toBe(true);
    const rehashed = backUp("web", { recipient, rehash: true });
    backUp("web", { recipient });
    expect((await spec()).chunking!.rehash).toBe(false);
    expect((await spec({ rehash: true })).chunking!.rehash).toBe(true);
    setSnapshotTime(statePaths(globals().state).ledger, "web", rehashed, new Date(Date.now() - 29 * DAY));
    expect((await spec()).chunking!.rehash).toBe(false);
    setSnapshotTime(statePaths(globals().state).ledger, "web", rehashed, new Date(Date.now() - 31 * DAY));
    expect((await spec()).chunking!.rehash).toBe(true);
    await open({ rehashEvery: "60d" });
    expect((await spec()).chunking!.rehash).toBe(false);
    await open({ rehashEvery: "never" });
    expect((await spec()).chunking!.rehash).toBe(false);
    expect((await spec({ rehash: true })).chunking!.rehash).toBe(true);
  });

  it("issues read links for the chunks of the plugin instances a restore or verify opens, and no others", async () => {
    const recipient = (await ctx.hostKeys.current("web")).recipient;
    const [a, b, c] = [upload("web", "a"), upload("web", "b"), upload("web", "c")];
    const id = backUp("web", { recipient, chunked: { files: [a, b], media: [b, c] }, single: ["db"] });
    let linked: string[] = [];
    ctx.readAccessFor = async (name, keys) => {
      linked = keys;
      return ctx.destinationSpec(name);
    };
    const objects = (instances: string[]) => [`web/${id}/manifest.json.age`, ...instances.map((i) => `web/${id}/${i}/${i}.tar.age`)];

    await snapshotJob(ctx, { from: "web", snapshot: id }, "restore");
    expect(linked.sort()).toEqual([...objects(["db", "files", "media"]), a.key, b.key, c.key].sort());
    await snapshotJob(ctx, { from: "web", snapshot: id, plugins: ["media"] }, "verify");
    expect(linked.sort()).toEqual([...objects(["media"]), b.key, c.key].sort());
    await snapshotJob(ctx, { from: "web", snapshot: id, plugins: ["db"], on: "api" }, "verify");
    expect(linked.sort()).toEqual(objects(["db"]).sort());
  });
});
