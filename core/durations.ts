/** @module Durations in the inventory: `15s`, `5m`, `1h`, `7d`, `2w`, or a number of seconds. */

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000 };

/** Milliseconds for a duration, or null when it is malformed. */
export function parseDuration(value: unknown): number | null {
  if (typeof value === "number" && Number.isFinite(value) && value >= 0) return value * 1000;
  if (typeof value !== "string") return null;
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?$/.exec(value.trim());
  if (!m) return null;
  return Number(m[1]) * UNIT_MS[m[2] ?? "s"]!;
}
