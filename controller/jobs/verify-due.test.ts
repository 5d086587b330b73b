// Verification rotation over a real ledger file and a real inventory: what is due, in which
// order, on which snapshot; and that a rotation run daily keeps every plugin instance of every
// host verified within verifyEvery.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { backUp, inventoryYaml, ledgerFixture, verifiedAt, verifyDeep } from "../../test/harness/ledger-rows";
import { dueVerifications } from "./verify-due";

const DAY = 86_400_000;
const files = { paths: ["/srv/data"] };
const db = { plugin: "sqlite", databases: ["/srv/app.db"] };
const both = [{ instance: "files" }, { instance: "db", plugin: "sqlite" }];

describe("verification rotation: what is due", () => {
  let fx: ReturnType<typeof ledgerFixture>;
  beforeEach(() => {
    fx = ledgerFixture(inventoryYaml({ web: { plugins: { files, db } }, api: { plugins: { files } }, spare: {} }, { verifyEvery: "7d" }));
  });
  afterEach(() => fx.cleanup());
  const due = (now = new Date(), options = {}) => dueVerifications({ inventory: fx.inventory(), ledger: fx.ledger }, now, options);

  it("every plugin instance never verified is due, on the newest complete snapshot; a restore target and a host with nothing stored are not", () => {
    backUp(fx.ledger, "web", both);
    const newest = backUp(fx.ledger, "web", both);
    backUp(fx.ledger, "web", both, "failed");
    expect(due()).toEqual([{ host: "web", instances: ["files", "db"], snapshotId: newest, oldestVerified: null, notInSnapshot: [] }]);
  });

  it("an instance verified within verifyEvery is not due; it is once verifyEvery has passed, and a failed check leaves it due", () => {
    const id = backUp(fx.ledger, "web", both);
    verifyDeep(fx.ledger, "web", id, { files: "ok", db: "failed" });
    expect(due().map((d) => [d.host, d.instances])).toEqual([["web", ["db"]]]);
    verifyDeep(fx.ledger, "web", id, { db: "ok" });
    expect(due()).toEqual([]);
    expect(due(new Date(Date.now() + 6 * DAY))).toEqual([]);
    expect(due(new Date(Date.now() + 7 * DAY + 1000)).map((d) => [d.host, d.instances])).toEqual([["web", ["files", "db"]]]);
    // --ahead: what falls due within a day counts now.
    expect(due(new Date(Date.now() + 6 * DAY + 1000), { aheadMs: DAY }).map((d) => d.instances)).toEqual([["files", "db"]]);
  });

  it("orders hosts by their oldest verification: never verified first, then the longest ago", () => {
    const now = Date.now();
    fx.writeInventory(inventoryYaml({ a: { plugins: { files } }, b: { plugins: { files } }, c: { plugins: { files, db } }, d: { plugins: { files } } }, { verifyEvery: "7d" }));
    const ids = Object.fromEntries(["a", "b", "c", "d"].map((h) => [h, backUp(fx.ledger, h, h === "c" ? both : [{ instance: "files" }])]));
    verifiedAt(fx.ledgerFile, "a", ids.a!, ["files"], new Date(now - 8 * DAY));
    verifiedAt(fx.ledgerFile, "b", ids.b!, ["files"], new Date(now - 10 * DAY));
    verifiedAt(fx.ledgerFile, "c", ids.c!, ["files"], new Date(now - 1 * DAY));
    expect(due(new Date(now)).map((d) => [d.host, d.instances, d.oldestVerified])).toEqual([
      ["c", ["db"], null],
      ["d", ["files"], null],
      ["b", ["files"], new Date(now - 10 * DAY).toISOString()],
      ["a", ["files"], new Date(now - 8 * DAY).toISOString()],
    ]);
  });

  it("verifies due instances on the newest snapshot that holds them all, not on a newer partial one", () => {
    const full = backUp(fx.ledger, "web", both);
    const partial = backUp(fx.ledger, "web", [{ instance: "files" }]);
    expect(due()[0]).toMatchObject({ instances: ["files", "db"], snapshotId: full });
    verifyDeep(fx.ledger, "web", full, { db: "ok" });
    expect(due()[0]).toMatchObject({ instances: ["files"], snapshotId: partial });
  });

  it("a plugin instance not yet in any snapshot stays due without blocking the others", () => {
    fx.writeInventory(inventoryYaml({ web: { plugins: { files, db, media: { plugin: "files", paths: ["/srv/media"] } } } }));
    const id = backUp(fx.ledger, "web", both);
    expect(due()).toEqual([{ host: "web", instances: ["files", "db"], snapshotId: id, oldestVerified: null, notInSnapshot: ["media"] }]);
    verifyDeep(fx.ledger, "web", id, { files: "ok", db: "ok" });
    expect(due()).toEqual([]);
  });

  it("run daily with --ahead 1d, the rotation keeps every instance of every host verified within verifyEvery, one job per host", () => {
    const hosts = Object.fromEntries(["h1", "h2", "h3", "h4", "h5"].map((h) => [h, { plugins: { files, db } }]));
    fx.writeInventory(inventoryYaml(hosts, { verifyEvery: "7d" }));
    const snapshots = Object.fromEntries(Object.keys(hosts).map((h) => [h, backUp(fx.ledger, h, both)]));
    const start = Date.now();
    const last = new Map<string, number>();
    let jobs = 0;
    for (let day = 0; day < 60; day++) {
      // Daily, at a time that drifts by up to a few hours.
      const now = start + day * DAY + ((day * 7919) % 5) * 3_600_000 - 2 * 3_600_000;
      for (const [key, t] of last) expect(now - t, `${key} on day ${day}`).toBeLessThanOrEqual(7 * DAY);
      for (const entry of due(new Date(now), { aheadMs: DAY + 3 * 3_600_000 })) {
        expect(entry.snapshotId).toBe(snapshots[entry.host]);
        verifiedAt(fx.ledgerFile, entry.host, entry.snapshotId, entry.instances, new Date(now));
        for (const i of entry.instances) last.set(`${entry.host}/${i}`, now);
        jobs++;
      }
      expect(due(new Date(now), { aheadMs: 0 })).toEqual([]);
    }
    expect(last.size).toBe(10);
    // Roughly one verification per host per 6-7 days, not every day.
    expect(jobs).toBeGreaterThanOrEqual(5 * 8);
    expect(jobs).toBeLessThanOrEqual(5 * 11);
  });
});
