/**
 * @module `restore --path PATTERN`: which files of a snapshot a restore takes.
 * Patterns are absolute paths as the service sees them: `*` matches within a
 * name, `**` across folders, and a folder matches with everything below it.
 */
import { LifeboatError } from "../../core/errors";
import type { RestoreTarget } from "../contract";

/** Compiled `--path` patterns, remembering which of them matched something. */
export class PathPatterns {
  private readonly compiled: { pattern: string; regex: RegExp }[];
  private readonly hit = new Set<string>();

  /** @throws USAGE naming a pattern that is not an absolute path, or that holds `.` or `..`. */
  constructor(patterns: string[]) {
    this.compiled = patterns.map((pattern) => ({ pattern, regex: compile(pattern) }));
  }

  /** Whether the absolute `path` (or a folder above it) matches a pattern; the patterns that do are noted. */
  matches(path: string): boolean {
    let any = false;
    for (const { pattern, regex } of this.compiled) {
      if (!regex.test(path)) continue;
      this.hit.add(pattern);
      any = true;
    }
    return any;
  }

  /** The patterns that matched nothing so far. */
  unmatched(): string[] {
    return this.compiled.map((c) => c.pattern).filter((p) => !this.hit.has(p));
  }
}

/** A pattern as a regular expression over absolute paths, which also matches everything below a matching folder. */
function compile(pattern: string): RegExp {
  const segments = pattern.split("/").filter((s) => s !== "");
  if (!pattern.startsWith("/") || segments.some((s) => s === "." || s === "..")) {
    throw new LifeboatError("USAGE", `Cannot restore --path "${pattern}": a pattern is an absolute path as the service sees it, without "." or ".." (e.g. /srv/app/data/webui.db, /srv/app/data/uploads/**)`);
  }
  const escape = (text: string) => text.replace(/[.+?^${}()|[\]\\]/g, "\\$&");
  const body = segments.map((s) => (s === "**" ? "(?:/[^/]+)*" : `/${s.split(/\*+/).map(escape).join("[^/]*")}`)).join("");
  return new RegExp(`^${body}(?:/.*)?$`, "s");
}

/**
 * Refuses `paths` for a plugin that restores whole databases or stores, never
 * single files, so that a restore asked for some files never replaces everything.
 * @throws USAGE naming the plugin's data and what to do instead.
 */
export function refusePathPatterns(target: RestoreTarget, what: string): void {
  if (!target.paths?.length) return;
  throw new LifeboatError("USAGE", `Cannot restore only ${target.paths.map((p) => `"${p}"`).join(", ")} of ${what}: --path selects files of files, nginx and letsencrypt instances only`, {
    hint: `restore ${what} whole (leave out --path), or restore it --into DIR and pick the files from there`,
  });
}
