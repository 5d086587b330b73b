#!/usr/bin/env bash
# Installs everything Lifeboat needs on a Debian machine: the Debian packages the
# test harness, demo and benchmarks start (sshd, age, jq, rclone, sqlite3, zstd, restic,
# redis, nginx, postgresql, and headless chromium with fonts-liberation for the browser tests)
# and the npm packages, then builds the one-file agent and controller bundles.
# Idempotent: a second run only checks.
set -euo pipefail
cd "$(dirname "$0")/.."

# Runs apt-get, waiting (up to LIFEBOAT_APT_WAIT seconds, default 600) while another apt or
# dpkg run (unattended-upgrades on a fresh VPS, a second setup) holds its lock, instead of failing.
apt_waiting() {
  local deadline=$((SECONDS + ${LIFEBOAT_APT_WAIT:-600})) log
  log=$(mktemp)
  until apt-get -o DPkg::Lock::Timeout=10 "$@" >"$log" 2>&1; do
    if ! grep -qiE "could not get lock|unable to acquire the dpkg frontend lock|unable to lock" "$log" || [ $SECONDS -ge $deadline ]; then
      cat "$log" >&2
      rm -f "$log"
      return 1
    fi
    echo "lifeboat setup: another apt/dpkg run holds the package lock; waiting for it to finish"
    sleep 5
  done
  rm -f "$log"
}

debian_packages=(openssh-server openssh-client age jq rclone sqlite3 zstd restic redis-server redis-tools nginx postgresql postgresql-client ca-certificates chromium fonts-liberation)
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
  apt_waiting update -qq
  apt_waiting install -y -qq --no-install-recommends "${missing[@]}"
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
npm run --silent build
