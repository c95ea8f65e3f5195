# shellcheck shell=bash
# Shared helpers for scripts/infra/*.sh. Source it; do not run it.
#
# Conventions:
#   EMOSTREAM_CACHE      download cache (jars, tarballs), survives fresh clones
#                        default: $HOME/.cache/emostream
#   EMOSTREAM_INFRA_DIR  runtime state: data dirs, logs, pid files
#                        default: <repo>/.infra   (logs in .infra/logs/)
# Everything binds 127.0.0.1 only.

INFRA_SCRIPTS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$INFRA_SCRIPTS_DIR/../.." && pwd)"
EMOSTREAM_CACHE="${EMOSTREAM_CACHE:-${HOME:-/root}/.cache/emostream}"
EMOSTREAM_INFRA_DIR="${EMOSTREAM_INFRA_DIR:-$REPO_ROOT/.infra}"
# The physical path: it goes into every service's marker, so a clone whose .infra is a symlink to
# another checkout's recognises (and never mistakes for stale) the services that checkout started.
if [[ -d "$EMOSTREAM_INFRA_DIR" ]]; then EMOSTREAM_INFRA_DIR="$(cd "$EMOSTREAM_INFRA_DIR" && pwd -P)"; fi
INFRA_LOG_DIR="$EMOSTREAM_INFRA_DIR/logs"
INFRA_RUN_DIR="$EMOSTREAM_INFRA_DIR/run"
BIND_HOST=127.0.0.1

_svc_tag="${_svc_tag:-infra}"
log()  { printf '[%s] %s\n' "$_svc_tag" "$*" >&2; }
warn() { printf '[%s] WARNING: %s\n' "$_svc_tag" "$*" >&2; }
die()  { printf '[%s] ERROR: %s\n' "$_svc_tag" "$*" >&2; exit 1; }

ensure_dirs() {
  mkdir -p "$EMOSTREAM_CACHE" "$EMOSTREAM_INFRA_DIR" "$INFRA_LOG_DIR" "$INFRA_RUN_DIR"
}

now_ms() { date +%s%3N; }

# Exclusive lock per service for the rest of the calling script (fd 9), so two
# concurrent `start`s (e.g. parallel test workers running up.sh) do not race.
take_lock() {
  local name="$1"
  ensure_dirs
  exec 9>"$INFRA_RUN_DIR/$name.lock"
  if command -v flock >/dev/null 2>&1; then
    flock -w 300 9 || die "could not take lock $INFRA_RUN_DIR/$name.lock within 300s"
  fi
}

# find_java: prints a java binary of version >= 17 (JAVA_HOME, Debian's 17, PATH).
find_java() {
  local cand v
  for cand in ${JAVA_HOME:+"$JAVA_HOME/bin/java"} /usr/lib/jvm/java-17-openjdk-amd64/bin/java "$(command -v java 2>/dev/null || true)"; do
    [[ -n "$cand" && -x "$cand" ]] || continue
    v="$("$cand" -XshowSettings:properties -version 2>&1 | awk -F' = ' '/java.specification.version/ {print $2; exit}')"
    v="${v%%.*}"
    if [[ -n "$v" && "$v" -ge 17 ]]; then
      printf '%s\n' "$cand"
      return 0
    fi
  done
  die "no Java 17+ found (set JAVA_HOME, or: apt-get install -y openjdk-17-jre-headless)"
}

require_cmd() {
  command -v "$1" >/dev/null 2>&1 || die "'$1' not found${2:+: $2}"
}

# --- process / pid helpers ---------------------------------------------------
# Every service we start carries a marker in its command line so a stale pid file
# that now points at an unrelated process is never mistaken for ours:
#   java ... -Demostream.infra=<name>@<infra dir>
#   redis-server: checked by port in its argv (see redis.sh)

pid_file() { printf '%s/%s.pid\n' "$INFRA_RUN_DIR" "$1"; }

read_pid() {
  local f; f="$(pid_file "$1")"
  [[ -s "$f" ]] || return 1
  local pid; pid="$(tr -dc '0-9' <"$f")"
  [[ -n "$pid" ]] || return 1
  printf '%s\n' "$pid"
}

# pid_matches PID NEEDLE: process alive and its argv contains NEEDLE
pid_matches() {
  local pid="$1" needle="$2"
  [[ -r "/proc/$pid/cmdline" ]] || return 1
  # zombies have an empty cmdline
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$needle"
}

