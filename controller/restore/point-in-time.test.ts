import { describe, expect, it } from "vitest";
import { parsePointInTime } from "./point-in-time";

describe("restore --at", () => {
  it("reads a time without an offset as the controller's local time", () => {
    expect(parsePointInTime("2026-11-20 03:00").getTime()).toBe(new Date(2026, 10, 20, 3, 0, 0).getTime());
    expect(parsePointInTime("2026-11-20T03:00:30").getTime()).toBe(new Date(2026, 10, 20, 3, 0, 30).getTime());
  });

  it("honours Z and numeric offsets", () => {
    expect(parsePointInTime("2026-11-20T03:00Z").toISOString()).toBe("2026-11-20T03:00:00.000Z");
    expect(parsePointInTime("2026-11-20 03:00+01:00").toISOString()).toBe("2026-11-20T02:00:00.000Z");
    expect(parsePointInTime("2026-11-20T03:00:00-0530").toISOString()).toBe("2026-11-20T08:30:00.000Z");
  });

  it("takes a date alone as the end of that day", () => {
    expect(parsePointInTime("2026-11-20").getTime()).toBe(new Date(2026, 10, 20, 23, 59, 59, 999).getTime());
    expect(parsePointInTime("2026-11-20Z").toISOString()).toBe("2026-11-20T23:59:59.999Z");
  });

  it("refuses what is not a time, naming it and the forms understood", () => {
    for (const bad of ["yesterday", "2026-02-31", "2026-11-20 25:00", "2026-13-01", "20-11-2026", "2026-11-20 03:61"]) {
      expect(() => parsePointInTime(bad), bad).toThrow(expect.objectContaining({ code: "USAGE", message: expect.stringContaining(bad) }));
    }
  });
});
