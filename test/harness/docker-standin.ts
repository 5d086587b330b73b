/**
 * @module A stand-in `docker` executable for tests (no Docker engine runs here):
 * `docker exec [-i] [-e NAME]... CONTAINER CMD ARGS...` runs CMD locally and logs
 * the call, so the container code path is exercised without a container.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

/** The stand-in's path and the calls it received (one line each: container and command). */
export function dockerStandIn(): { docker: string; calls(): string[]; cleanup(): void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lifeboat-docker-standin-"));
  const docker = path.join(dir, "docker");
  const log = path.join(dir, "calls.log");
  fs.writeFileSync(
    docker,
    `#!/bin/sh
# Stand-in for the docker CLI in Lifeboat's tests: only "exec", run locally.
[ "$1" = exec ] || { echo "stand-in docker: only exec is supported" >&2; exit 125; }
shift
while [ $# -gt 0 ]; do case "$1" in -i|-t|-it) shift;; -e) shift 2;; *) break;; esac; done
container="$1"; shift
echo "$container $*" >> ${log}
exec "$@"
`,
    { mode: 0o755 },
  );
  return { docker, calls: () => (fs.existsSync(log) ? fs.readFileSync(log, "utf8").trim().split("\n") : []), cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}
