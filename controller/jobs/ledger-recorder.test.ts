// What a compromised agent could claim in its events, against the real recorder and a real ledger:
// objects reported under keys the storage layout does not prescribe are refused and never recorded.
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { AgentEvent } from "../../core/events";
import { Ledger } from "../ledger/ledger";
import { recordAgentEvent, type JobIds } from "./ledger-recorder";

describe("recording a backup's events", () => {
  let dir: string;
  let ledger: Ledger;
  const blobKey = crypto.randomBytes(32).toString("base64");
  const ids: JobIds = { runId: "run-1", jobId: "job-1", host: "alpha", snapshotId: "20261130T000000Z-abcd", kind: "backup", blobKey, destination: "s3", blobRecipient: "age1blobarea" };
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
