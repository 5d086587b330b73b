/**
 * @module A stand-in `docker` executable for tests (no Docker engine runs here): it runs
 * everything locally and logs each call, so the container code path is exercised without
 * a container. `docker exec [-i] [-e NAME]... CONTAINER CMD ARGS...` runs CMD;
 * `docker cp SRC CONTAINER:DEST` copies SRC to DEST with `cp -a` (the "container's" DEST
 * is the local path DEST). `containerTools` names commands that only "the container" has:
 * `docker exec` finds them, the host's PATH does not (a tool missing on the host).
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

/** The stand-in's path and the calls it received (one line each: the container, then the command it ran locally, e.g. `web nginx -t ...` or `web cp -a SRC DEST`). */
export function dockerStandIn(containerTools: Record<string, string> = {}): { docker: string; calls(): string[]; cleanup(): void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lifeboat-docker-standin-"));
  const docker = path.join(dir, "docker");
  const log = path.join(dir, "calls.log");
  const bin = path.join(dir, "container-bin");
  fs.mkdirSync(bin);
  for (const [name, target] of Object.entries(containerTools)) fs.symlinkSync(target, path.join(bin, name));
  fs.writeFileSync(
    docker,
    `#!/bin/sh
# Stand-in for the docker CLI in Lifeboat's tests: "exec" and "cp", run locally.
case "$1" in
exec)
  shift
  while [ $# -gt 0 ]; do case "$1" in -i|-t|-it) shift;; -e) shift 2;; *) break;; esac; done
  container="$1"; shift
  echo "$container $*" >> ${log}
  PATH="${bin}:$PATH" exec "$@";;
cp)
  [ $# -eq 3 ] || { echo "stand-in docker: usage: docker cp SRC CONTAINER:DEST" >&2; exit 125; }
  case "$3" in *:*) ;; *) echo "stand-in docker: only host-to-container cp (SRC CONTAINER:DEST) is supported" >&2; exit 125;; esac
  container="\${3%%:*}"; dest="\${3#*:}"
  echo "$container cp -a $2 $dest" >> ${log}
  exec cp -a "$2" "$dest";;
*)
  echo "stand-in docker: only exec and cp are supported" >&2; exit 125;;
esac
`,
    { mode: 0o755 },
  );
  return { docker, calls: () => (fs.existsSync(log) ? fs.readFileSync(log, "utf8").trim().split("\n") : []), cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}
