/** @module OpenSSH pattern lists (`*`, `?`, `!negation`), as `ssh_config` Host lines and `known_hosts` host fields use them. */

/** A case-insensitive regular expression for one OpenSSH pattern (`*` any run, `?` one character). */
export function patternToRegex(pattern: string): RegExp {
  return new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".")}$`, "i");
}

/** True when `name` matches the list: some positive pattern matches and no negated (`!pattern`) one does. */
export function matchesPatternList(patterns: string[], name: string): boolean {
  let matched = false;
  for (const p of patterns) {
    if (p.startsWith("!")) {
      if (patternToRegex(p.slice(1)).test(name)) return false;
    } else if (patternToRegex(p).test(name)) matched = true;
  }
  return matched;
}
