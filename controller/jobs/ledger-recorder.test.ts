// What a compromised agent could claim in its events, against the real recorder and a real ledger:
// objects reported under keys the storage layout does not prescribe are refused and never recorded,
// and so are chunk references to chunks the ledger does not let this host's backup reference.
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { AgentEvent } from "../../core/events";
import { chunkObjectKey } from "../../core/storage-layout";
import { Ledger } from "../ledger/ledger";
import { recordAgentEvent, type JobIds } from "./ledger-recorder";

const artifact = (key: string, metadata: Record<string, unknown> = {}): AgentEvent => ({
  type: "artifact",
  plugin: "files",
  instance: "files",
  name: "files.tar",
  key,
  plainSize: 10,
  storedSize: 12,
  sha256: "ab".repeat(32),
  compression: "zstd",
  metadata,
});

describe("recording a backup's events", () => {
  let dir: string;
  let ledger: Ledger;
  const blobKey = crypto.randomBytes(32).toString("base64");
  const ids: JobIds = { runId: "run-1", jobId: "job-1", host: "alpha", snapshotId: "20261130T000000Z-abcd", kind: "backup", blobKey, destination: "s3", blobRecipient: "age1blobarea" };
  const blobName = (digest: string) => `blobs/v2/${crypto.createHmac("sha256", Buffer.from(blobKey, "base64")).update(digest).digest("hex")}.age`;
  const recorded = () => ledger.listSnapshots({ host: "alpha" })[0]!.artifacts;

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "lifeboat-recorder-"));
    ledger = Ledger.open(path.join(dir, "ledger.db"));
    const runId = ledger.startRun({ kind: "backup", trigger: "test", hosts: ["alpha"] });
    ids.runId = runId;
    ledger.startJob({ runId, jobId: ids.jobId, host: "alpha", kind: "backup", snapshotId: ids.snapshotId });
    ledger.startSnapshot({ host: "alpha", snapshotId: ids.snapshotId, jobId: ids.jobId, destination: "s3", destinationDescription: "s3 test" });
  });
  afterEach(() => {
    ledger.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("records an artifact stored where the layout says", () => {
    recordAgentEvent(ledger, ids, artifact(`alpha/${ids.snapshotId}/files/files.tar.age`));
    expect(recorded().map((a) => a.key)).toEqual([`alpha/${ids.snapshotId}/files/files.tar.age`]);
  });

  it("refuses an artifact reported under another host's key, or another snapshot's, and records nothing", () => {
    for (const key of [`beta/${ids.snapshotId}/files/files.tar.age`, "alpha/20200101T000000Z-0000/files/files.tar.age", `alpha/${ids.snapshotId}/files/../../x.age`]) {
      expect(() => recordAgentEvent(ledger, ids, artifact(key))).toThrow(expect.objectContaining({ code: "INTEGRITY", message: expect.stringContaining(`is stored as "${key}", not as "alpha/${ids.snapshotId}/files/files.tar.age"`) }));
    }
    expect(recorded()).toEqual([]);
  });

  const stored = { sha256: "12".repeat(32), size: 40 };

  it("refuses a blob reference that is not the blob area's keyed name for its digest", () => {
    const digest = `sha256:${"cd".repeat(32)}`;
    const good = { digest, size: 5, key: blobName(digest), stored };
    recordAgentEvent(ledger, ids, artifact(`alpha/${ids.snapshotId}/files/files.tar.age`, { blobs: [good] }));
    const planted = { digest, size: 5, key: blobName(`sha256:${"ef".repeat(32)}`), stored };
    expect(() => recordAgentEvent(ledger, ids, artifact(`alpha/${ids.snapshotId}/files/files.tar.age`, { blobs: [good, planted] }))).toThrow(expect.objectContaining({ code: "INTEGRITY", message: expect.stringContaining(`blob ${digest}`) }));
    expect(recorded()[0]!.metadata).toEqual({ blobs: [good] });
  });

  it("records the blobs a job uploaded for checking, and refuses a reference to a blob the ledger does not know", () => {
    const digest = `sha256:${"cd".repeat(32)}`;
    const alternate = { digest, size: 5, key: blobName(digest).replace(/\.age$/, `.${ids.snapshotId}.age`), stored };
    recordAgentEvent(ledger, ids, artifact(`alpha/${ids.snapshotId}/files/files.tar.age`, { blobs: [alternate] }));
    expect(ledger.blobs.get("s3", alternate.key)).toMatchObject({ digest, sha256: stored.sha256, recipient: "age1blobarea", checkedAt: null });
    // Not offered to later backups until the controller has read it through.
    expect(ledger.blobs.known("s3", "age1blobarea")).toEqual({});
    ledger.blobs.checked("s3", alternate.key);
    expect(Object.values(ledger.blobs.known("s3", "age1blobarea"))).toEqual([alternate.key]);

    // A reference without upload (no stored hash) must name a blob the ledger knows, under that name.
    const other = `sha256:${"ef".repeat(32)}`;
    for (const ref of [{ digest: other, size: 5, key: blobName(other) }, { digest: other, size: 5, key: alternate.key }]) {
      expect(() => recordAgentEvent(ledger, ids, artifact(`alpha/${ids.snapshotId}/files/files.tar.age`, { blobs: [ref] }))).toThrow(expect.objectContaining({ code: "INTEGRITY" }));
    }
    recordAgentEvent(ledger, ids, artifact(`alpha/${ids.snapshotId}/files/files.tar.age`, { blobs: [{ digest, size: 5, key: alternate.key }] }));
    // A report cannot take over a blob the ledger holds: its record (host, hash, recipient, check) stays.
    const claimed = { ...alternate, stored: { sha256: "ee".repeat(32), size: 99 } };
    recordAgentEvent(ledger, { ...ids, host: "alpha", blobRecipient: "age1other" }, artifact(`alpha/${ids.snapshotId}/files/files.tar.age`, { blobs: [claimed] }));
    expect(ledger.blobs.get("s3", alternate.key)).toMatchObject({ sha256: stored.sha256, storedSize: stored.size, recipient: "age1blobarea", checkedAt: expect.any(String), damage: null });
    // Another snapshot's name for a new upload is refused.
    const foreign = { digest, size: 5, key: blobName(digest).replace(/\.age$/, ".20200101T000000Z-0000.age"), stored };
    expect(() => recordAgentEvent(ledger, ids, artifact(`alpha/${ids.snapshotId}/files/files.tar.age`, { blobs: [foreign] }))).toThrow(expect.objectContaining({ code: "INTEGRITY" }));
  });

  it("refuses a manifest reported under another key, and the snapshot stays incomplete", () => {
    const done = (manifestKey: string): AgentEvent => ({ type: "done", status: "ok", durationMs: 1, snapshotId: ids.snapshotId, manifestKey, manifestSha256: "ab".repeat(32), manifestStoredSize: 100 });
    expect(() => recordAgentEvent(ledger, ids, done(`beta/${ids.snapshotId}/manifest.json.age`))).toThrow(expect.objectContaining({ code: "INTEGRITY" }));
    expect(ledger.listSnapshots({ host: "alpha" })[0]!.status).toBe("incomplete");
    recordAgentEvent(ledger, ids, done(`alpha/${ids.snapshotId}/manifest.json.age`));
    expect(ledger.listSnapshots({ host: "alpha" })[0]!.status).toBe("complete");
  });
});

