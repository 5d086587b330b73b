/** @module gitignore-like exclude patterns for the files plugin. */

/** A compiled set of patterns; `matches(rel, isDir)` tests a path relative to a backed-up root. */
export interface ExcludeSet {
  matches(relativePath: string, isDirectory: boolean): boolean;
}

function globToRegex(glob: string): string {
  let out = "";
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === "*") {
      if (glob[i + 1] === "*") {
        const slash = glob[i + 2] === "/";
        out += slash ? "(?:.*/)?" : ".*";
        i += slash ? 2 : 1;
      } else out += "[^/]*";
    } else if (c === "?") out += "[^/]";
    else out += c.replace(/[.+^${}()|[\]\\]/g, "\\$&");
  }
  return out;
}

/**
 * Compiles patterns: `name` matches that name at any depth; `dir/` only
 * directories; a pattern with a `/` elsewhere (`logs/*.gz`, `/tmp`) is anchored
 * to the root; `*`, `?` and `**` work as in gitignore.
 */
export function compileExcludes(patterns: string[]): ExcludeSet {
  const rules = patterns.map((raw) => {
    const directoryOnly = raw.endsWith("/");
    let pattern = directoryOnly ? raw.slice(0, -1) : raw;
    const anchored = pattern.includes("/");
    if (pattern.startsWith("/")) pattern = pattern.slice(1);
    const regex = new RegExp(`^${anchored ? "" : "(?:.*/)?"}${globToRegex(pattern)}$`);
    return { regex, directoryOnly };
  });
  return {
    matches(rel, isDirectory) {
      return rules.some((r) => (!r.directoryOnly || isDirectory) && r.regex.test(rel));
    },
  };
}
