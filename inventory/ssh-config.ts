/** @module Reading `~/.ssh/config` as OpenSSH does, for the keys Lifeboat uses. */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { matchesPatternList, patternToRegex } from "../core/ssh-patterns";

/** What ssh config says about one alias (only keys it set). */
export interface SshConfigEntry {
  hostname?: string;
  user?: string;
  port?: number;
  identityFiles: string[];
  userKnownHostsFiles?: string[];
  identitiesOnly?: boolean;
  connectTimeoutSec?: number;
}

interface Block {
  patterns: string[] | null; // null: a Match block (skipped)
  options: [string, string][];
}

function splitArgs(value: string): string[] {
  const out: string[] = [];
  const re = /"([^"]*)"|(\S+)/g;
  for (let m = re.exec(value); m; m = re.exec(value)) out.push(m[1] ?? m[2]!);
  return out;
}

function expandIncludes(pattern: string, home: string): string[] {
  let p = pattern.startsWith("~/") ? path.join(home, pattern.slice(2)) : pattern;
  if (!path.isAbsolute(p)) p = path.join(home, ".ssh", p);
  if (!/[*?]/.test(path.basename(p))) return fs.existsSync(p) ? [p] : [];
  const dir = path.dirname(p);
  if (!fs.existsSync(dir)) return [];
  const re = patternToRegex(path.basename(p));
  return fs.readdirSync(dir).filter((n) => re.test(n)).sort().map((n) => path.join(dir, n));
}

function parse(file: string, home: string, depth = 0): Block[] {
  if (depth > 8 || !fs.existsSync(file)) return [];
  const blocks: Block[] = [{ patterns: ["*"], options: [] }];
  for (const raw of fs.readFileSync(file, "utf8").split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const m = /^(\S+?)\s*(?:=\s*|\s+)(.*)$/.exec(line);
    if (!m) continue;
    const key = m[1]!.toLowerCase();
    const value = m[2]!.trim();
    if (key === "host") blocks.push({ patterns: splitArgs(value), options: [] });
    else if (key === "match") blocks.push({ patterns: null, options: [] });
    else if (key === "include") {
      const current = blocks[blocks.length - 1]!;
      for (const inc of splitArgs(value).flatMap((v) => expandIncludes(v, home))) {
        // Included files apply within the current block's scope.
        for (const b of parse(inc, home, depth + 1)) {
          blocks.push({ patterns: current.patterns && b.patterns ? (b.patterns[0] === "*" && b.patterns.length === 1 ? current.patterns : b.patterns) : null, options: b.options });
        }
      }
      blocks.push({ patterns: current.patterns, options: [] });
    } else blocks[blocks.length - 1]!.options.push([key, value]);
  }
  return blocks;
}

function expandTokens(value: string, tokens: Record<string, string>, home: string): string {
  let v = value.replace(/%([%hupdr])/g, (_, t: string) => (t === "%" ? "%" : (tokens[t] ?? "")));
  if (v.startsWith("~/")) v = path.join(home, v.slice(2));
  return v;
}

/**
 * What `file` (default `~/.ssh/config`) says for `alias`. First obtained value
 * wins; IdentityFile accumulates. `Match` blocks are skipped.
 */
export function resolveSshAlias(alias: string, options: { file?: string; homedir?: string; localUser?: string } = {}): SshConfigEntry {
  const home = options.homedir ?? os.homedir();
  const file = options.file ?? path.join(home, ".ssh", "config");
  const found: Record<string, string> = {};
  const identityFiles: string[] = [];
  for (const block of parse(file, home)) {
    if (!block.patterns || !matchesPatternList(block.patterns, alias)) continue;
    for (const [key, value] of block.options) {
      if (key === "identityfile") identityFiles.push(value);
      else if (!(key in found)) found[key] = value;
    }
  }
  const hostname = found.hostname ? found.hostname.replace(/%h/g, alias) : undefined;
  const user = found.user;
  const port = found.port ? Number(found.port) : undefined;
  const tokens = { h: hostname ?? alias, u: options.localUser ?? os.userInfo().username, p: String(port ?? 22), r: user ?? options.localUser ?? os.userInfo().username, d: home };
  const entry: SshConfigEntry = { identityFiles: identityFiles.map((f) => expandTokens(splitArgs(f)[0] ?? f, tokens, home)) };
  if (hostname) entry.hostname = hostname;
  if (user) entry.user = user;
  if (port !== undefined && Number.isInteger(port)) entry.port = port;
  if (found.userknownhostsfile) entry.userKnownHostsFiles = splitArgs(found.userknownhostsfile).map((f) => expandTokens(f, tokens, home));
  if (found.identitiesonly) entry.identitiesOnly = found.identitiesonly.toLowerCase() === "yes";
  if (found.connecttimeout) entry.connectTimeoutSec = Number(found.connecttimeout);
  return entry;
}
