#!/usr/bin/env bash
# Profiles the ingest API (ROLE=api) under autocannon load, bounded in time; writes under .clinic/.
#
# Usage: scripts/profile/ingest.sh [doctor|flame|cpuprof]        (default: doctor)
#   doctor   clinic doctor  -> .clinic/<pid>.clinic-doctor.html (event-loop delay, CPU, GC, handles)
#   flame    clinic flame   -> .clinic/<pid>.clinic-flame.html  (flame graph)
#   cpuprof  node --cpu-prof (no clinic) -> .clinic/cpuprof-<time>/*.cpuprofile (open in Chrome
#            DevTools or speedscope) and a top-20 self-time table on stderr
# Env: PROFILE_SECONDS (20) PROFILE_CONNECTIONS (50) PROFILE_PATH=batch|single (batch: 100/request)
#      PROFILE_LOG=memory|kafka (memory; kafka = the local broker + registry from scripts/infra/up.sh,
#      on a topic of its own) PROFILE_ACK_MODE=durable|queued (durable) CLINIC_VERSION (13.0.0)
#
# clinic is not a project dependency (about 700 packages): the first run installs it with npm into
# .clinic/tool (gitignored) and reuses it after. If that install fails, the script falls back to
# cpuprof and says so. clinic is run with NO_INSIGHT=1 (otherwise it waits on an analytics prompt).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
mode="${1:-doctor}"
seconds="${PROFILE_SECONDS:-20}"
clinic_version="${CLINIC_VERSION:-13.0.0}"
out="$root/.clinic"
mkdir -p "$out"
node scripts/ensure-install.mjs >/dev/null
# The api runs with the V8 flags a deployed role has.
node_flags="$(node --input-type=module -e "import { ROLE_NODE_FLAGS } from './scripts/role-node-flags.mjs'; console.log(ROLE_NODE_FLAGS.join(' '))")"

# The api under test: limits out of the way, so the profile shows the path, not the limiter.
export ROLE=api PORT=0 HOST=127.0.0.1 LOG_LEVEL=warn USER_RATE_PER_SEC=1000000 USER_BURST=10000000 CLIENT_RATE_PER_SEC=10000000 CLIENT_BURST=100000000
if [[ "${PROFILE_LOG:-memory}" == kafka ]]; then
  bash scripts/infra/up.sh kafka registry >/dev/null
  # shellcheck disable=SC1091
  source .infra/env
  id="profile-$$-$(date +%s)"
  export LOG_ADAPTER=kafka REGISTRY_ADAPTER=confluent KAFKA_ACK_MODE="${PROFILE_ACK_MODE:-durable}" \
    REACTIONS_TOPIC="$id.reactions" AGGREGATES_TOPIC="$id.aggregates" INSTANCE_ID="$id"
else
  export LOG_ADAPTER=memory REGISTRY_ADAPTER=memory LOG_CAPACITY=200000000
fi
echo "[profile] $mode: api on the ${LOG_ADAPTER} log, ${seconds}s of ${PROFILE_PATH:-batch} load" >&2

clinic_bin() {
  local bin="$out/tool/node_modules/.bin/clinic"
  if [[ ! -x "$bin" ]]; then
    echo "[profile] installing clinic@$clinic_version into .clinic/tool (once)…" >&2
    mkdir -p "$out/tool"
    timeout 600 npm install --prefix "$out/tool" --no-audit --no-fund --save-exact "clinic@$clinic_version" >"$out/tool/install.log" 2>&1 || return 1
  fi
  echo "$bin"
}

run_cpuprof() {
  local dir; dir="$out/cpuprof-$(date +%Y%m%d-%H%M%S)"
  mkdir -p "$dir"
  local log="$dir/server.out"
  node $node_flags --cpu-prof --cpu-prof-dir="$dir" --import tsx src/main.ts >"$log" 2>&1 &
  local pid=$! port=""
  for _ in $(seq 1 600); do
    port="$(grep -oE 'on http://127\.0\.0\.1:[0-9]+' "$log" | head -1 | grep -oE '[0-9]+$' || true)"
    [[ -n "$port" ]] && break
    kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; exit 1; }
    sleep 0.1
  done
  [[ -n "$port" ]] || { kill "$pid"; echo "[profile] the api did not start" >&2; exit 1; }
  node scripts/profile/load.mjs "$port"
  kill -INT "$pid"
  wait "$pid" || true
  node scripts/profile/cpuprof-top.mjs "$dir"/*.cpuprofile
  echo "[profile] written: $(ls "$dir"/*.cpuprofile)" >&2
}

case "$mode" in
  doctor|flame)
    if ! bin="$(clinic_bin)"; then
      echo "[profile] clinic could not be installed (see .clinic/tool/install.log): using node --cpu-prof instead" >&2
      run_cpuprof
      exit 0
    fi
    # --on-port runs the load once the api listens; when it exits, clinic stops the api and analyses.
    NO_INSIGHT=1 timeout $((seconds + 300)) "$bin" "$mode" --open=false --dest="$out" \
      --on-port="node scripts/profile/load.mjs \$PORT" -- node $node_flags --import tsx src/main.ts
    ;;
  cpuprof) run_cpuprof ;;
  *) echo "usage: $0 [doctor|flame|cpuprof]" >&2; exit 2 ;;
esac
