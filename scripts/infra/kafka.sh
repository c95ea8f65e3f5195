#!/usr/bin/env bash
# Single-node Apache Kafka 4.x (KRaft, combined broker+controller) on 127.0.0.1,
# from Maven Central jars (infra/kafka/pom.xml). No Docker, no tarball download.
#
# Usage: scripts/infra/kafka.sh COMMAND [args]
#   install            fetch the broker classpath into the cache (skipped when cached)
#   start              install + format storage once + start + wait until it answers
#   stop               SIGTERM, wait (KAFKA_STOP_TIMEOUT), then SIGKILL; idempotent
#   restart            stop + start
#   status             exit 0 and print pid/port when running, exit 3 when stopped
#   check              broker-api-versions against the running broker (real protocol check)
#   smoke              create a topic, produce and consume one message, delete the topic
#   topics ARGS...     kafka-topics (TopicCommand) with --bootstrap-server filled in
#   run-class CLASS ARGS...  run any class on the Kafka classpath (tools log to stderr)
#   reset              stop and delete the broker's data (topics, offsets, cluster id)
#   classpath          print the classpath (the cached libs dir wildcard)
#
# Env (defaults):
#   KAFKA_PORT=19092              PLAINTEXT listener, 127.0.0.1
#   KAFKA_CONTROLLER_PORT=19093   KRaft CONTROLLER listener, 127.0.0.1
#   KAFKA_VERSION=4.4.0           org.apache.kafka:kafka_2.13 version
#   KAFKA_HEAP_OPTS="-Xms256m -Xmx768m"
#   KAFKA_NUM_PARTITIONS=12       default partitions for topics created without a count
#   KAFKA_AUTO_CREATE_TOPICS=false  auto.create.topics.enable (the app creates its topics
#                                 via the admin API; false catches typos in topic names)
#   KAFKA_NODE_ID=1               node.id (scripts/infra/kafka-cluster.sh runs nodes 1..3)
#   KAFKA_QUORUM_VOTERS=""        controller.quorum.voters (default: this node alone)
#   KAFKA_CLUSTER_ID=""           cluster id used when formatting storage (default: a new random
#                                 one; every node of a multi-node quorum must share one)
#   KAFKA_REPLICATION=1           default.replication.factor and the internal topics' factor
#   KAFKA_MIN_ISR=1               min.insync.replicas, also for the transaction-state and
#                                 share-coordinator topics
#   KAFKA_EXTRA_PROPS=""          extra server.properties lines ("k=v" newline separated;
#                                 they come last, so they override the defaults)
#   KAFKA_START_TIMEOUT=120       seconds to wait for "Kafka Server started" + port
#   KAFKA_STOP_TIMEOUT=60         seconds before SIGKILL on stop
#   EMOSTREAM_CACHE, EMOSTREAM_INFRA_DIR  see scripts/infra/lib.sh
set -euo pipefail
_svc_tag=kafka
# shellcheck source=scripts/infra/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

KAFKA_PORT="${KAFKA_PORT:-19092}"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-19093}"
KAFKA_VERSION="${KAFKA_VERSION:-4.4.0}"
KAFKA_HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xms256m -Xmx768m}"
KAFKA_JVM_OPTS="${KAFKA_JVM_OPTS:--XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true}"
KAFKA_NUM_PARTITIONS="${KAFKA_NUM_PARTITIONS:-12}"
KAFKA_AUTO_CREATE_TOPICS="${KAFKA_AUTO_CREATE_TOPICS:-false}"
KAFKA_EXTRA_PROPS="${KAFKA_EXTRA_PROPS:-}"
KAFKA_NODE_ID="${KAFKA_NODE_ID:-1}"
KAFKA_QUORUM_VOTERS="${KAFKA_QUORUM_VOTERS:-$KAFKA_NODE_ID@$BIND_HOST:$KAFKA_CONTROLLER_PORT}"
KAFKA_CLUSTER_ID="${KAFKA_CLUSTER_ID:-}"
KAFKA_REPLICATION="${KAFKA_REPLICATION:-1}"
KAFKA_MIN_ISR="${KAFKA_MIN_ISR:-1}"
KAFKA_START_TIMEOUT="${KAFKA_START_TIMEOUT:-120}"
KAFKA_STOP_TIMEOUT="${KAFKA_STOP_TIMEOUT:-60}"