describe("recording a backup's chunks", () => {
  let dir: string;
  let ledger: Ledger;
  const snapshotId = "20261201T000000Z-abcd";
  const ids: JobIds = { runId: "run-1", jobId: "job-1", host: "alpha", snapshotId, kind: "backup", destination: "s3", hostRecipient: "age1alpha" };
  const nameOf = (label: string) => crypto.createHash("sha256").update(label).digest("hex");
  const upload = (label: string, host = "alpha") => ({ name: nameOf(label), key: chunkObjectKey(host, nameOf(label)), size: 1 << 20, stored: { sha256: nameOf(`stored ${label}`), size: (1 << 20) + 100 } });
  const chunks = (uploaded: unknown[], refs: unknown[], instance = "files"): AgentEvent => ({ type: "chunks", plugin: instance, artifact: "files.tar", uploaded, refs }) as AgentEvent;
  /** Starts a backup job and its snapshot as `controller run` does. */
  const begin = (job: JobIds, recipient: string) => {
    const runId = ledger.startRun({ kind: "backup", trigger: "test", hosts: [job.host] });
    ledger.startJob({ runId, jobId: job.jobId, host: job.host, kind: "backup", snapshotId: job.snapshotId });
    ledger.startSnapshot({ host: job.host, snapshotId: job.snapshotId, jobId: job.jobId, destination: job.destination!, destinationDescription: "test", recipient });
    return { ...job, runId, hostRecipient: recipient };
  };
  /** Another backup that stored `uploads` (of its host) and referenced them. */
  const earlier = (n: number, uploads: ReturnType<typeof upload>[], over: Partial<JobIds> = {}) => {
    const job = begin({ ...ids, jobId: `job-earlier-${n}`, snapshotId: `20261101T00000${n}Z-0000`, ...over }, over.hostRecipient ?? "age1alpha");
    recordAgentEvent(ledger, job, chunks(uploads, uploads.map((u) => u.name)));
  };
  const refusal = (message: string) => expect.objectContaining({ code: "INTEGRITY", message: expect.stringContaining(message) });
  const chunkIds = () => ledger.chunks.snapshotChunkIds("alpha", snapshotId);

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "lifeboat-recorder-chunks-"));
    ledger = Ledger.open(path.join(dir, "ledger.db"));
    Object.assign(ids, begin(ids, "age1alpha"));
  });
  afterEach(() => {
    ledger.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("records the chunks a job uploaded and each event's references as a set of the snapshot; a complete snapshot keeps one set per instance", () => {
    const [a, b, c] = [upload("a"), upload("b"), upload("c")];
    earlier(1, [c]);
    recordAgentEvent(ledger, ids, chunks([a], [a.name, c.name]));
    recordAgentEvent(ledger, ids, chunks([b], [b.name, a.name]));
    recordAgentEvent(ledger, ids, chunks([], [c.name], "db"));
    expect(ledger.chunks.get("s3", a.key)).toMatchObject({ host: "alpha", name: a.name, size: a.size, sha256: a.stored.sha256, storedSize: a.stored.size, recipient: "age1alpha", snapshotId, damage: null });
    const id = (u: { key: string }) => ledger.chunks.get("s3", u.key)!.id;
    expect(chunkIds()).toEqual([id(a), id(b), id(c)].sort((x, y) => x - y));
    expect(ledger.chunks.snapshotChunkIds("alpha", snapshotId, ["db"])).toEqual([id(c)]);

    recordAgentEvent(ledger, ids, { type: "done", status: "ok", durationMs: 1, snapshotId, manifestKey: `alpha/${snapshotId}/manifest.json.age`, manifestSha256: "ab".repeat(32), manifestStoredSize: 100 });
    expect(chunkIds()).toEqual([id(a), id(b), id(c)].sort((x, y) => x - y));
    expect(ledger.chunks.snapshotChunkKeys("alpha", snapshotId, ["files"]).sort()).toEqual([a.key, b.key, c.key].sort());
  });

  it("refuses an uploaded chunk stored under another key than the layout's for its name, and records nothing of the event", () => {
    const a = upload("a");
    const other = nameOf("other");
    for (const key of [chunkObjectKey("beta", a.name), chunkObjectKey("alpha", other), `alpha/chunks/ff/${a.name}.age`, `alpha/${snapshotId}/files/${a.name}.age`, `beta/../alpha/chunks/${a.name.slice(0, 2)}/${a.name}.age`]) {
      expect(() => recordAgentEvent(ledger, ids, chunks([upload("ok"), { ...a, key }], [a.name]))).toThrow(refusal(`chunk ${a.name} is stored as "${key}", not as "${a.key}"`));
    }
    expect(ledger.chunks.get("s3", upload("ok").key)).toBeUndefined();
    expect(chunkIds()).toEqual([]);
  });

  it("refuses a chunk whose name is not 64 lowercase hex digits, or whose sizes or stored hash are malformed", () => {
    const a = upload("a");
    for (const name of [a.name.toUpperCase(), a.name.slice(1), `${a.name}0`, "../x", 7, undefined]) {
      expect(() => recordAgentEvent(ledger, ids, chunks([{ ...a, name }], []))).toThrow(refusal("not by 64 lowercase hex digits"));
    }
    for (const bad of [{ size: -1 }, { size: 1.5 }, { size: "1" }, { stored: { sha256: "AB".repeat(32), size: 1 } }, { stored: { sha256: "ab".repeat(31), size: 1 } }, { stored: { sha256: a.stored.sha256, size: -5 } }, { stored: { sha256: a.stored.sha256 } }, { stored: null }]) {
      expect(() => recordAgentEvent(ledger, ids, chunks([{ ...a, ...bad }], [a.name]))).toThrow(refusal("malformed size or stored hash"));
    }
    for (const ref of [a.name.toUpperCase(), "", null]) expect(() => recordAgentEvent(ledger, ids, chunks([a], [a.name, ref]))).toThrow(refusal("not by 64 lowercase hex digits"));
    expect(() => recordAgentEvent(ledger, ids, { type: "chunks", plugin: "files", artifact: "files.tar", uploaded: a, refs: [] } as unknown as AgentEvent)).toThrow(refusal("not a plugin instance with lists"));
    expect(ledger.chunks.get("s3", a.key)).toBeUndefined();
  });

  it("refuses a reference to a chunk not uploaded by the job unless the ledger has it for this host and destination, undamaged, encrypted to the snapshot's host key", () => {
    const [own, damaged, foreign, elsewhere, retired] = [upload("own"), upload("damaged"), upload("foreign", "beta"), upload("elsewhere"), upload("retired")];
    earlier(1, [own, damaged]);
    earlier(2, [foreign], { host: "beta" });
    earlier(3, [elsewhere], { destination: "usb" });
    earlier(4, [retired], { hostRecipient: "age1retired" });
    ledger.chunks.markDamaged("s3", damaged.key, "missing in storage");
    const fresh = upload("fresh");
    for (const bad of [damaged, foreign, elsewhere, retired, upload("never stored")]) {
      // The name alone is what an agent references: another host's chunk under this host's key is just as unknown.
      expect(() => recordAgentEvent(ledger, ids, chunks([fresh], [fresh.name, own.name, bad.name]))).toThrow(refusal(`reference 1 chunk(s) (${bad.name}) that it did not upload`));
    }
    expect(ledger.chunks.get("s3", fresh.key)).toBeUndefined();
    expect(chunkIds()).toEqual([]);
    // Uploaded again by this job, the damaged chunk may be referenced (it is no longer damaged).
    recordAgentEvent(ledger, ids, chunks([fresh, damaged], [fresh.name, own.name, damaged.name]));
    expect(chunkIds()).toHaveLength(3);
    expect(ledger.chunks.get("s3", damaged.key)).toMatchObject({ damage: null, snapshotId });
  });

  it("refuses chunks of a job that was given no chunking (no destination or host recipient), and ignores them outside backups", () => {
    const a = upload("a");
    const { hostRecipient: _r, ...without } = ids;
    expect(() => recordAgentEvent(ledger, without, chunks([a], [a.name]))).toThrow(refusal("the job stores no chunks"));
    recordAgentEvent(ledger, { ...ids, kind: "verify" }, chunks([a], [a.name]));
    expect(ledger.chunks.get("s3", a.key)).toBeUndefined();
  });

  it("stores the chunk counts of a chunked artifact and reads them back; a single-object artifact has none; malformed counts are refused", () => {
    const stats = { count: 3, uploaded: 1, uploadedBytes: 1000, reusedBytes: 2000 };
    const chunked = (extra: Record<string, unknown>): AgentEvent => ({ ...artifact(`alpha/${snapshotId}/files/files.tar.age`), compression: "chunked", ...extra }) as AgentEvent;
    recordAgentEvent(ledger, ids, chunked({ chunks: { ...stats, extra: "dropped" } }));
    recordAgentEvent(ledger, ids, { ...artifact(`alpha/${snapshotId}/db/db.sqlite.age`), instance: "db", plugin: "sqlite", name: "db.sqlite", chunks: stats } as AgentEvent);
    const [db, files] = ledger.listSnapshots({ host: "alpha" }).find((s) => s.id === snapshotId)!.artifacts;
    expect(files).toMatchObject({ compression: "chunked", chunks: stats });
    expect(files!.chunks).toEqual(stats);
    expect(db).not.toHaveProperty("chunks");
    expect(ledger.operations.artifactsOf("alpha", snapshotId, ["files"])[0]!.chunks).toEqual(stats);
    for (const bad of [{ ...stats, count: -1 }, { ...stats, reusedBytes: "2000" }, { count: 3 }, null]) {
      expect(() => recordAgentEvent(ledger, ids, chunked({ chunks: bad }))).toThrow(refusal("chunk counts of artifact files/files.tar"));
    }
  });
});
