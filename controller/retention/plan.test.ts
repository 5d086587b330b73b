// The retention plan against the real restic (0.14, Debian 12's; installed by scripts/setup.sh):
// the same snapshot times in a throwaway restic repository, `restic forget --dry-run --json` with
// the same keep flags in UTC, and the plan must keep exactly what restic keeps, for the same rules
// with the same counters. Then Lifeboat's own guarantees on top.
import { execFile, execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RetentionPolicy } from "../../inventory/operations";
import { isoWeekKey, NEWEST, NEWEST_VERIFIED, NO_RULE, planRetention, type PlanSnapshot } from "./plan";

const run = promisify(execFile);

/** A small deterministic PRNG (mulberry32), so that the spread of times is the same on every run. */
function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * ~90 snapshot times over two years: irregular days with gaps of weeks (periods
 * without snapshots must not count), several snapshots on some days and in some
 * hours, and runs across New Year (ISO weeks 52/53/1 belong to neighbouring years).
 */
function snapshotTimes(): Date[] {
  const random = prng(20240229);
  const times = new Set<number>();
  let t = Date.UTC(2022, 10, 3, 1, 17, 5);
  const end = Date.UTC(2024, 10, 1);
  while (t < end && times.size < 70) {
    times.add(t);
    const gap = random() < 0.15 ? 9 + Math.floor(random() * 40) : random() < 0.5 ? 1 : 2 + Math.floor(random() * 4); // days
    t += gap * 86_400_000 + Math.floor((random() - 0.5) * 6 * 3600) * 1000 + Math.floor(random() * 3600) * 1000;
  }
  // Around the turns of the year, one a day.
  for (const start of [Date.UTC(2022, 11, 27, 22, 45, 1), Date.UTC(2023, 11, 29, 23, 59, 58)]) for (let d = 0; d < 7; d++) times.add(start + d * 86_400_000 + d * 1000);
  // A busy day: several in the same hours, some in the next.
  for (const [h, m, s] of [[14, 0, 0], [14, 20, 10], [14, 59, 59], [15, 0, 0], [15, 30, 0], [16, 5, 0], [18, 45, 30]] as const) times.add(Date.UTC(2024, 9, 14, h, m, s));
  return [...times].sort((a, b) => a - b).map((ms) => new Date(ms));
}

/** `2024-10-14 14:20:10`, as `restic backup --time` reads it (in TZ=UTC). */
const resticTime = (d: Date) => d.toISOString().replace("T", " ").replace(/\.\d+Z$/, "");

interface ResticGroup {
  keep: { time: string; id: string }[] | null;
  remove: { time: string; id: string }[] | null;
  reasons: { snapshot: { time: string }; matches: string[]; counters: Record<string, number> }[] | null;
}

