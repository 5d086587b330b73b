/**
 * @module Pushing the Deno binary the controller carries into a host's agent
 * directory: gzip-compressed when the host has gzip, decompressed there under a
 * temp name, its SHA-256 checked on the host, then renamed into place.
 */
import * as fs from "node:fs";
import { LifeboatError } from "../../core/errors";
import type { HostConfig } from "../../inventory/schema";
import { compressedRuntime, forgetCompressed, type CarriedRuntime } from "./carried-runtime";
import { pushedRuntimePath, type HostProbe } from "./host-probe";
import { remotePathWord } from "./remote-shell";
import type { SshConnection } from "./session";

/** What {@link pushRuntime} did. */
export interface RuntimePush {
  /** Where the binary is now (`~/.lifeboat/runtime/deno`). */
  path: string;
  version: string;
  /** `x86_64-linux`. */
  target: string;
  /** Bytes sent over SSH. */
  bytesSent: number;
  compressed: boolean;
  durationMs: number;
  /** Why a pushed copy already there was replaced, when one was. */
  replacing?: string;
}

/** What is sent, by binary hash and form: read once and shared by the pushes in flight, dropped after the last. */
const payloads = new Map<string, { bytes: Promise<Buffer>; users: number }>();

async function withPayload<T>(runtime: CarriedRuntime, gzip: boolean, use: (bytes: Buffer) => Promise<T>): Promise<T> {
  const key = `${runtime.sha256}${gzip ? ".gz" : ""}`;
  let entry = payloads.get(key);
  if (!entry) {
    entry = { bytes: (async () => fs.readFileSync(gzip ? await compressedRuntime(runtime) : runtime.path))(), users: 0 };
    payloads.set(key, entry);
  }
  entry.users++;
  try {
    return await use(await entry.bytes);
  } finally {
    if (--entry.users === 0 && payloads.get(key) === entry) payloads.delete(key);
  }
}

/** Exit codes of the push script. */
const HASH_MISMATCH = 65;
const DOES_NOT_RUN = 66;

function pushScript(host: HostConfig, runtime: CarriedRuntime, gzip: boolean): string {
  const dir = remotePathWord(`${host.agentDir}/runtime`);
  return [
    "set -e",
    "umask 077",
    `d=${dir}`,
    'mkdir -p "$d"',
    't="$d/deno.upload-$$"',
    `trap 'rm -f "$t"' EXIT`,
    gzip ? 'gzip -dc > "$t"' : 'cat > "$t"',
    'h=$(sha256sum < "$t" | cut -c1-64)',
    `if [ "$h" != ${runtime.sha256} ]; then printf 'found=%s\\n' "$h"; exit ${HASH_MISMATCH}; fi`,
    'chmod 700 "$t"',
    'mv -f "$t" "$d/deno"',
    `printf '%s\\n' ${runtime.sha256} > "$d/deno.sha256"`,
    'v=$("$d/deno" --version </dev/null 2>&1 | head -n 1)',
    `case "$v" in "deno ${runtime.version} "*) printf 'version=%s\\n' "$v" ;; *) rm -f "$d/deno" "$d/deno.sha256"; printf 'printed=%s\\n' "$v"; exit ${DOES_NOT_RUN} ;; esac`,
  ].join("\n");
}

/**
 * Uploads `runtime` to `<agentDir>/runtime/deno` (mode 0700) and records its
 * SHA-256 beside it (`deno.sha256`). The host checks the hash of what arrived
 * and deletes it on a mismatch; then it must run and say it is that Deno.
 * @throws LifeboatError("TOOL_MISSING") when the host lacks sha256sum, or the
 *   binary does not run there; ("INTEGRITY") when what arrived is not the binary.
 */
export async function pushRuntime(conn: SshConnection, host: HostConfig, runtime: CarriedRuntime, probe: HostProbe, replacing?: string): Promise<RuntimePush> {
  const target = pushedRuntimePath(host);
  const fix = "install Node.js >= 20 or Deno >= 2 on the host and point runtime: at it in the inventory";
  if (!probe.sha256sum) {
    throw new LifeboatError("TOOL_MISSING", `Cannot push Deno to "${host.name}": the host has no sha256sum to check the upload with`, { hint: `install coreutils there, or ${fix}` });
  }
  const began = Date.now();
  let bytesSent = 0;
  const result = await withPayload(runtime, probe.gzip, (payload) => {
    bytesSent = payload.length;
    return conn.exec(pushScript(host, runtime, probe.gzip), { stdin: payload });
  });
  const said = new Map(
    result.stdout
      .split("\n")
      .filter((l) => l.includes("="))
      .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)] as const),
  );
  if (result.code === HASH_MISMATCH) {
    forgetCompressed(runtime);
    throw new LifeboatError("INTEGRITY", `Cannot push Deno to "${host.name}": what arrived has SHA-256 ${said.get("found") ?? "?"}, not ${runtime.sha256}; it was deleted`, {
      hint: "retry; if it happens again, check the host's disk and the controller's copy of the npm package " + runtime.packageName,
    });
  }
  if (result.code === DOES_NOT_RUN) {
    throw new LifeboatError("TOOL_MISSING", `Cannot use the Deno pushed to "${host.name}": it does not run there (it printed "${(said.get("printed") ?? "").slice(0, 120)}"); it was deleted`, {
      hint: `the agent directory may be on a noexec mount (set agentDir:), or the host's glibc is too old for Deno ${runtime.version}; or ${fix}`,
    });
  }
  if (result.code !== 0) {
    throw new LifeboatError("SSH", `Cannot push Deno to "${host.name}" (${target}): ${result.stderr.trim().split("\n").slice(-3).join(" ") || `exit code ${result.code}`}`, {
      hint: "check free space and the permissions of the agent directory on the host",
    });
  }
  return {
    path: target,
    version: runtime.version,
    target: runtime.target,
    bytesSent,
    compressed: probe.gzip,
    durationMs: Date.now() - began,
    ...(replacing ? { replacing } : {}),
  };
}