POM="$REPO_ROOT/infra/kafka/pom.xml"
LOG4J_SERVER="$REPO_ROOT/infra/kafka/log4j2.properties"
LOG4J_TOOLS="$REPO_ROOT/infra/kafka/log4j2-tools.properties"
# Cache key: Kafka version + the pom's content (changing the pom re-resolves).
LIBS_DIR="$EMOSTREAM_CACHE/kafka/${KAFKA_VERSION}-$(sha8 "$POM")/libs"
STATE_DIR="$EMOSTREAM_INFRA_DIR/kafka"
DATA_DIR="$STATE_DIR/data"
SERVER_PROPS="$STATE_DIR/server.properties"
SERVER_LOG="$INFRA_LOG_DIR/kafka-server.log"
STDOUT_LOG="$INFRA_LOG_DIR/kafka.out"
MARKER="-Demostream.infra=kafka@$EMOSTREAM_INFRA_DIR"
BOOTSTRAP="$BIND_HOST:$KAFKA_PORT"

valid_port "$KAFKA_PORT" KAFKA_PORT
valid_port "$KAFKA_CONTROLLER_PORT" KAFKA_CONTROLLER_PORT
[[ "$KAFKA_PORT" != "$KAFKA_CONTROLLER_PORT" ]] || die "KAFKA_PORT and KAFKA_CONTROLLER_PORT must differ"