describe("the retention plan agrees with restic forget (restic 0.14, UTC)", () => {
  let dir: string;
  const env = () => ({ ...process.env, RESTIC_REPOSITORY: path.join(dir, "repo"), RESTIC_PASSWORD: "lifeboat-test", RESTIC_CACHE_DIR: path.join(dir, "cache"), TZ: "UTC" });
  const times = snapshotTimes();
  const snapshots: PlanSnapshot[] = times.map((t, i) => ({ id: `s${String(i).padStart(3, "0")}`, time: t.toISOString(), damage: null, verified: false }));
  const idByTime = new Map(snapshots.map((s) => [Date.parse(s.time), s.id]));

  beforeAll(async () => {
    try {
      execFileSync("restic", ["version"], { encoding: "utf8" });
    } catch (err) {
      throw new Error(`restic is needed to check the retention plan and is not installed (${(err as Error).message}): run scripts/setup.sh (it installs the Debian package restic)`);
    }
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "lifeboat-restic-"));
    const data = path.join(dir, "data");
    fs.mkdirSync(data);
    fs.writeFileSync(path.join(data, "file.txt"), "retention\n");
    await run("restic", ["init", "--quiet"], { env: env() });
    // restic allows concurrent backups (non-exclusive locks); four at a time keeps this under half a minute.
    const queue = [...times];
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        for (let t = queue.shift(); t; t = queue.shift()) await run("restic", ["backup", "--quiet", "--host", "h", "--time", resticTime(t), data], { env: env() });
      }),
    );
  }, 300_000);

  afterAll(() => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  async function resticForget(flags: string[]): Promise<ResticGroup> {
    const { stdout } = await run("restic", ["forget", "--dry-run", "--json", "--host", "h", ...flags], { env: env(), maxBuffer: 64 << 20 });
    const groups = JSON.parse(stdout) as ResticGroup[];
    expect(groups).toHaveLength(1);
    return groups[0]!;
  }

  /** restic's `matches` and `counters` as the plan words them: `daily snapshot` with 27 daily left of 30 → `daily 3/30`. */
  function resticReasons(group: ResticGroup, policy: RetentionPolicy): Map<string, string[]> {
    const totals: Record<string, number | undefined> = { last: policy.keepLast, hourly: policy.keepHourly, daily: policy.keepDaily, weekly: policy.keepWeekly, monthly: policy.keepMonthly, yearly: policy.keepYearly };
    const out = new Map<string, string[]>();
    for (const r of group.reasons ?? []) {
      const id = idByTime.get(Date.parse(r.snapshot.time))!;
      out.set(
        id,
        r.matches.map((m) => {
          const counted = /^(last|hourly|daily|weekly|monthly|yearly) snapshot$/.exec(m);
          if (!counted) return m;
          const total = totals[counted[1]!]!;
          return `${counted[1]} ${total - (r.counters[counted[1]!] ?? 0)}/${total}`;
        }),
      );
    }
    return out;
  }

  const cases: [string, RetentionPolicy, string[]][] = [
    ["the runbook's GFS: 30 daily, 12 monthly, 7 yearly", { keepDaily: 30, keepMonthly: 12, keepYearly: 7 }, ["--keep-daily", "30", "--keep-monthly", "12", "--keep-yearly", "7"]],
    ["the last 3 and 4 weekly", { keepLast: 3, keepWeekly: 4 }, ["--keep-last", "3", "--keep-weekly", "4"]],
    ["everything within 10 days of the newest", { keepWithinMs: 10 * 86_400_000 }, ["--keep-within", "10d"]],
    ["hourly, daily and weekly together", { keepHourly: 6, keepDaily: 9, keepWeekly: 20 }, ["--keep-hourly", "6", "--keep-daily", "9", "--keep-weekly", "20"]],
    ["more weeks than there are, across the turns of the year", { keepWeekly: 200 }, ["--keep-weekly", "200"]],
    ["within 36h plus 2 monthly and 1 yearly", { keepWithinMs: 36 * 3_600_000, keepMonthly: 2, keepYearly: 1 }, ["--keep-within", "36h", "--keep-monthly", "2", "--keep-yearly", "1"]],
  ];

  for (const [name, policy, flags] of cases) {
    it(`keeps exactly what restic keeps, for the same rules: ${name}`, async () => {
      const group = await resticForget(flags);
      const resticKept = (group.keep ?? []).map((s) => idByTime.get(Date.parse(s.time))!).sort();
      const resticRemoved = (group.remove ?? []).map((s) => idByTime.get(Date.parse(s.time))!).sort();
      expect(resticKept.length + resticRemoved.length).toBe(snapshots.length);
      expect(resticRemoved.length, "the policy deletes something").toBeGreaterThan(0);

      const plan = planRetention(snapshots, policy);
      expect(plan.decisions.filter((d) => d.action === "keep").map((d) => d.id).sort()).toEqual(resticKept);
      expect(plan.decisions.filter((d) => d.action === "delete").map((d) => d.id).sort()).toEqual(resticRemoved);
      const reasons = resticReasons(group, policy);
      for (const d of plan.decisions.filter((x) => x.action === "keep")) {
        const ours = d.reasons.filter((r) => r !== NEWEST).map((r) => r.replace(/^within .*/, "within"));
        expect(ours, d.id).toEqual(reasons.get(d.id)!.map((r) => r.replace(/^within .*/, "within")));
      }
      // Newest first, as restic lists them.
      expect(plan.decisions.map((d) => d.time)).toEqual([...snapshots].reverse().map((s) => s.time));
    });
  }
});

