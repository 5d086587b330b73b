/**
 * @module What a host has for the agent, found with one SSH command: the
 * installed bundle and pinning, the runtimes it could use, its machine and C
 * library, the tools a runtime push needs, and the runtime pushed earlier.
 */
import type { HostConfig } from "../../inventory/schema";
import { remotePathWord } from "./remote-shell";
import type { SshConnection } from "./session";

/** A runtime the host may run the agent with. */
export interface ProbedRuntime {
  /** As asked for: `node`, `deno`, or the inventory's pinned command or path. */
  asked: string;
  /** What the host's shell resolved it to (`command -v`, executable); empty when nothing was found. */
  path: string;
  /** The first line `--version` printed (empty when it printed nothing or did not run). */
  versionLine: string;
}

/** What the host has now. */
export interface HostProbe {
  bundleSha256: string;
  pinned?: { host?: string; controllerKey?: string };
  /** `node` then `deno` for `runtime: auto`, else the pinned one. */
  runtimes: ProbedRuntime[];
  /** SHA-256 of `<agentDir>/runtime/deno`, when there is one (`runtime: auto` only). */
  pushedSha256?: string;
  /** `uname -m`. */
  arch: string;
  /** `glibc 2.36`, `musl`, or empty. */
  libc: string;
  gzip: boolean;
  sha256sum: boolean;
}

/** Where a pushed runtime lives on the host. */
export function pushedRuntimePath(host: HostConfig): string {
  return `${host.agentDir}/runtime/deno`;
}

/** The probe script; each answer is one `name=value` line (runtimes: `runtime=asked<TAB>path<TAB>version`). */
export function probeScript(host: HostConfig): string {
  const dir = remotePathWord(host.agentDir);
  const asked = host.runtime === "auto" ? ["node", "deno"] : [host.runtime];
  const lines = [
    // The path of an executable the shell finds (bash's command -v also names files it cannot run).
    `found() { p=$(command -v "$1" 2>/dev/null) && [ -x "$p" ] && [ ! -d "$p" ] && printf '%s' "$p"; }`,
    `printf 'bundle=%s\\n' "$(cat ${dir}/agent.sha256 2>/dev/null)"`,
    `printf 'pinned=%s\\n' "$(tr -d '\\n' < ${dir}/pinned.json 2>/dev/null)"`,
    ...asked.map((name, i) => {
      const word = remotePathWord(name);
      return `p${i}=$(found ${word}); printf 'runtime=%s\\t%s\\t%s\\n' ${shellString(name)} "$p${i}" "$([ -n "$p${i}" ] && "$p${i}" --version </dev/null 2>/dev/null | head -n 1)"`;
    }),
    `printf 'arch=%s\\n' "$(uname -m 2>/dev/null)"`,
    // glibc answers getconf; musl does not, but says so in ldd's banner or its loader's name.
    `printf 'libc=%s\\n' "$( (getconf GNU_LIBC_VERSION 2>/dev/null || { ldd --version 2>&1 | grep -qi musl && echo musl; } || { ls /lib/ld-musl-* >/dev/null 2>&1 && echo musl; }) | head -n 1)"`,
    `printf 'gzip=%s\\n' "$(found gzip)"`,
    `printf 'sha256sum=%s\\n' "$(found sha256sum)"`,
  ];
  if (host.runtime === "auto") {
    const pushed = remotePathWord(pushedRuntimePath(host));
    lines.push(`if [ -f ${pushed} ]; then printf 'pushed=%s\\n' "$(sha256sum < ${pushed} 2>/dev/null | cut -c1-64)"; fi`);
  }
  return lines.join("\n");
}

/** A value as a single-quoted shell string (printf's argument, never run). */
function shellString(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** Reads the probe's answer. */
export function parseProbe(stdout: string): HostProbe {
  const fields = new Map<string, string>();
  const runtimes: ProbedRuntime[] = [];
  for (const line of stdout.split("\n")) {
    const eq = line.indexOf("=");
    if (eq <= 0) continue;
    const name = line.slice(0, eq);
    const value = line.slice(eq + 1);
    if (name === "runtime") {
      const [asked = "", path = "", versionLine = ""] = value.split("\t");
      runtimes.push({ asked, path, versionLine: versionLine.trim() });
    } else {
      fields.set(name, value);
    }
  }
  let pinned: HostProbe["pinned"];
  try {
    pinned = fields.get("pinned") ? (JSON.parse(fields.get("pinned")!) as HostProbe["pinned"]) : undefined;
  } catch {
    pinned = {};
  }
  const pushed = fields.get("pushed");
  return {
    bundleSha256: fields.get("bundle") ?? "",
    pinned,
    runtimes,
    ...(pushed !== undefined ? { pushedSha256: pushed } : {}),
    arch: fields.get("arch") ?? "",
    libc: fields.get("libc") ?? "",
    gzip: Boolean(fields.get("gzip")),
    sha256sum: Boolean(fields.get("sha256sum")),
  };
}

/** Asks the host, in one SSH command. */
export async function probeHost(conn: SshConnection, host: HostConfig): Promise<HostProbe> {
  const result = await conn.exec(probeScript(host), {});
  return parseProbe(result.stdout);
}