# running_pid NAME NEEDLE: prints pid if the service's pid file points at a live
# process carrying NEEDLE; removes a stale pid file otherwise.
running_pid() {
  local name="$1" needle="$2" pid
  pid="$(read_pid "$name")" || return 1
  if pid_matches "$pid" "$needle"; then
    printf '%s\n' "$pid"
    return 0
  fi
  rm -f "$(pid_file "$name")"
  return 1
}

# stop_pid NAME PID TIMEOUT_S: SIGTERM, wait, then SIGKILL. Idempotent.
stop_pid() {
  local name="$1" pid="$2" timeout="${3:-30}" i
  if ! kill -0 "$pid" 2>/dev/null; then
    rm -f "$(pid_file "$name")"
    return 0
  fi
  log "stopping $name (pid $pid, SIGTERM)"
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < timeout * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    # a zombie child of ours counts as gone
    [[ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" == "Z" ]] && break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null && [[ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != "Z" ]]; then
    warn "$name (pid $pid) still alive after ${timeout}s, sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
  rm -f "$(pid_file "$name")"
  log "$name stopped"
}

# spawn NAME LOGFILE CMD...: start CMD detached (own session, immune to SIGHUP,
# stdin from /dev/null) and write its pid (the exec'd command itself) to the pid file.
spawn() {
  local name="$1" logfile="$2"; shift 2
  local pf; pf="$(pid_file "$name")"
  rm -f "$pf"
  # bash -c writes its own pid, then execs CMD, so the pid is the service's pid.
  # fd 9 is our lock (take_lock): the service must not inherit it, or it would hold
  # the lock for its whole life.
  # shellcheck disable=SC2016  # $$/$0/$@ belong to the inner bash
  setsid nohup bash -c 'echo $$ >"$0"; exec "$@"' "$pf" "$@" </dev/null >>"$logfile" 2>&1 9>&- &
  local i
  for ((i = 0; i < 50; i++)); do [[ -s "$pf" ]] && break; sleep 0.05; done
  [[ -s "$pf" ]] || die "failed to launch $name (no pid file)"
}

# --- network helpers ---------------------------------------------------------
port_open() { # port_open PORT  -> 0 if something accepts TCP on 127.0.0.1:PORT
  timeout 2 bash -c "exec 3<>/dev/tcp/$BIND_HOST/$1" 2>/dev/null
}

# fail if PORT is taken by a process that is not ours
assert_port_free() {
  local port="$1" what="$2"
  if port_open "$port"; then
    local who=""
    command -v ss >/dev/null 2>&1 && who="$(ss -ltnpH "sport = :$port" 2>/dev/null | head -n 3)"
    die "port $port (for $what) is already in use by another process${who:+:
$who}
Choose another port via the env var, or stop that process."
  fi
}

# log_tail FILE [N]: print the last lines of a log to stderr (for failures)
log_tail() {
  local f="$1" n="${2:-40}"
  if [[ -s "$f" ]]; then
    printf -- '----- last %s lines of %s -----\n' "$n" "$f" >&2
    tail -n "$n" "$f" >&2
    printf -- '----- end of %s -----\n' "$f" >&2
  fi
}

valid_port() {
  if [[ "$1" =~ ^[0-9]+$ ]] && ((10#$1 >= 1 && 10#$1 <= 65535)); then return 0; fi
  die "invalid port '$1' for $2"
}

# sha8 FILE...: short content hash (not path-dependent) used to key caches
sha8() { cat "$@" | sha256sum | cut -c1-8; }

# route_profile VERB ARGS...: `--profile cluster` (or INFRA_PROFILE=cluster) hands the call over to
# scripts/infra/cluster.sh VERB; otherwise PROFILE_ARGS holds ARGS without the profile option.
route_profile() {
  local verb="$1" profile="${INFRA_PROFILE:-single}"; shift
  PROFILE_ARGS=()
  while (($#)); do
    case "$1" in
      --profile) profile="${2:?--profile needs a value: single or cluster}"; shift 2 ;;
      --profile=*) profile="${1#--profile=}"; shift ;;
      *) PROFILE_ARGS+=("$1"); shift ;;
    esac
  done
  case "$profile" in
    single) ;;
    cluster) exec bash "$INFRA_SCRIPTS_DIR/cluster.sh" "$verb" ${PROFILE_ARGS[@]+"${PROFILE_ARGS[@]}"} ;;
    *) die "unknown profile '$profile' (single or cluster)" ;;
  esac
}
