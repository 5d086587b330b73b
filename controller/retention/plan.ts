/**
 * @module Which snapshots of a host retention keeps: restic's `forget` policy
 * (restic 0.14's `ApplyPolicy`, checked against the real restic in
 * `plan.test.ts`), plus Lifeboat's own guarantees. Pure: no clock, no I/O.
 *
 * The rules, as restic applies them:
 * - snapshots are taken newest first (by time; ties: the greater id first);
 * - `keepLast N` keeps the N newest;
 * - `keepHourly/Daily/Weekly/Monthly/Yearly N` give each snapshot a period (its
 *   hour `YYYYMMDDHH`, day `YYYYMMDD`, ISO week `year*100+week` with the ISO
 *   week-numbering year, month `YYYYMM`, year `YYYY`) and keep the newest
 *   snapshot of each of the N most recent periods **that have a snapshot**: a
 *   period without snapshots does not count;
 * - `keepWithin D` keeps every snapshot made less than D before the newest
 *   snapshot's time (not before now: a host that stopped backing up keeps its
 *   last snapshots);
 * - a snapshot kept by any rule is kept; one that no rule keeps is deleted.
 *
 * Periods are read in **UTC** (restic reads them in the time zone of each
 * snapshot's time; run with `TZ=UTC`, it agrees with this plan exactly): a
 * snapshot at 00:30 in Berlin belongs to the previous UTC day.
 *
 * Lifeboat's guarantees on top, whatever the rules say: the host's newest
 * complete undamaged snapshot (the one `restore --snapshot latest` takes) is
 * kept ("newest"), and so is its newest snapshot whose newest deep verification
 * passed ("newest verified"). A damaged snapshot gets no special treatment:
 * the rules keep or delete it like any other.
 */
import type { RetentionPolicy } from "../../inventory/operations";

/** A complete snapshot of one host, as the plan needs it. */
export interface PlanSnapshot {
  id: string;
  /** When the snapshot was taken (its job's start), ISO 8601. */
  time: string;
  /** Why it is not to be trusted (ledger `damage`), or null. */
  damage: string | null;
  /** Whether its newest deep verification passed. */
  verified: boolean;
}

/** What retention does with one snapshot. */
export interface PlanDecision {
  id: string;
  time: string;
  action: "keep" | "delete";
  /**
   * Why it is kept, in the order restic checks (e.g. `last 1/3`, `daily 3/30`,
   * `within 7d`, `newest`, `newest verified`); for a deleted one `no rule keeps it`.
   */
  reasons: string[];
  damage: string | null;
}

/** The retention plan of one host: every snapshot, newest first. */
export interface RetentionPlan {
  decisions: PlanDecision[];
  /** Remarks for the operator (damaged snapshots present, ...). */
  notes: string[];
}

/** The reason a deleted snapshot is given. */
export const NO_RULE = "no rule keeps it";
/** The guarantee that keeps a host's newest complete undamaged snapshot. */
export const NEWEST = "newest";
/** The guarantee that keeps a host's newest snapshot with a passed deep verification. */
export const NEWEST_VERIFIED = "newest verified";

/** A period key of a moment in UTC, as restic's `ymdh`, `ymd`, `yw`, `ym`, `y` compute it. */
type Bucket = (t: Date, nr: number) => number;

const hour: Bucket = (t) => t.getUTCFullYear() * 1_000_000 + (t.getUTCMonth() + 1) * 10_000 + t.getUTCDate() * 100 + t.getUTCHours();
const day: Bucket = (t) => t.getUTCFullYear() * 10_000 + (t.getUTCMonth() + 1) * 100 + t.getUTCDate();
const month: Bucket = (t) => t.getUTCFullYear() * 100 + (t.getUTCMonth() + 1);
const year: Bucket = (t) => t.getUTCFullYear();
/** `keepLast`: every snapshot is its own period (restic's `always`). */
const always: Bucket = (_t, nr) => nr;

