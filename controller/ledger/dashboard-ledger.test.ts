// The snapshot sizes the dashboard sums: kept by the ledger's triggers as artifacts are recorded,
// replaced or deleted, and filled in for snapshots recorded before the migration that added them.
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { artifactOf, backUp, inventoryYaml, ledgerFixture } from "../../test/harness/ledger-rows";
import { MIGRATIONS } from "./migrations";
import { Ledger } from "./ledger";

const fixtures: ReturnType<typeof ledgerFixture>[] = [];
afterEach(() => {
  for (const f of fixtures.splice(0)) f.cleanup();
});

describe("the dashboard's snapshot sizes", () => {
  it("follow the artifacts: a recorded one adds, the same one recorded again counts once, a chunked one counts its uploaded chunks", () => {
    const f = ledgerFixture(inventoryYaml({ web: {} }));
    fixtures.push(f);
    const id = backUp(f.ledger, "web", [{ instance: "files" }, { instance: "db", plugin: "sqlite" }]);
    const row = () => f.ledger.dashboard.snapshotRows("web")[0]!;
    expect(row()).toMatchObject({ id, artifacts: 2, plainBytes: 200, storedBytes: 100, reusedBytes: 0 });
    f.ledger.recordArtifact("web", id, artifactOf("web", id, "files"));
    expect(row()).toMatchObject({ artifacts: 2, plainBytes: 200, storedBytes: 100 });
    f.ledger.recordArtifact("web", id, { ...artifactOf("web", id, "models", "ollama"), plainSize: 5000, storedSize: 10, compression: "chunked", chunks: { count: 3, uploaded: 1, uploadedBytes: 700, reusedBytes: 4000 } });
    expect(row()).toMatchObject({ artifacts: 3, plainBytes: 5200, storedBytes: 810, reusedBytes: 4000 });
    expect(f.ledger.dashboard.storedTotals()).toEqual([{ host: "web", destination: "local", snapshots: 1, plainBytes: 5200, storedBytes: 810, reusedBytes: 4000 }]);
    expect(f.ledger.snapshot("web", id)!.storedSize).toBe(810);
  });

  it("are filled in for snapshots a ledger recorded before the sizes existed", () => {
    const f = ledgerFixture(inventoryYaml({ web: {} }));
    fixtures.push(f);
    const id = backUp(f.ledger, "web", [{ instance: "files" }, { instance: "db", plugin: "sqlite" }]);
    f.ledger.close();
    // Back to the schema before the sizes, with the rows as they were.
    const db = new Database(f.ledgerFile);
    db.exec("DROP TRIGGER artifacts_sizes_after_insert; DROP TRIGGER artifacts_sizes_after_delete; DROP INDEX snapshots_sizes; UPDATE snapshots SET plain_bytes = 0, stored_bytes = 0, artifact_count = 0");
    db.exec("ALTER TABLE snapshots DROP COLUMN plain_bytes; ALTER TABLE snapshots DROP COLUMN stored_bytes; ALTER TABLE snapshots DROP COLUMN reused_bytes; ALTER TABLE snapshots DROP COLUMN artifact_count");
    db.exec("DROP TABLE job_instances");
    db.pragma(`user_version = ${MIGRATIONS.findIndex((m) => m.includes("ADD COLUMN plain_bytes"))}`);
    db.close();
    const ledger = Ledger.open(f.ledgerFile);
    try {
      expect(ledger.dashboard.snapshotRows("web")[0]).toMatchObject({ id, artifacts: 2, plainBytes: 200, storedBytes: 100 });
    } finally {
      ledger.close();
    }
  });
});
