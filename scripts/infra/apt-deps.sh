#!/usr/bin/env bash
# Idempotent install of the Debian packages EmoStream needs on a dev/CI machine:
#   redis-server          - our own redis (scripts/infra/redis.sh runs it on $REDIS_PORT)
#   libssl-dev zlib1g-dev libzstd-dev liblz4-dev libsasl2-dev
#                         - so node-rdkafka builds librdkafka with TLS/zstd/lz4/SASL
#   chromium              - headless browser for UI tests (/usr/bin/chromium)
#   postgresql            - the window archive's database (scripts/infra/postgres.sh runs our own
#                           cluster on $POSTGRES_PORT); the distro's cluster is never started
#   prometheus            - promtool (rule checks and unit tests) and a real Prometheus for the
#                           deploy/prometheus integration test; its service is never started
# Packages already installed (dpkg -s says "install ok installed") are skipped, so a
# second run does no network access at all. The distro's redis service is never
# started (policy-rc.d denies service starts during the install); if one runs anyway
# on 6379 it is stopped. We always use our own redis on our own port.
#
# Usage: scripts/infra/apt-deps.sh [extra-package ...]
# Env:   APT_DEPS_SKIP=1  -> do nothing (e.g. machines where packages are pre-baked)
set -euo pipefail

log() { printf '[apt-deps] %s\n' "$*" >&2; }
die() { printf '[apt-deps] ERROR: %s\n' "$*" >&2; exit 1; }

if [[ "${APT_DEPS_SKIP:-0}" == "1" ]]; then
  log "APT_DEPS_SKIP=1, skipping"
  exit 0
fi

PACKAGES=(redis-server libssl-dev zlib1g-dev libzstd-dev liblz4-dev libsasl2-dev chromium fonts-noto-color-emoji prometheus postgresql "$@")

# No pipe into `grep -q`: under pipefail, grep leaving at its first match makes dpkg die of
# SIGPIPE while it still writes a long description (prometheus's), and a package that is
# installed then reads as missing, at random.
installed() {
  [[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" == "install ok installed" ]]
}

missing=()
for p in "${PACKAGES[@]}"; do
  installed "$p" || missing+=("$p")
done

if ((${#missing[@]} == 0)); then
  log "all ${#PACKAGES[@]} packages already installed"
  exit 0
fi

SUDO=""
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null 2>&1 || die "not root and no sudo; install manually: ${missing[*]}"
  SUDO="sudo"
fi

log "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive

# Keep maintainer scripts from starting services (redis-server would grab 6379).
POLICY=/usr/sbin/policy-rc.d
created_policy=0
if [[ ! -e "$POLICY" ]]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$POLICY" >/dev/null
  $SUDO chmod 755 "$POLICY"
  created_policy=1
fi
cleanup() { if ((created_policy)); then $SUDO rm -f "$POLICY"; fi; }
trap cleanup EXIT

# Refresh package lists when they are missing or older than a day.
lists=/var/lib/apt/lists
if [[ -z "$(find "$lists" -maxdepth 1 -name '*Packages*' -mmin -1440 -print -quit 2>/dev/null)" ]]; then
  log "apt-get update"
  $SUDO apt-get update -q >/dev/null || die "apt-get update failed"
fi

if ! $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" >/tmp/emostream-apt-deps.log 2>&1; then
  tail -n 30 /tmp/emostream-apt-deps.log >&2
  die "apt-get install failed (full log: /tmp/emostream-apt-deps.log)"
fi

# Belt and braces: if the distro redis got started anyway, stop it.
if command -v pgrep >/dev/null 2>&1 && pgrep -x redis-server >/dev/null 2>&1; then
  for pid in $(pgrep -x redis-server); do
    if tr '\0' ' ' </proc/"$pid"/cmdline 2>/dev/null | grep -q ':6379'; then
      log "stopping distro redis-server (pid $pid) on 6379"
      $SUDO kill "$pid" 2>/dev/null || true
    fi
  done
fi
if command -v systemctl >/dev/null 2>&1 && [[ -d /run/systemd/system ]]; then
  $SUDO systemctl disable --now redis-server >/dev/null 2>&1 || true
  $SUDO systemctl disable --now prometheus >/dev/null 2>&1 || true
  $SUDO systemctl disable --now postgresql >/dev/null 2>&1 || true
fi

for p in "${missing[@]}"; do
  installed "$p" || die "package $p still not installed"
done
log "done: ${missing[*]}"
