/** @module `restore --at TIME`: the time an operator means, read as the controller's local time unless it carries an offset. */
import { LifeboatError } from "../../core/errors";

const FORMS = "YYYY-MM-DD, YYYY-MM-DD HH:MM[:SS], or with an offset (2026-11-20T03:00+01:00, ...Z)";

/**
 * Parses `--at`: `2026-11-20`, `2026-11-20 03:00`, `2026-11-20T03:00:30`
 * (local time of the controller), or any of them with `Z` or `±HH:MM`.
 * A date alone means the end of that day (the last snapshot of it).
 * @throws LifeboatError("USAGE") naming the value and the forms understood.
 */
export function parsePointInTime(text: string): Date {
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2}))?)?\s*(Z|[+-]\d{2}:?\d{2})?$/i.exec(text.trim());
  const bad = () => new LifeboatError("USAGE", `--at "${text}" is not a time Lifeboat understands`, { hint: `write ${FORMS}` });
  if (!m) throw bad();
  const [, y, mo, d, h, mi, s, zone] = m;
  const dateOnly = h === undefined;
  const fields = [Number(y), Number(mo) - 1, Number(d), dateOnly ? 23 : Number(h), dateOnly ? 59 : Number(mi), dateOnly ? 59 : Number(s ?? 0), dateOnly ? 999 : 0] as const;
  // Date.UTC rolls 2026-02-31 over into March: a day that does not exist is a typo.
  const calendar = new Date(Date.UTC(...fields));
  if (calendar.getUTCMonth() !== fields[1] || calendar.getUTCDate() !== fields[2] || fields[3] > 23 || fields[4] > 59 || fields[5] > 59) throw bad();
  if (zone === undefined) return new Date(...fields);
  const offsetMinutes = zone.toUpperCase() === "Z" ? 0 : (zone.startsWith("-") ? -1 : 1) * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(-2)));
  return new Date(calendar.getTime() - offsetMinutes * 60_000);
}
