#!/usr/bin/env bash
# Installs everything Lifeboat needs on a Debian machine: the Debian packages the
# test harness, demo and benchmarks start (sshd, age, rclone, sqlite3, zstd, restic,
# redis, nginx, postgresql)
# and the npm packages, then builds the one-file agent and controller bundles.
# Idempotent: a second run only checks.
set -euo pipefail
cd "$(dirname "$0")/.."

debian_packages=(openssh-server openssh-client age rclone sqlite3 zstd restic redis-server redis-tools nginx postgresql postgresql-client ca-certificates)
missing=()
for p in "${debian_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "lifeboat setup: missing Debian packages: ${missing[*]}; run as root or: sudo apt-get install -y ${missing[*]}" >&2
    exit 2
  fi
  echo "lifeboat setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
npm run --silent build
