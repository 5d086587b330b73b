import { describe, expect, it } from "vitest";
import { DEFAULT_RETRY, retryDelayMs } from "./retry";
import { HostSchedule, missedRun } from "./schedule";

const at = (iso: string) => new Date(iso);

describe("a host's schedule", () => {
  it("reads a 5-field cron expression in the host's time zone, daylight saving time included", () => {
    const berlin = new HostSchedule({ cron: "30 2 * * *", timezone: "Europe/Berlin", jitterMs: 0 });
    expect(berlin.next(at("2025-01-15T12:00:00Z"))?.toISOString()).toBe("2025-01-16T01:30:00.000Z"); // CET, UTC+1
    expect(berlin.next(at("2025-07-15T12:00:00Z"))?.toISOString()).toBe("2025-07-16T00:30:00.000Z"); // CEST, UTC+2
    const newYork = new HostSchedule({ cron: "0 0 1 1 *", timezone: "America/New_York", jitterMs: 0 });
    expect(newYork.next(at("2025-06-01T00:00:00Z"))?.toISOString()).toBe("2026-01-01T05:00:00.000Z");
    const utc = new HostSchedule({ cron: "30 2 * * *", timezone: "UTC", jitterMs: 0 });
    expect(utc.next(at("2025-01-15T12:00:00Z"))?.toISOString()).toBe("2025-01-16T02:30:00.000Z");
  });

  it("reads a 6-field expression with seconds first, and finds the previous time too", () => {
    const every3s = new HostSchedule({ cron: "*/3 * * * * *", timezone: "UTC", jitterMs: 0 });
    expect(every3s.next(at("2025-01-15T12:00:01.500Z"))?.toISOString()).toBe("2025-01-15T12:00:03.000Z");
    expect(every3s.next(at("2025-01-15T12:00:03.000Z"))?.toISOString()).toBe("2025-01-15T12:00:06.000Z");
    expect(every3s.previous(at("2025-01-15T12:00:05.000Z"))?.toISOString()).toBe("2025-01-15T12:00:03.000Z");
    const nightly = new HostSchedule({ cron: "30 2 * * *", timezone: "UTC", jitterMs: 0 });
    expect(nightly.previous(at("2025-01-15T12:00:00Z"))?.toISOString()).toBe("2025-01-15T02:30:00.000Z");
    expect(nightly.previous(at("2025-01-15T02:00:00Z"))?.toISOString()).toBe("2025-01-14T02:30:00.000Z");
  });

  it("adds a jitter in [0, jitter), whatever the random source gives", () => {
    const s = new HostSchedule({ cron: "30 2 * * *", jitterMs: 600_000 });
    expect(s.jitter(() => 0)).toBe(0);
    expect(s.jitter(() => 0.999_999_999)).toBe(599_999);
    expect(s.jitter(() => 0.5)).toBe(300_000);
    const samples = Array.from({ length: 5000 }, () => s.jitter());
    expect(Math.min(...samples)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...samples)).toBeLessThan(600_000);
    // Spread over the window, not stuck at one end.
    expect(samples.filter((j) => j < 300_000).length).toBeGreaterThan(2000);
    expect(samples.filter((j) => j >= 300_000).length).toBeGreaterThan(2000);
    expect(new HostSchedule({ cron: "30 2 * * *", jitterMs: 0 }).jitter(() => 0.9)).toBe(0);
  });

  it("catches up the newest missed run once, however many were missed, and only when no backup started since", () => {
    const nightly = new HostSchedule({ cron: "30 2 * * *", timezone: "UTC", jitterMs: 0 });
    const now = at("2025-01-15T12:00:00Z");
    // Down for three nights: one run, for the newest time.
    expect(missedRun(nightly, now, at("2025-01-12T02:31:00Z"))?.toISOString()).toBe("2025-01-15T02:30:00.000Z");
    // Never backed up: due.
    expect(missedRun(nightly, now, undefined)?.toISOString()).toBe("2025-01-15T02:30:00.000Z");
    // Backed up after last night's time (by the daemon or by hand): nothing to catch up.
    expect(missedRun(nightly, now, at("2025-01-15T02:30:01Z"))).toBeUndefined();
    expect(missedRun(nightly, now, at("2025-01-15T09:00:00Z"))).toBeUndefined();
  });
});

describe("retries of a failed backup", () => {
  it("wait 1 minute, then 5, and stop after 3 attempts by default", () => {
    expect([1, 2, 3, 4].map((n) => retryDelayMs(n, DEFAULT_RETRY))).toEqual([60_000, 300_000, undefined, undefined]);
  });

  it("grow exponentially, never beyond the longest wait, and never beyond the attempts", () => {
    const policy = { attempts: 8, firstDelayMs: 1000, factor: 3, maxDelayMs: 20_000 };
    const delays = Array.from({ length: 10 }, (_, i) => retryDelayMs(i + 1, policy));
    expect(delays).toEqual([1000, 3000, 9000, 20_000, 20_000, 20_000, 20_000, undefined, undefined, undefined]);
    expect(retryDelayMs(1, { ...policy, attempts: 1 })).toBeUndefined();
  });
});
