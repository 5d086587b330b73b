// Where --into puts an instance's paths: relative to the folder that holds them all.
import { describe, expect, it } from "vitest";
import { instanceRoot, placeRestored } from "./restore-place";

describe("restore places", () => {
  it("takes the folder that holds all of an instance's paths as its root", () => {
    expect(instanceRoot(["/srv/app/data"])).toBe("/srv/app");
    expect(instanceRoot(["/srv/app/app.db"])).toBe("/srv/app");
    expect(instanceRoot(["/srv/app/a.db", "/srv/app/b.db"])).toBe("/srv/app");
    expect(instanceRoot(["/etc/nginx", "/srv/www"])).toBe("/");
    expect(instanceRoot(["/srv/app/data", "/srv/app/data/more"])).toBe("/srv/app");
    expect(instanceRoot(["/srv/app", "/srv/apple"])).toBe("/srv");
    expect(instanceRoot(["/data"])).toBe("/");
  });

  it("lays paths out under --into relative to the root, and in place at their host path", () => {
    expect(placeRestored("/r/files", "/srv/app", "/srv/app/data")).toBe("/r/files/data");
    expect(placeRestored("/r/web/", "/", "/etc/nginx")).toBe("/r/web/etc/nginx");
    expect(placeRestored(undefined, "/srv/app", "/app/data", () => "/var/lib/docker/volumes/app/_data")).toBe("/var/lib/docker/volumes/app/_data");
    expect(placeRestored("/r/x", "/srv/app", "/srv/app/data", () => {
      throw new Error("not asked under --into");
    })).toBe("/r/x/data");
  });

  it("refuses a recorded path that would climb out of --into", () => {
    expect(() => placeRestored("/r/files", "/", "/../../etc")).toThrow(expect.objectContaining({ code: "RESTORE", message: expect.stringContaining('Refusing to restore "/../../etc" under "/r/files"') }));
  });
});