describe("the retention plan's guarantees", () => {
  const at = (iso: string, extra: Partial<PlanSnapshot> = {}): PlanSnapshot => ({ id: iso, time: `${iso}Z`, damage: null, verified: false, ...extra });
  const kept = (plan: ReturnType<typeof planRetention>) => plan.decisions.filter((d) => d.action === "keep").map((d) => d.id);

  it("keeps the newest snapshot with a passed deep verification even when every rule would delete it", () => {
    const snapshots = [at("2026-01-01T02:00:00", { verified: true }), at("2026-01-02T02:00:00"), at("2026-01-03T02:00:00"), at("2026-01-04T02:00:00", { verified: false })];
    const plan = planRetention(snapshots, { keepLast: 1 });
    expect(kept(plan)).toEqual(["2026-01-04T02:00:00", "2026-01-01T02:00:00"]);
    expect(plan.decisions.find((d) => d.id === "2026-01-01T02:00:00")!.reasons).toEqual([NEWEST_VERIFIED]);
    expect(plan.decisions.find((d) => d.id === "2026-01-02T02:00:00")!.reasons).toEqual([NO_RULE]);
  });

  it("keeps the newest undamaged snapshot when the newest is damaged, and lets the rules decide about damaged ones", () => {
    const snapshots = [at("2026-01-01T02:00:00", { damage: "manifest missing" }), at("2026-01-02T02:00:00"), at("2026-01-03T02:00:00"), at("2026-01-04T02:00:00", { damage: "manifest altered" })];
    const plan = planRetention(snapshots, { keepLast: 1 });
    expect(plan.decisions.map((d) => [d.id, d.action, d.reasons.join(", ")])).toEqual([
      ["2026-01-04T02:00:00", "keep", "last 1/1"],
      ["2026-01-03T02:00:00", "keep", NEWEST],
      ["2026-01-02T02:00:00", "delete", NO_RULE],
      ["2026-01-01T02:00:00", "delete", NO_RULE],
    ]);
    expect(plan.notes.join("\n")).toMatch(/2 damaged snapshot\(s\): the rules keep or delete them like any other/);
  });

  it("reads periods in UTC: 00:30 in Berlin is the previous day", () => {
    const plan = planRetention([{ id: "a", time: "2026-03-02T00:30:00+01:00", damage: null, verified: false }, at("2026-03-01T20:00:00")], { keepDaily: 2 });
    expect(plan.decisions.map((d) => [d.id, d.action])).toEqual([
      ["a", "keep"],
      ["2026-03-01T20:00:00", "delete"],
    ]);
  });

  it("counts keepWithin from the newest snapshot, not from now, and excludes the exact boundary as restic does", () => {
    const plan = planRetention([at("2020-01-10T00:00:00"), at("2020-01-03T00:00:00"), at("2020-01-03T00:00:01")], { keepWithinMs: 7 * 86_400_000 });
    expect(plan.decisions.map((d) => [d.id, d.action, d.reasons[0]])).toEqual([
      ["2020-01-10T00:00:00", "keep", "within 7d"],
      ["2020-01-03T00:00:01", "keep", "within 7d"],
      ["2020-01-03T00:00:00", "delete", NO_RULE],
    ]);
  });

  it("numbers ISO weeks as Go's Time.ISOWeek does, with the week-numbering year", () => {
    expect(isoWeekKey(new Date("2020-12-31T12:00:00Z"))).toBe(202053);
    expect(isoWeekKey(new Date("2021-01-03T23:59:59Z"))).toBe(202053);
    expect(isoWeekKey(new Date("2021-01-04T00:00:00Z"))).toBe(202101);
    expect(isoWeekKey(new Date("2024-12-30T00:00:00Z"))).toBe(202501);
    expect(isoWeekKey(new Date("2023-01-01T00:00:00Z"))).toBe(202252);
  });

  it("keeps everything for an empty policy and plans nothing for no snapshots", () => {
    expect(planRetention([], { keepDaily: 3 }).decisions).toEqual([]);
    expect(kept(planRetention([at("2026-01-01T00:00:00"), at("2026-01-02T00:00:00")], {}))).toHaveLength(2);
  });
});
