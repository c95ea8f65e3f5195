#!/usr/bin/env bash
# Our own PostgreSQL cluster (Debian's postgresql package, see scripts/infra/apt-deps.sh) for the
# window archive, on 127.0.0.1 only, its data in $EMOSTREAM_INFRA_DIR/postgres. The distro's
# cluster (port 5432) is neither used nor needed. As root, the server runs as the `postgres` user
# the package creates (PostgreSQL refuses to run as root).
#
# Usage: scripts/infra/postgres.sh COMMAND
#   install   make sure the server binaries are installed (runs apt-deps.sh if not)
#   start     init the cluster on first use, start it (no-op when running), wait until it answers
#   stop      fast shutdown, wait; idempotent
#   restart   stop + start
#   status    exit 0 when running and accepting connections, 3 when stopped
#   reset     stop and delete the data
#   psql ARGS psql against our database
#   url       print the connection URL
#
# Env (defaults):
#   POSTGRES_PORT=25432
#   POSTGRES_USER=emostream POSTGRES_PASSWORD=emostream POSTGRES_DB=emostream
#   POSTGRES_START_TIMEOUT=60, POSTGRES_STOP_TIMEOUT=30
#   EMOSTREAM_INFRA_DIR              see scripts/infra/lib.sh
set -euo pipefail
_svc_tag=postgres
# shellcheck source=scripts/infra/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

POSTGRES_PORT="${POSTGRES_PORT:-25432}"
POSTGRES_USER="${POSTGRES_USER:-emostream}"
POSTGRES_PASSWORD="${POSTGRES_PASSWORD:-emostream}"
POSTGRES_DB="${POSTGRES_DB:-emostream}"
POSTGRES_START_TIMEOUT="${POSTGRES_START_TIMEOUT:-60}"
POSTGRES_STOP_TIMEOUT="${POSTGRES_STOP_TIMEOUT:-30}"
valid_port "$POSTGRES_PORT" POSTGRES_PORT

STATE_DIR="$EMOSTREAM_INFRA_DIR/postgres"
LOG_FILE="$INFRA_LOG_DIR/postgres.log"
# As root the server runs as `postgres`, which must reach its folders. A checkout under a private
# home (/root is 0700) is out of its reach: then the cluster lives in /var/lib/emostream-postgres,
# in a folder named after this infra dir, and .infra/postgres/data-dir says where.
if [[ $(id -u) -eq 0 ]] && id postgres >/dev/null 2>&1 && ! runuser -u postgres -- test -x "$(dirname "$EMOSTREAM_INFRA_DIR")" 2>/dev/null; then
  STATE_DIR="/var/lib/emostream-postgres/$(printf '%s' "$EMOSTREAM_INFRA_DIR" | sha256sum | cut -c1-12)"
  LOG_FILE="$STATE_DIR/postgres.log"
fi
DATA_DIR="$STATE_DIR/data"
SOCKET_DIR="$STATE_DIR/run"
# The postmaster's argv carries its data directory: our marker.
MARKER="$DATA_DIR"

pg_bin() {
  local d
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k4 -n -r); do
    [[ -x "$d/initdb" && -x "$d/postgres" ]] && { printf '%s\n' "$d"; return 0; }
  done
  return 1
}

