// --path patterns: `*` within a name, `**` across folders, a folder with everything below it.
import { describe, expect, it } from "vitest";
import { PathPatterns } from "./path-patterns";

const matches = (pattern: string, path: string) => new PathPatterns([pattern]).matches(path);

describe("--path patterns", () => {
  it("match `*` within one name only", () => {
    expect(matches("/srv/app/data/*.json", "/srv/app/data/config.json")).toBe(true);
    expect(matches("/srv/app/data/*.json", "/srv/app/data/sub/config.json")).toBe(false);
    expect(matches("/srv/app/data/*.json", "/srv/app/data/config.jsonl")).toBe(false);
    expect(matches("/srv/app/data/a.b", "/srv/app/data/axb")).toBe(false);
  });

  it("match `**` across any number of folders, none included", () => {
    expect(matches("/srv/app/data/uploads/**", "/srv/app/data/uploads")).toBe(true);
    expect(matches("/srv/app/data/uploads/**", "/srv/app/data/uploads/2026/11/a.png")).toBe(true);
    expect(matches("/a/**/c", "/a/c")).toBe(true);
    expect(matches("/a/**/c", "/a/b/d/c")).toBe(true);
    expect(matches("/a/**/c", "/a/b/cc")).toBe(false);
  });

  it("match a folder with everything below it, but not a name that only starts like it", () => {
    expect(matches("/srv/app/data/uploads", "/srv/app/data/uploads/2026/a.png")).toBe(true);
    expect(matches("/srv/app/data/uploads", "/srv/app/data/uploads-old")).toBe(false);
  });

  it("remember which patterns matched nothing", () => {
    const patterns = new PathPatterns(["/srv/a/*.txt", "/srv/b/**"]);
    expect(patterns.matches("/srv/a/x.txt")).toBe(true);
    expect(patterns.unmatched()).toEqual(["/srv/b/**"]);
  });

  it("refuse a relative pattern, or one with . or .., naming it", () => {
    for (const bad of ["uploads/**", "/srv/app/../etc", "/srv/./app"]) {
      expect(() => new PathPatterns([bad])).toThrow(expect.objectContaining({ code: "USAGE", message: expect.stringContaining(`"${bad}"`) }));
    }
  });
});
