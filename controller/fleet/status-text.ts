/** @module How a host's status reads to a person: ages at a glance and a line per problem (controller status, the dashboard). */
import type { HostStatus } from "./status";

/** `90061000` → `1d1h`: the two largest units, for ages at a glance. */
export function span(ms: number): string {
  const units: [string, number][] = [["d", 86_400_000], ["h", 3_600_000], ["m", 60_000], ["s", 1000]];
  const abs = Math.max(0, ms);
  const i = units.findIndex(([, size]) => abs >= size);
  if (i < 0) return "0s";
  const [unit, size] = units[i]!;
  const n = Math.floor(abs / size);
  const next = units[i + 1];
  const m = next ? Math.floor((abs - n * size) / next[1]) : 0;
  return `${n}${unit}${m > 0 ? `${m}${next![0]}` : ""}`;
}

/** A line per problem of `s`, saying what is wrong, e.g. `STALE: newest complete snapshot … is 2d old, more than maxAge 1d1h`. */
export function problemLines(s: HostStatus): string[] {
  const lines: string[] = [];
  for (const state of s.states) {
    if (state === "STALE") {
      lines.push("STALE: " + (s.snapshot ? `newest complete snapshot ${s.snapshot.id} is ${span(s.snapshot.ageMs)} old, more than maxAge ${span(s.maxAgeMs)}` : "no complete snapshot"));
    } else if (state === "FAILED" && s.lastRun) {
      lines.push(`FAILED: last backup ${span(s.lastRun.ageMs)} ago ${s.lastRun.status}${s.lastRun.error ? `: ${s.lastRun.error.message}` : ""} (run ${s.lastRun.runId})`);
    } else if (state === "UNVERIFIED") {
      const never = s.verification.unverified.filter((i) => s.verification.instances[i] === null);
      const old = s.verification.unverified.filter((i) => s.verification.instances[i] !== null);
      lines.push(
        "UNVERIFIED: " +
          [never.length ? `${never.join(", ")} never verified deeply` : "", ...old.map((i) => `${i} last verified ${span(s.verification.instances[i]!.ageMs)} ago`)].filter(Boolean).join("; ") +
          ` (verifyEvery ${span(s.verifyEveryMs)}; controller verify --due)`,
      );
    } else if (state === "CERT") {
      lines.push(...s.certificates.map((c) => `CERT: ${c}`));
    }
  }
  return lines;
}


/**
 * The last deep verification of the host's least recently verified plugin
 * instance (what UNVERIFIED is about): null when one was never verified,
 * undefined for a host without plugins.
 */
export function oldestVerification(s: HostStatus): { time: string; ageMs: number } | null | undefined {
  const last = s.plugins.map((i) => s.verification.instances[i] ?? null);
  if (last.length === 0) return undefined;
  if (last.includes(null)) return null;
  return (last as { time: string; ageMs: number }[]).reduce((oldest, v) => (v.ageMs > oldest.ageMs ? v : oldest));
}