/** ISO 8601 week of `t` in UTC as `isoYear*100 + week` (Go's `Time.ISOWeek`: weeks start on Monday; week 1 holds the year's first Thursday). */
export function isoWeekKey(t: Date): number {
  const d = new Date(Date.UTC(t.getUTCFullYear(), t.getUTCMonth(), t.getUTCDate()));
  const weekday = d.getUTCDay() || 7; // Monday 1 … Sunday 7
  d.setUTCDate(d.getUTCDate() + 4 - weekday); // the Thursday of the same week decides the year
  const isoYear = d.getUTCFullYear();
  const week = Math.floor((d.getTime() - Date.UTC(isoYear, 0, 1)) / 86_400_000 / 7) + 1;
  return isoYear * 100 + week;
}
const week: Bucket = (t) => isoWeekKey(t);

const COUNTED = [
  ["keepLast", always, "last"],
  ["keepHourly", hour, "hourly"],
  ["keepDaily", day, "daily"],
  ["keepWeekly", week, "weekly"],
  ["keepMonthly", month, "monthly"],
  ["keepYearly", year, "yearly"],
] as const;

/** `604800000` → `7d`, `129600000` → `36h`: the largest unit (up to days, as restic writes them) that divides it. */
export function formatWithin(ms: number): string {
  for (const [unit, size] of [["d", 86_400_000], ["h", 3_600_000], ["m", 60_000], ["s", 1000]] as const) {
    if (ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

/** Whether a policy keeps nothing by itself (restic's `Empty`: then everything is kept). */
function isEmpty(policy: RetentionPolicy): boolean {
  return COUNTED.every(([field]) => !policy[field]) && !policy.keepWithinMs;
}

/**
 * The plan for one host's complete snapshots under `policy`. Snapshots are
 * returned newest first, each with `keep` or `delete` and its reasons.
 * An empty policy (no rule set) keeps everything, as restic does.
 * @throws Error for a snapshot whose time is not a date (a ledger bug).
 */
export function planRetention(snapshots: PlanSnapshot[], policy: RetentionPolicy): RetentionPlan {
  const sorted = snapshots
    .map((s) => {
      const ms = Date.parse(s.time);
      if (Number.isNaN(ms)) throw new Error(`snapshot ${s.id} has no valid time: ${JSON.stringify(s.time)}`);
      return { s, ms };
    })
    .sort((a, b) => b.ms - a.ms || (a.s.id < b.s.id ? 1 : a.s.id > b.s.id ? -1 : 0));
  const decisions: PlanDecision[] = sorted.map(({ s }) => ({ id: s.id, time: s.time, action: "delete", reasons: [], damage: s.damage }));
  if (sorted.length === 0) return { decisions, notes: [] };

  if (isEmpty(policy)) {
    for (const d of decisions) d.reasons.push("policy is empty");
  } else {
    const counters = COUNTED.filter(([field]) => (policy[field] ?? 0) > 0).map(([field, bucket, name]) => ({ bucket, name, total: policy[field]!, left: policy[field]!, last: -1 }));
    const newestMs = sorted[0]!.ms;
    sorted.forEach(({ ms }, nr) => {
      const t = new Date(ms);
      const reasons = decisions[nr]!.reasons;
      // restic: `cur.Time.After(latest - within)`, strictly after.
      if (policy.keepWithinMs && ms > newestMs - policy.keepWithinMs) reasons.push(`within ${formatWithin(policy.keepWithinMs)}`);
      for (const c of counters) {
        if (c.left === 0) continue;
        const key = c.bucket(t, nr);
        // Newest first, so a new key is the newest snapshot of a period not yet seen.
        if (key !== c.last) {
          c.last = key;
          c.left--;
          reasons.push(`${c.name} ${c.total - c.left}/${c.total}`);
        }
      }
    });
  }

  const newest = decisions.find((d) => d.damage === null);
  if (newest) newest.reasons.push(NEWEST);
  const verifiedId = sorted.find(({ s }) => s.verified)?.s.id;
  const newestVerified = decisions.find((d) => d.id === verifiedId);
  if (newestVerified) newestVerified.reasons.push(NEWEST_VERIFIED);

  for (const d of decisions) {
    if (d.reasons.length > 0) d.action = "keep";
    else d.reasons.push(NO_RULE);
  }
  const damaged = decisions.filter((d) => d.damage !== null).length;
  const notes = damaged > 0 ? [`${damaged} damaged snapshot(s): the rules keep or delete them like any other (a damaged snapshot is never "newest")`] : [];
  return { decisions, notes };
}
