/** @module Human formatting of sizes, rates and durations. */

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB"];

/** `1536` → `1.5 KiB`. */
export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(value < 10 ? 2 : 1)} ${UNITS[unit]}`;
}

/** Bytes per second as `123.4 MB/s` (decimal megabytes, as benchmarks report). */
export function formatRate(bytes: number, ms: number): string {
  if (ms <= 0) return "-";
  return `${(bytes / 1e6 / (ms / 1000)).toFixed(1)} MB/s`;
}

/** `83400` → `1m23s`. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(Math.round(s % 60)).padStart(2, "0")}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, "0")}m`;
}

/** How long ago `iso` was, e.g. `3h ago`. */
export function formatAge(iso: string, now = new Date()): string {
  const ms = now.getTime() - Date.parse(iso);
  if (ms < 0) return "in the future";
  if (ms < 60_000) return "just now";
  return `${formatDuration(ms).replace(/\.\d+s$/, "s")} ago`;
}