# as_owner CMD...: run CMD as the user that owns the cluster (postgres when we are root).
as_owner() {
  if [[ $(id -u) -eq 0 ]]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

url() { printf 'postgres://%s:%s@%s:%s/%s\n' "$POSTGRES_USER" "$POSTGRES_PASSWORD" "$BIND_HOST" "$POSTGRES_PORT" "$POSTGRES_DB"; }

ready() { "$(pg_bin)/pg_isready" -q -h "$BIND_HOST" -p "$POSTGRES_PORT" -t 2 >/dev/null 2>&1; }

postmaster_pid() { [[ -s "$DATA_DIR/postmaster.pid" ]] && head -n 1 "$DATA_DIR/postmaster.pid" | tr -dc '0-9'; }

cmd_install() {
  if pg_bin >/dev/null; then return 0; fi
  log "PostgreSQL server not installed; running scripts/infra/apt-deps.sh"
  "$INFRA_SCRIPTS_DIR/apt-deps.sh"
  pg_bin >/dev/null || die "PostgreSQL binaries still missing after apt-deps.sh (looked in /usr/lib/postgresql/*/bin)"
}

cmd_status() {
  local pid
  if pid="$(running_pid postgres "$MARKER")"; then
    if ready; then
      echo "postgres: running (pid $pid) on $BIND_HOST:$POSTGRES_PORT"
      return 0
    fi
    echo "postgres: process $pid alive but not accepting connections on $BIND_HOST:$POSTGRES_PORT"
    return 1
  fi
  echo "postgres: stopped"
  return 3
}

init_cluster() {
  local bin; bin="$(pg_bin)"
  mkdir -p "$STATE_DIR" "$SOCKET_DIR"
  if [[ "$STATE_DIR" != "$EMOSTREAM_INFRA_DIR/postgres" ]]; then
    mkdir -p "$EMOSTREAM_INFRA_DIR/postgres"
    printf '%s\n' "$DATA_DIR" >"$EMOSTREAM_INFRA_DIR/postgres/data-dir"
    log "postgres cannot reach $EMOSTREAM_INFRA_DIR: data in $STATE_DIR"
  fi
  if [[ $(id -u) -eq 0 ]]; then
    id postgres >/dev/null 2>&1 || die "no 'postgres' user (Debian's postgresql package creates it)"
    chown postgres: "$STATE_DIR" "$SOCKET_DIR"
  fi
  if [[ -s "$DATA_DIR/PG_VERSION" ]]; then return 0; fi
  log "initdb in $DATA_DIR"
  local pw="$STATE_DIR/.pw"
  printf '%s\n' "$POSTGRES_PASSWORD" >"$pw"
  [[ $(id -u) -eq 0 ]] && chown postgres: "$pw"
  chmod 600 "$pw"
  if ! as_owner "$bin/initdb" -D "$DATA_DIR" -U "$POSTGRES_USER" --pwfile="$pw" --auth-local=scram-sha-256 --auth-host=scram-sha-256 \
      -E UTF8 --locale=C.UTF-8 >>"$LOG_FILE" 2>&1; then
    rm -f "$pw"
    log_tail "$LOG_FILE"
    die "initdb failed"
  fi
  rm -f "$pw"
  touch "$STATE_DIR/.needs-db"
}

cmd_start() {
  take_lock postgres
  local pid bin
  if pid="$(running_pid postgres "$MARKER")" && ready; then
    log "already running (pid $pid) on $BIND_HOST:$POSTGRES_PORT"
    return 0
  fi
  cmd_install
  bin="$(pg_bin)"
  if [[ -z "${pid:-}" ]]; then
    # A postmaster of ours still running without a pid file of ours (e.g. the pid file was deleted).
    pid="$(postmaster_pid || true)"
    if [[ -n "$pid" ]] && pid_matches "$pid" "$MARKER"; then
      echo "$pid" >"$(pid_file postgres)"
    else
      assert_port_free "$POSTGRES_PORT" POSTGRES_PORT
      mkdir -p "$(dirname "$LOG_FILE")"
      touch "$LOG_FILE"
      [[ $(id -u) -eq 0 ]] && chown postgres: "$LOG_FILE"
      init_cluster
      log "starting PostgreSQL ($bin) on $BIND_HOST:$POSTGRES_PORT"
      # Loopback only; the socket in our own folder (Debian's /var/run/postgresql may not exist).
      if ! as_owner "$bin/pg_ctl" -D "$DATA_DIR" -l "$LOG_FILE" -w -t "$POSTGRES_START_TIMEOUT" \
          -o "-c listen_addresses=$BIND_HOST -p $POSTGRES_PORT -c unix_socket_directories=$SOCKET_DIR" start 9>&- >/dev/null; then
        log_tail "$LOG_FILE"
        die "PostgreSQL failed to start"
      fi
      pid="$(postmaster_pid)" || die "no postmaster.pid after start"
      echo "$pid" >"$(pid_file postgres)"
    fi
  fi
  local t0 deadline; t0=$(now_ms); deadline=$(( $(date +%s) + POSTGRES_START_TIMEOUT ))
  until ready; do
    if (( $(date +%s) >= deadline )); then
      log_tail "$LOG_FILE"
      die "PostgreSQL did not accept connections on $BIND_HOST:$POSTGRES_PORT within ${POSTGRES_START_TIMEOUT}s"
    fi
    sleep 0.2
  done
  if [[ -e "$STATE_DIR/.needs-db" ]]; then
    PGPASSWORD="$POSTGRES_PASSWORD" "$bin/psql" -q -h "$BIND_HOST" -p "$POSTGRES_PORT" -U "$POSTGRES_USER" -d postgres \
      -c "CREATE DATABASE \"$POSTGRES_DB\"" >>"$LOG_FILE" 2>&1 || die "could not create database $POSTGRES_DB"
    rm -f "$STATE_DIR/.needs-db"
  fi
  log "ready on $BIND_HOST:$POSTGRES_PORT (pid $(read_pid postgres)) after $(( $(now_ms) - t0 ))ms"
}

cmd_stop() {
  take_lock postgres
  local pid
  if pid="$(running_pid postgres "$MARKER")"; then
    log "stopping PostgreSQL (pid $pid, fast shutdown)"
    as_owner "$(pg_bin)/pg_ctl" -D "$DATA_DIR" -m fast -w -t "$POSTGRES_STOP_TIMEOUT" stop >/dev/null 2>&1 || stop_pid postgres "$pid" "$POSTGRES_STOP_TIMEOUT"
    rm -f "$(pid_file postgres)"
    log "stopped"
  else
    log "not running"
  fi
}

cmd_reset() {
  cmd_stop
  exec 9>&-
  rm -rf "$STATE_DIR" "$EMOSTREAM_INFRA_DIR/postgres"
  log "data deleted ($STATE_DIR)"
}

main() {
  local cmd="${1:-}"; shift || true
  case "$cmd" in
    install) cmd_install ;;
    start)   ensure_dirs; cmd_start ;;
    stop)    ensure_dirs; cmd_stop ;;
    restart) ensure_dirs; cmd_stop; exec 9>&-; cmd_start ;;
    status)  cmd_status ;;
    reset)   ensure_dirs; cmd_reset ;;
    psql)    PGPASSWORD="$POSTGRES_PASSWORD" "$(pg_bin)/psql" -h "$BIND_HOST" -p "$POSTGRES_PORT" -U "$POSTGRES_USER" -d "$POSTGRES_DB" "$@" ;;
    url)     url ;;
    *) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2 ;;
  esac
}
main "$@"
