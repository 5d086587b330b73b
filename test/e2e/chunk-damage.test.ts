// A chunk lost or altered in storage, end to end (real sshd host, the real agent, s3rver behind the
// enforcing front): a verification names the artifact and the chunk, the controller marks the chunk
// damaged (and the snapshot), and the next backup, which may not reference it, stores that chunk
// again and nothing else; the new snapshot restores byte for byte. Once through
// `verify --level stored` on the controller (a deleted chunk), once through a deep verification on
// the host, whose agent names the chunk in its error event (a chunk replaced by another valid age file).
import * as crypto from "node:crypto";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chunkAlternateKey, chunkNameOf, chunkObjectKey } from "../../core/storage-layout";
import { chunkRows, snapshotChunkKeys } from "../harness/chunk-rows";
import { startFleet, type Fleet } from "../harness/fleet";
import { listTree } from "../harness/tree";
import { deleteStored, listStored, readStored, writeStored } from "./stored-object";

interface SnapshotJson {
  id: string;
  damage: string | null;
  artifacts: { instance: string; compression: string; plainSize: number; chunks?: { count: number; uploaded: number; uploadedBytes: number; reusedBytes: number } }[];
}

describe("a missing or altered chunk is found, marked damaged, and stored again by the next backup", () => {
  let fleet: Fleet;
  let data: string;

  async function snapshots(): Promise<SnapshotJson[]> {
    const result = await fleet.controller(["snapshots", "--host", "alpha", "--json"]);
    expect(result.code, result.stderr).toBe(0);
    return (JSON.parse(result.stdout) as { snapshots: SnapshotJson[] }).snapshots;
  }
  async function backUp(): Promise<SnapshotJson> {
    const run = await fleet.controller(["run", "--host", "alpha"]);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    return (await snapshots())[0]!;
  }
  const row = (key: string) => chunkRows(fleet.state, "alpha").find((r) => r.objectKey === key);
  /** Restores `id` into a new directory on the host and compares it with the data as it is. */
  async function restoresAsIs(id: string): Promise<void> {
    const into = path.join(fleet.hosts.alpha!.home, `restored-${id}`);
    const restore = await fleet.controller(["restore", "--from", "alpha", "--snapshot", id, "--into", into, "--yes"]);
    expect(restore.code, restore.stdout + restore.stderr).toBe(0);
    expect(listTree(path.join(into, "files", path.basename(data)))).toEqual(listTree(data));
  }

  beforeAll(async () => {
    fleet = await startFleet(["alpha"]);
    data = path.join(fleet.hosts.alpha!.home, "data");
    fs.mkdirSync(data);
    for (let f = 0; f < 4; f++) fs.writeFileSync(path.join(data, `file-${f}.bin`), crypto.randomBytes(1536 * 1024));
    execFileSync("chown", ["-R", `${fleet.hosts.alpha!.user}:${fleet.hosts.alpha!.user}`, data]);
    expect((await fleet.controller(["init"])).code).toBe(0);
    fleet.writeInventory({ alpha: { destination: "s3", plugins: { files: { paths: [data] } } } });
  }, 300_000);

  afterAll(async () => {
    await fleet?.stop();
  });

  it("verify --level stored names the artifact and the deleted chunk; the next backup uploads exactly that chunk again", async () => {
    const s1 = await backUp();
    const s2 = await backUp();
    expect(s2.artifacts[0]!.chunks).toMatchObject({ uploaded: 0 });
    const [lost] = snapshotChunkKeys(fleet.state, "alpha", [s1.id]);
    await deleteStored(fleet, "s3", lost!);

    // The older snapshot is checked (as verification rotation would): the newest stays the parent of the next backup.
    const verify = await fleet.controller(["verify", "--host", "alpha", "--snapshot", s1.id, "--level", "stored"]);
    expect(verify.code).toBe(1);
    expect(verify.stdout + verify.stderr).toContain(`Cannot read artifact files/files.tar (chunk`);
    expect(verify.stdout + verify.stderr).toContain(`its chunk "${lost}" is missing from storage`);
    expect(row(lost!)!.damage).toMatch(/is missing from storage/);
    expect((await snapshots()).find((s) => s.id === s1.id)!.damage).toMatch(/is missing from storage/);

    const s3 = await backUp();
    // Only the damaged chunk is stored again (every other one referenced); its keyed name was free again.
    expect(s3.artifacts[0]!.chunks).toMatchObject({ uploaded: 1 });
    expect(row(lost!)).toMatchObject({ damage: null, snapshotId: s3.id });
    expect(await listStored(fleet, "s3", "alpha/chunks/")).toContain(lost);
    expect(snapshotChunkKeys(fleet.state, "alpha", [s3.id])).toContain(lost);
    await restoresAsIs(s3.id);
  });

  it("a deep verification on the host names the altered chunk in its error event; the next backup stores it under the snapshot's own name", async () => {
    const [s3] = await snapshots();
    const s4 = await backUp();
    expect(s4.artifacts[0]!.chunks).toMatchObject({ uploaded: 0 });
    // Replaced by another chunk of the host: a valid age file for the host's key, with another stored hash.
    const keys = snapshotChunkKeys(fleet.state, "alpha", [s3!.id]);
    const [altered, other] = keys;
    await writeStored(fleet, "s3", altered!, await readStored(fleet, "s3", other!));

    const verify = await fleet.controller(["verify", "--host", "alpha", "--snapshot", s3!.id]);
    expect(verify.code).toBe(1);
    expect(verify.stdout + verify.stderr).toContain(`chunk "${altered}"`);
    expect(row(altered!)!.damage).toContain(altered);
    expect((await snapshots()).find((s) => s.id === s3!.id)!.damage).toContain(altered);

    const s5 = await backUp();
    expect(s5.artifacts[0]!.chunks).toMatchObject({ uploaded: 1 });
    // The keyed name holds the altered object (never overwritten): the chunk went to the snapshot's own name.
    const name = chunkNameOf("alpha", altered!)!;
    expect(altered).toBe(chunkObjectKey("alpha", name));
    const own = chunkAlternateKey("alpha", name, s5.id);
    expect(row(own)).toMatchObject({ name, damage: null, snapshotId: s5.id });
    expect(row(altered!)!.damage).not.toBeNull();
    const s5Keys = snapshotChunkKeys(fleet.state, "alpha", [s5.id]);
    expect(s5Keys).toContain(own);
    expect(s5Keys).not.toContain(altered);
    await restoresAsIs(s5.id);
  });
});
