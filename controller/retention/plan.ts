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

/** A moment's UTC calendar fields, as the period keys read them (month 1-12, ISO week as {@link isoWeekKey}). */
interface Moment {
  year: number;
  month: number;
  date: number;
  hour: number;
  week: number;
}

/** A period key of a moment in UTC, as restic's `ymdh`, `ymd`, `yw`, `ym`, `y` compute it. */
type Bucket = (t: Moment, nr: number) => number;

const hour: Bucket = (t) => t.year * 1_000_000 + t.month * 10_000 + t.date * 100 + t.hour;
const day: Bucket = (t) => t.year * 10_000 + t.month * 100 + t.date;
const month: Bucket = (t) => t.year * 100 + t.month;
const year: Bucket = (t) => t.year;
/** `keepLast`: every snapshot is its own period (restic's `always`). */
const always: Bucket = (_t, nr) => nr;

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;

/**
 * The calendar fields of moment after moment, in one object: a host's snapshots
 * come a few a day, newest first, so the date (and its ISO week) is worked out
 * once a day and each moment costs a division.
 */
function moments(): (ms: number) => Moment {
  const t: Moment = { year: 0, month: 0, date: 0, hour: 0, week: 0 };
  let day = Number.NaN;
  return (ms) => {
    const nr = Math.floor(ms / DAY_MS);
    if (nr !== day) {
      day = nr;
      const midnight = new Date(nr * DAY_MS);
      t.year = midnight.getUTCFullYear();
      t.month = midnight.getUTCMonth() + 1;
      t.date = midnight.getUTCDate();
      t.week = isoWeekKey(midnight);
    }
    t.hour = Math.floor((ms - nr * DAY_MS) / HOUR_MS);
    return t;
  };
}

/** ISO 8601 week of `t` in UTC as `isoYear*100 + week` (Go's `Time.ISOWeek`: weeks start on Monday; week 1 holds the year's first Thursday). */
export function isoWeekKey(t: Date): number {
  const d = new Date(Date.UTC(t.getUTCFullYear(), t.getUTCMonth(), t.getUTCDate()));
  const weekday = d.getUTCDay() || 7; // Monday 1 … Sunday 7
  d.setUTCDate(d.getUTCDate() + 4 - weekday); // the Thursday of the same week decides the year
  const isoYear = d.getUTCFullYear();
  const week = Math.floor((d.getTime() - Date.UTC(isoYear, 0, 1)) / 86_400_000 / 7) + 1;
  return isoYear * 100 + week;
}
const week: Bucket = (t) => t.week;

/** The counted rules: field, period key, name, and whether its periods are whole days (a day, week, month or year). */
const COUNTED = [
  ["keepLast", always, "last", false],
  ["keepHourly", hour, "hourly", false],
  ["keepDaily", day, "daily", true],
  ["keepWeekly", week, "weekly", true],
  ["keepMonthly", month, "monthly", true],
  ["keepYearly", year, "yearly", true],
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
  // Indexed loops, and reasons only for the snapshots kept: a fleet's prune plans tens of thousands
  // of snapshots, host after host, much of it before the code is compiled.
  const n = snapshots.length;
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const s = snapshots[i]!;
    const ms = Date.parse(s.time);
    if (Number.isNaN(ms)) throw new Error(`snapshot ${s.id} has no valid time: ${JSON.stringify(s.time)}`);
    times.push(ms);
  }
  const newer = (a: number, b: number) => times[b]! - times[a]! || (snapshots[a]!.id < snapshots[b]!.id ? 1 : snapshots[a]!.id > snapshots[b]!.id ? -1 : 0);
  // Positions, newest first (a stable sort; the ledger lists them so already, and then nothing moves).
  const order: number[] = [];
  let sorted = true;
  for (let i = 0; i < n; i++) {
    order.push(i);
    if (sorted && i > 0 && newer(i - 1, i) > 0) sorted = false;
  }
  if (!sorted) order.sort(newer);
  /** Why the snapshot at each position (newest first) is kept; none: deleted. */
  const reasons: (string[] | undefined)[] = [];
  const keep = (nr: number, why: string) => {
    const r = reasons[nr];
    if (r) r.push(why);
    else reasons[nr] = [why];
  };

  if (n > 0 && isEmpty(policy)) {
    for (let nr = 0; nr < n; nr++) keep(nr, "policy is empty");
  } else if (n > 0) {
    const counters = COUNTED.filter(([field]) => (policy[field] ?? 0) > 0).map(([field, bucket, name, days]) => ({ bucket, name, days, total: policy[field]!, left: policy[field]!, last: -1 }));
    const newestMs = times[order[0]!]!;
    const moment = moments();
    let previousDay = Number.NaN;
    for (let nr = 0; nr < n; nr++) {
      const ms = times[order[nr]!]!;
      // A snapshot of the same UTC day as the one before it is in the same day, week, month and
      // year: those rules see no new period (their last key is that day's), only `last` and `hourly` may.
      const dayNr = Math.floor(ms / DAY_MS);
      const sameDay = dayNr === previousDay;
      previousDay = dayNr;
      // restic: `cur.Time.After(latest - within)`, strictly after.
      if (policy.keepWithinMs && ms > newestMs - policy.keepWithinMs) keep(nr, `within ${formatWithin(policy.keepWithinMs)}`);
      for (let k = 0; k < counters.length; k++) {
        const c = counters[k]!;
        if (c.left === 0 || (sameDay && c.days)) continue;
        const key = c.bucket(moment(ms), nr);
        // Newest first, so a new key is the newest snapshot of a period not yet seen.
        if (key !== c.last) {
          c.last = key;
          c.left--;
          keep(nr, `${c.name} ${c.total - c.left}/${c.total}`);
        }
      }
    }
  }

  let newest = -1;
  let verifiedAt = -1;
  for (let nr = 0; nr < n && (newest === -1 || verifiedAt === -1); nr++) {
    const s = snapshots[order[nr]!]!;
    if (newest === -1 && s.damage === null) newest = nr;
    if (verifiedAt === -1 && s.verified) verifiedAt = nr;
  }
  if (newest !== -1) keep(newest, NEWEST);
  // The first position with that snapshot's id (one and the same within a host).
  if (verifiedAt !== -1) {
    const id = snapshots[order[verifiedAt]!]!.id;
    for (let nr = 0; nr < n; nr++) {
      if (snapshots[order[nr]!]!.id === id) {
        keep(nr, NEWEST_VERIFIED);
        break;
      }
    }
  }

  const decisions: PlanDecision[] = [];
  let damaged = 0;
  for (let nr = 0; nr < n; nr++) {
    const s = snapshots[order[nr]!]!;
    const why = reasons[nr];
    decisions.push(why ? { id: s.id, time: s.time, action: "keep", reasons: why, damage: s.damage } : { id: s.id, time: s.time, action: "delete", reasons: [NO_RULE], damage: s.damage });
    if (s.damage !== null) damaged++;
  }
  const notes = damaged > 0 ? [`${damaged} damaged snapshot(s): the rules keep or delete them like any other (a damaged snapshot is never "newest")`] : [];
  return { decisions, notes };
}
