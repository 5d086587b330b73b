#!/usr/bin/env bash
# Installs Lifeboat the way a user would, and proves the installed programs start:
# `npm pack`, then the tarball with --omit=dev (run-time dependencies only, native modules
# compiled) into an empty folder; then controller --help, --version and init, and the agent's version.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

tarball=$(npm pack --json --pack-destination "$work" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s)[0].filename))')
mkdir "$work/app"
cd "$work/app"
npm init -y >/dev/null
npm install --omit=dev --no-audit --no-fund --loglevel=error "$work/$tarball"

run() { echo "+ $*"; "$@"; }
run npx --no-install controller --help >/dev/null
version=$(npx --no-install controller --version)
expected="lifeboat $(node -p 'require("./node_modules/lifeboat/package.json").version')"
[ "$version" = "$expected" ] || { echo "check-package: controller --version printed \"$version\", expected \"$expected\"" >&2; exit 1; }
run npx --no-install controller --state "$work/state" init >/dev/null
[ -f "$work/state/ledger.db" ] && [ -f "$work/state/age-identity.txt" ] || { echo "check-package: controller init made no ledger or keys in $work/state" >&2; exit 1; }
run npx --no-install agent version
[ ! -d node_modules/vitest ] && [ ! -d node_modules/esbuild ] || { echo "check-package: development packages were installed with --omit=dev" >&2; exit 1; }
echo "check-package: $tarball installs with run-time dependencies only; controller and agent start ($version)"