cmd_install() {
  if [[ -f "$LIBS_DIR/.complete" ]]; then
    [[ "${1:-}" == quiet ]] || log "Kafka $KAFKA_VERSION jars cached in $LIBS_DIR"
    return 0
  fi
  require_cmd mvn "install Maven (apt-get install -y maven)"
  ensure_dirs
  local tmp="$LIBS_DIR.tmp.$$" t0; t0=$(now_ms)
  rm -rf "$tmp"; mkdir -p "$tmp"
  log "resolving Kafka $KAFKA_VERSION + log4j2 binding from Maven Central (one-time) ..."
  if ! (cd "$REPO_ROOT/infra/kafka" && mvn -q -B -ntp -f "$POM" -Dkafka.version="$KAFKA_VERSION" \
        dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$tmp") \
        >"$INFRA_LOG_DIR/kafka-mvn.log" 2>&1; then
    tail -n 30 "$INFRA_LOG_DIR/kafka-mvn.log" >&2
    rm -rf "$tmp"
    die "mvn could not resolve Kafka $KAFKA_VERSION (full log: $INFRA_LOG_DIR/kafka-mvn.log)"
  fi
  ls "$tmp"/kafka_2.13-"$KAFKA_VERSION".jar "$tmp"/log4j-core-*.jar "$tmp"/log4j-slf4j2-impl-*.jar >/dev/null 2>&1 ||
    die "resolved classpath in $tmp lacks kafka_2.13/log4j jars"
  touch "$tmp/.complete"
  rm -rf "$LIBS_DIR"; mkdir -p "$(dirname "$LIBS_DIR")"
  mv "$tmp" "$LIBS_DIR"
  log "cached $(find "$LIBS_DIR" -name '*.jar' | wc -l) jars in $LIBS_DIR ($(( ($(now_ms) - t0) / 1000 ))s)"
}

# run a tool class on the Kafka classpath, quick-start JVM flags, warnings to stderr
run_class() {
  local java; java="$(find_java)"
  [[ -f "$LIBS_DIR/.complete" ]] || cmd_install
  "$java" -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$LOG4J_TOOLS" -cp "$LIBS_DIR/*" "$@"
}

write_config() {
  mkdir -p "$STATE_DIR" "$DATA_DIR"
  cat >"$SERVER_PROPS.tmp" <<EOF
# Generated by scripts/infra/kafka.sh - edits are overwritten on every start.
# KRaft: this process is both broker and controller (the sole one unless KAFKA_QUORUM_VOTERS
# names others: scripts/infra/kafka-cluster.sh).
process.roles=broker,controller
node.id=$KAFKA_NODE_ID
controller.quorum.voters=$KAFKA_QUORUM_VOTERS
controller.listener.names=CONTROLLER
listeners=PLAINTEXT://$BIND_HOST:$KAFKA_PORT,CONTROLLER://$BIND_HOST:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://$BIND_HOST:$KAFKA_PORT
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$DATA_DIR

# Small machine (2 cores)
num.network.threads=2
num.io.threads=4
num.recovery.threads.per.data.dir=1

# Topics
num.partitions=$KAFKA_NUM_PARTITIONS
default.replication.factor=$KAFKA_REPLICATION
min.insync.replicas=$KAFKA_MIN_ISR
auto.create.topics.enable=$KAFKA_AUTO_CREATE_TOPICS
delete.topic.enable=true

# Internal topics: replication factor 1 and min ISR 1 on one node (3 and 2 on the cluster
# profile), fewer partitions
offsets.topic.replication.factor=$KAFKA_REPLICATION
offsets.topic.num.partitions=12
transaction.state.log.replication.factor=$KAFKA_REPLICATION
transaction.state.log.min.isr=$KAFKA_MIN_ISR
transaction.state.log.num.partitions=12
share.coordinator.state.topic.replication.factor=$KAFKA_REPLICATION
share.coordinator.state.topic.min.isr=$KAFKA_MIN_ISR
share.coordinator.state.topic.num.partitions=12

# Consumer groups join without the default 3 s initial delay
group.initial.rebalance.delay.ms=0

# Dev retention: a day or 1 GiB per partition
log.retention.hours=24
log.retention.bytes=1073741824
log.segment.bytes=268435456
EOF
  if [[ -n "$KAFKA_EXTRA_PROPS" ]]; then
    printf '\n# KAFKA_EXTRA_PROPS\n%s\n' "$KAFKA_EXTRA_PROPS" >>"$SERVER_PROPS.tmp"
  fi
  mv "$SERVER_PROPS.tmp" "$SERVER_PROPS"
}

new_cluster_id() { # Kafka Uuid format: 16 random bytes, base64url, no padding, no leading '-'
  local id
  while :; do
    id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
    [[ "${id:0:1}" != "-" ]] && break
  done
  printf '%s\n' "$id"
}

format_storage() {
  if [[ -f "$DATA_DIR/meta.properties" ]]; then
    return 0
  fi
  local cid; cid="${KAFKA_CLUSTER_ID:-$(new_cluster_id)}"
  log "formatting KRaft storage in $DATA_DIR (cluster id $cid)"
  if ! run_class kafka.tools.StorageTool format -t "$cid" -c "$SERVER_PROPS" \
        >"$INFRA_LOG_DIR/kafka-format.log" 2>&1; then
    log_tail "$INFRA_LOG_DIR/kafka-format.log"
    die "kafka storage format failed"
  fi
}

cmd_status() {
  local pid
  if pid="$(running_pid kafka "$MARKER")"; then
    if port_open "$KAFKA_PORT"; then
      echo "kafka: running (pid $pid) on $BOOTSTRAP, controller $BIND_HOST:$KAFKA_CONTROLLER_PORT"
      return 0
    fi
    echo "kafka: process $pid alive but $BOOTSTRAP not accepting connections (starting or stuck; log: $SERVER_LOG)"
    return 1
  fi
  echo "kafka: stopped"
  return 3
}

start_failed() {
  log_tail "$SERVER_LOG" 60
  log_tail "$STDOUT_LOG" 20
  die "$1"
}

cmd_start() {
  take_lock kafka
  local pid
  if pid="$(running_pid kafka "$MARKER")"; then
    if port_open "$KAFKA_PORT"; then
      log "already running (pid $pid) on $BOOTSTRAP"
      return 0
    fi
    log "process $pid alive but port $KAFKA_PORT not open yet; waiting"
  else
    local java; java="$(find_java)"
    cmd_install quiet
    assert_port_free "$KAFKA_PORT" KAFKA_PORT
    assert_port_free "$KAFKA_CONTROLLER_PORT" KAFKA_CONTROLLER_PORT
    write_config
    format_storage
    # keep the previous run's logs for post-mortems, start fresh ones
    [[ -f "$SERVER_LOG" ]] && mv -f "$SERVER_LOG" "$SERVER_LOG.prev"
    [[ -f "$STDOUT_LOG" ]] && mv -f "$STDOUT_LOG" "$STDOUT_LOG.prev"
    : >"$STDOUT_LOG"
    log "starting Kafka $KAFKA_VERSION on $BOOTSTRAP (controller :$KAFKA_CONTROLLER_PORT, heap '$KAFKA_HEAP_OPTS')"
    # shellcheck disable=SC2086  # word-splitting of the opts strings is intended
    spawn kafka "$STDOUT_LOG" "$java" $KAFKA_HEAP_OPTS $KAFKA_JVM_OPTS "$MARKER" \
      -Dkafka.logs.dir="$INFRA_LOG_DIR" -Dlog4j2.configurationFile="$LOG4J_SERVER" \
      -cp "$LIBS_DIR/*" kafka.Kafka "$SERVER_PROPS"
    pid="$(read_pid kafka)"
  fi

  local t0 deadline; t0=$(now_ms); deadline=$(( $(date +%s) + KAFKA_START_TIMEOUT ))
  while :; do
    if ! kill -0 "$pid" 2>/dev/null; then
      rm -f "$(pid_file kafka)"
      start_failed "Kafka exited during startup (see $SERVER_LOG, $STDOUT_LOG)"
    fi
    if grep -q 'Kafka Server started' "$SERVER_LOG" 2>/dev/null && port_open "$KAFKA_PORT"; then
      break
    fi
    if (( $(date +%s) >= deadline )); then
      start_failed "Kafka did not become ready within ${KAFKA_START_TIMEOUT}s (pid $pid left running; run '$0 stop')"
    fi
    sleep 0.25
  done
  log "ready on $BOOTSTRAP (pid $pid) after $(( $(now_ms) - t0 ))ms"
}

cmd_stop() {
  take_lock kafka
  local pid
  if pid="$(running_pid kafka "$MARKER")"; then
    stop_pid kafka "$pid" "$KAFKA_STOP_TIMEOUT"
  else
    log "not running"
  fi
}

cmd_check() {
  cmd_status >/dev/null || die "kafka is not running ($(cmd_status || true))"
  local out
  if ! out="$(run_class org.apache.kafka.tools.BrokerApiVersionsCommand --bootstrap-server "$BOOTSTRAP" 2>&1)"; then
    printf '%s\n' "$out" >&2
    die "broker-api-versions failed against $BOOTSTRAP"
  fi
  printf '%s\n' "$out" | head -n 1 | sed 's/ -> (.*//'
  log "broker answers the Kafka protocol on $BOOTSTRAP ($(printf '%s\n' "$out" | grep -c '(') APIs)"
}

cmd_topics() {
  run_class org.apache.kafka.tools.TopicCommand --bootstrap-server "$BOOTSTRAP" "$@"
}

cmd_smoke() {
  cmd_status >/dev/null || die "kafka is not running"
  local topic="emostream-smoke-$$-$RANDOM" msg got
  msg="hello-$(date +%s%N)"
  cmd_topics --create --topic "$topic" --partitions 1 --replication-factor 1 >/dev/null
  printf '%s\n' "$msg" | run_class org.apache.kafka.tools.ConsoleProducer \
    --bootstrap-server "$BOOTSTRAP" --topic "$topic" --command-property acks=all
  got="$(run_class org.apache.kafka.tools.consumer.ConsoleConsumer --bootstrap-server "$BOOTSTRAP" \
    --topic "$topic" --from-beginning --max-messages 1 --timeout-ms 20000 2>/dev/null || true)"
  cmd_topics --delete --topic "$topic" >/dev/null || true
  [[ "$got" == "$msg" ]] || die "smoke test failed: produced '$msg', consumed '$got'"
  log "smoke ok: produced and consumed '$msg' via $topic"
}

cmd_reset() {
  cmd_stop
  log "deleting $STATE_DIR"
  rm -rf "$STATE_DIR"
}

main() {
  local cmd="${1:-}"; shift || true
  case "$cmd" in
    install)   ensure_dirs; cmd_install ;;
    start)     ensure_dirs; cmd_start ;;
    stop)      ensure_dirs; cmd_stop ;;
    restart)   ensure_dirs; cmd_stop; exec 9>&-; cmd_start ;;
    status)    cmd_status ;;
    check)     cmd_check ;;
    smoke)     cmd_smoke ;;
    topics)    cmd_topics "$@" ;;
    run-class) [[ $# -ge 1 ]] || die "usage: $0 run-class CLASS [ARGS...]"; run_class "$@" ;;
    reset)     ensure_dirs; cmd_reset ;;
    classpath) printf '%s\n' "$LIBS_DIR/*" ;;
    *) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2 ;;
  esac
}
main "$@"
