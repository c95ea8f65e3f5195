#!/usr/bin/env bash
# Three Apache Kafka 4.x nodes on 127.0.0.1 (KRaft, each node broker + controller, static quorum of
# three voters): the cluster profile's Kafka. Each node is scripts/infra/kafka.sh with its own
# node id, ports and directory; every topic, __consumer_offsets and __transaction_state included,
# is replicated 3 times with min.insync.replicas=2, so acks=all writes go on with one node down.
#
# Usage: scripts/infra/kafka-cluster.sh COMMAND [NODE]       (NODE = 1, 2 or 3; none = all)
#   install            the broker classpath (kafka.sh install; cached)
#   start [NODE]       format once + start (all nodes in parallel) + wait until each answers
#   stop [NODE]        SIGTERM, wait, SIGKILL; idempotent
#   status [NODE]      exit 0 when every named node runs, 3 when one is stopped
#   pid NODE           print the node's pid (exit 1 when it is not running)
#   port NODE          print the node's PLAINTEXT port
#   bootstrap          print the bootstrap list (host:port,host:port,host:port)
#   topics ARGS...     kafka-topics against the cluster (--bootstrap-server filled in)
#   run-class CLASS ARGS...  any class on the Kafka classpath
#   reset              stop every node and delete the cluster's data (and its cluster id)
#
# Env (defaults):
#   KAFKA_CLUSTER_PORTS="31092 31094 31096"             PLAINTEXT listeners of nodes 1..3
#   KAFKA_CLUSTER_CONTROLLER_PORTS="31093 31095 31097"  CONTROLLER listeners of nodes 1..3
#   KAFKA_CLUSTER_HEAP_OPTS="-Xms256m -Xmx512m"         per node
#   KAFKA_CLUSTER_SESSION_TIMEOUT_MS=3000  broker.session.timeout.ms: how long a node that died
#                                      without a word keeps leading its partitions before the
#                                      controller fences it and moves leadership (Kafka's default 9000).
#                                      Below the clients' consumer session (6 s): a group whose
#                                      coordinator died finds the new one before its members'
#                                      sessions end, so no rebalance follows a node's death
#   KAFKA_CLUSTER_EXTRA_PROPS=""       extra server.properties lines for every node
#   EMOSTREAM_INFRA_DIR                default <repo>/.infra/cluster; node N lives in kafka-N/
#   and kafka.sh's own variables (KAFKA_VERSION, KAFKA_START_TIMEOUT, ...)
set -euo pipefail
_svc_tag=kafka-cluster
EMOSTREAM_INFRA_DIR="${EMOSTREAM_INFRA_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/.infra/cluster}"
# shellcheck source=scripts/infra/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

read -r -a PORTS <<<"${KAFKA_CLUSTER_PORTS:-31092 31094 31096}"
read -r -a CONTROLLER_PORTS <<<"${KAFKA_CLUSTER_CONTROLLER_PORTS:-31093 31095 31097}"
HEAP="${KAFKA_CLUSTER_HEAP_OPTS:--Xms256m -Xmx512m}"
SESSION_TIMEOUT_MS="${KAFKA_CLUSTER_SESSION_TIMEOUT_MS:-3000}"
EXTRA="${KAFKA_CLUSTER_EXTRA_PROPS:-}"
((${#PORTS[@]} == 3 && ${#CONTROLLER_PORTS[@]} == 3)) || die "KAFKA_CLUSTER_PORTS and KAFKA_CLUSTER_CONTROLLER_PORTS need three ports each"
for p in "${PORTS[@]}" "${CONTROLLER_PORTS[@]}"; do valid_port "$p" KAFKA_CLUSTER_PORTS; done
ID_FILE="$EMOSTREAM_INFRA_DIR/kafka-cluster.id"
NODES=(1 2 3)

voters() {
  local n out=()
  for n in "${NODES[@]}"; do out+=("$n@$BIND_HOST:${CONTROLLER_PORTS[n - 1]}"); done
  (IFS=,; printf '%s\n' "${out[*]}")
}

bootstrap() {
  local n out=()
  for n in "${NODES[@]}"; do out+=("$BIND_HOST:${PORTS[n - 1]}"); done
  (IFS=,; printf '%s\n' "${out[*]}")
}

# One cluster id for the three nodes' storage, made once and kept with the data.
cluster_id() {
  if [[ ! -s "$ID_FILE" ]]; then
    mkdir -p "$EMOSTREAM_INFRA_DIR"
    "$INFRA_SCRIPTS_DIR/kafka.sh" run-class kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n 1 >"$ID_FILE.tmp"
    [[ -s "$ID_FILE.tmp" ]] || die "kafka.tools.StorageTool random-uuid printed nothing"
    mv "$ID_FILE.tmp" "$ID_FILE"
  fi
  cat "$ID_FILE"
}

# node N CMD...: kafka.sh CMD for node N, in its own directory with its own ports
node() {
  local n="$1"; shift
  [[ "$n" =~ ^[123]$ ]] || die "node must be 1, 2 or 3 (got '$n')"
  EMOSTREAM_INFRA_DIR="$EMOSTREAM_INFRA_DIR/kafka-$n" \
  KAFKA_PORT="${PORTS[n - 1]}" KAFKA_CONTROLLER_PORT="${CONTROLLER_PORTS[n - 1]}" \
  KAFKA_NODE_ID="$n" KAFKA_QUORUM_VOTERS="$(voters)" KAFKA_CLUSTER_ID="${CLUSTER_ID:-}" \
  KAFKA_REPLICATION=3 KAFKA_MIN_ISR=2 KAFKA_HEAP_OPTS="$HEAP" \
  KAFKA_START_TIMEOUT="${KAFKA_START_TIMEOUT:-240}" \
  KAFKA_EXTRA_PROPS="# cluster profile (scripts/infra/kafka-cluster.sh)
broker.session.timeout.ms=$SESSION_TIMEOUT_MS
broker.heartbeat.interval.ms=$(( SESSION_TIMEOUT_MS / 6 > 250 ? SESSION_TIMEOUT_MS / 6 : 250 ))
# leadership returns to the preferred replica once a restarted node has caught up
auto.leader.rebalance.enable=true
leader.imbalance.check.interval.seconds=30
${EXTRA}" \
    "$INFRA_SCRIPTS_DIR/kafka.sh" "$@"
}

# on_nodes CMD [NODE]: CMD on one node, or on all three in parallel
on_nodes() {
  local cmd="$1" which="${2:-}" n failed=()
  if [[ -n "$which" ]]; then node "$which" "$cmd"; return; fi
  declare -A jobs=()
  for n in "${NODES[@]}"; do node "$n" "$cmd" & jobs[$n]=$!; done
  for n in "${NODES[@]}"; do wait "${jobs[$n]}" || failed+=("$n"); done
  ((${#failed[@]} == 0)) || die "$cmd failed on node(s) ${failed[*]}"
}

cmd_status() {
  local n rc=0 nodes=("${NODES[@]}")
  [[ -z "${1:-}" ]] || nodes=("$1")
  for n in "${nodes[@]}"; do node "$n" status || rc=$?; done
  return "$rc"
}

cmd_pid() {
  local n="${1:?usage: $0 pid NODE}" pid
  pid="$(tr -dc '0-9' <"$EMOSTREAM_INFRA_DIR/kafka-$n/run/kafka.pid" 2>/dev/null)" || true
  [[ -n "$pid" ]] && pid_matches "$pid" "-Demostream.infra=kafka@$EMOSTREAM_INFRA_DIR/kafka-$n" || return 1
  printf '%s\n' "$pid"
}

main() {
  local cmd="${1:-}"; shift || true
  case "$cmd" in
    install)   node 1 install ;;
    start)     ensure_dirs; node 1 install; CLUSTER_ID="$(cluster_id)"; on_nodes start "${1:-}"
               log "cluster ready: $(bootstrap) (replication 3, min.insync.replicas 2)" ;;
    stop)      on_nodes stop "${1:-}" ;;
    status)    cmd_status "${1:-}" ;;
    pid)       cmd_pid "$@" ;;
    port)      [[ "${1:-}" =~ ^[123]$ ]] || die "usage: $0 port NODE"; printf '%s\n' "${PORTS[$1 - 1]}" ;;
    bootstrap) bootstrap ;;
    topics)    node 1 run-class org.apache.kafka.tools.TopicCommand --bootstrap-server "$(bootstrap)" "$@" ;;
    run-class) node 1 run-class "$@" ;;
    reset)     on_nodes reset; rm -f "$ID_FILE" ;;
    *) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2 ;;
  esac
}
main "$@"
