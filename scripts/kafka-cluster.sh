#!/usr/bin/env bash
# kafka-cluster.sh — a real 3-node Apache Kafka cluster (KRaft, every node a combined
# broker+controller) on loopback, built on scripts/kafka-local.sh: one kafka-local data folder per
# node, one shared cluster id and one static controller quorum. For failover tests and benchmarks.
#
# Usage: scripts/kafka-cluster.sh start              start every node (in parallel: a quorum of 3
#                                                    needs 2 voters up before any node is ready);
#                                                    the LAST line of stdout is the bootstrap list
#        scripts/kafka-cluster.sh start|stop|kill|pause|resume|restart N   one node (1..3)
#        scripts/kafka-cluster.sh stop|kill          every node
#        scripts/kafka-cluster.sh init               choose ports and cluster id (no start); prints
#                                                    the bootstrap list (to point proxies at a node)
#        scripts/kafka-cluster.sh status             one line per node; exit 0 when all run
#        scripts/kafka-cluster.sh bootstrap          prints the bootstrap list
#        scripts/kafka-cluster.sh port N             prints node N's broker address
#        scripts/kafka-cluster.sh tool <class> [args...]   a Kafka CLI class on the same jars
#
# Environment:
#   KAFKA_CLUSTER_DIR  folder of the cluster (default <repo>/.kafka-cluster): node1/ node2/ node3/
#                      (each a KAFKA_DIR of kafka-local.sh) and cluster.state (ports, cluster id)
#   KAFKA_CLUSTER_NODES  number of nodes (default 3; 1 to 5)
#   KAFKA_HEAP         per node (default "-Xms192m -Xmx384m")
#   KAFKA_VERSION, KAFKA_LIB_DIR, KAFKA_START_TIMEOUT, KAFKA_STOP_TIMEOUT: as for kafka-local.sh
#   KAFKA_EXTRA_PROPS  a file appended after the cluster's own properties on every node
#   KAFKA_ADVERTISED_PORT_N  node N advertises this port instead of its own (a proxy in front of
#                      it: clients and the other brokers then reach node N only through the proxy)
#
# What each node gets on top of kafka-local.sh's single-node properties: its node.id, the shared
# controller.quorum.voters, default.replication.factor=3 and min.insync.replicas=2 (so acks=all
# needs two replicas), internal topics at RF 3, unclean leader election off (Kafka's default,
# stated), and auto leader rebalance after a node returns.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$SCRIPT_DIR/.." && pwd)"
LOCAL="$SCRIPT_DIR/kafka-local.sh"
CDIR="${KAFKA_CLUSTER_DIR:-$REPO/.kafka-cluster}"
case "$CDIR" in /*) ;; *) CDIR="$PWD/$CDIR" ;; esac
NODES="${KAFKA_CLUSTER_NODES:-3}"
[[ "$NODES" =~ ^[1-5]$ ]] || { echo "kafka-cluster: error: KAFKA_CLUSTER_NODES must be 1..5" >&2; exit 2; }
export KAFKA_HEAP="${KAFKA_HEAP:--Xms192m -Xmx384m}"
CSTATE="$CDIR/cluster.state"

log() { echo "kafka-cluster: $*" >&2; }
die() { echo "kafka-cluster: error: $*" >&2; exit 1; }

cstate_get() {
  [[ -f "$CSTATE" ]] || return 0
  local k v
  while IFS='=' read -r k v; do [[ "$k" == "$1" ]] && { printf '%s' "$v"; return 0; }; done <"$CSTATE"
}
cstate_set() { printf '%s=%s\n' "$1" "$2" >>"$CSTATE"; }

port_used() { [[ -n "$(ss -Htan "sport = :$1" 2>/dev/null)" ]] || (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
pick_port() {
  local p i taken=" $* "
  for ((i = 0; i < 300; i++)); do
    p=$((20000 + (RANDOM * 32768 + RANDOM) % 12000))
    [[ "$taken" == *" $p "* ]] && continue
    port_used "$p" || { printf '%s' "$p"; return 0; }
  done
  die "no free loopback port found in 20000-31999"
}

# Ports and cluster id are chosen once per cluster folder and kept, so a node restarts where it was.
init_cluster() {
  mkdir -p "$CDIR"
  exec 7>"$CDIR/.lock"
  flock -w 120 7 || die "timed out waiting for another kafka-cluster.sh on $CDIR"
  if [[ -z "$(cstate_get CLUSTER_ID)" ]]; then
    local id used=() i p c
    while :; do
      id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
      [[ "$id" != -* ]] && break
    done
    : >"$CSTATE"
    cstate_set CLUSTER_ID "$id"
    cstate_set NODES "$NODES"
    for ((i = 1; i <= NODES; i++)); do
      p="$(pick_port "${used[@]}")"; used+=("$p")
      c="$(pick_port "${used[@]}")"; used+=("$c")
      cstate_set "PORT_$i" "$p"
      cstate_set "CONTROLLER_PORT_$i" "$c"
    done
  fi
  NODES="$(cstate_get NODES)"
  exec 7>&-
}

voters() {
  local i out=""
  for ((i = 1; i <= NODES; i++)); do out+="${out:+,}$i@127.0.0.1:$(cstate_get "CONTROLLER_PORT_$i")"; done
  printf '%s' "$out"
}
bootstrap() {
  local i out=""
  for ((i = 1; i <= NODES; i++)); do out+="${out:+,}127.0.0.1:$(cstate_get "PORT_$i")"; done
  printf '%s' "$out"
}

node_props() { # node -> path of the extra-properties file for kafka-local.sh
  local n="$1" f="$CDIR/node$1.props" rf=$((NODES < 3 ? NODES : 3)) isr
  isr=$((rf > 1 ? 2 : 1))
  cat >"$f" <<EOF
node.id=$n
controller.quorum.voters=$(voters)
default.replication.factor=$rf
min.insync.replicas=$isr
offsets.topic.replication.factor=$rf
transaction.state.log.replication.factor=$rf
transaction.state.log.min.isr=$isr
share.coordinator.state.topic.replication.factor=$rf
unclean.leader.election.enable=false
auto.leader.rebalance.enable=true
leader.imbalance.check.interval.seconds=10
EOF
  if [[ -n "${KAFKA_EXTRA_PROPS:-}" ]]; then cat "$KAFKA_EXTRA_PROPS" >>"$f"; fi
  printf '%s' "$f"
}

node_env() { # node -> runs kafka-local.sh with that node's environment
  local n="$1"; shift
  local dir="$CDIR/node$n"
  mkdir -p "$dir"
  # The shared cluster id goes into the node's kafka-local state before its one-time format.
  if ! grep -q '^CLUSTER_ID=' "$dir/kafka-local.state" 2>/dev/null; then
    echo "CLUSTER_ID=$(cstate_get CLUSTER_ID)" >>"$dir/kafka-local.state"
  fi
  local adv_var="KAFKA_ADVERTISED_PORT_$n"
  local adv="${!adv_var:-}"
  KAFKA_ADVERTISED_PORT="$adv" KAFKA_DIR="$dir" KAFKA_PORT="$(cstate_get "PORT_$n")" KAFKA_CONTROLLER_PORT="$(cstate_get "CONTROLLER_PORT_$n")" \
    KAFKA_EXTRA_PROPS="$(node_props "$n")" bash "$LOCAL" "$@"
}

check_node() { [[ "$1" =~ ^[0-9]+$ ]] && (($1 >= 1 && $1 <= NODES)) || die "node must be 1..$NODES (got '$1')"; }

start_all() {
  bash "$LOCAL" ensure-jars >/dev/null
  local i pids=() rc=0
  for ((i = 1; i <= NODES; i++)); do
    node_env "$i" start >"$CDIR/node$i.start.out" 2>"$CDIR/node$i.start.err" &
    pids+=($!)
  done
  for ((i = 1; i <= NODES; i++)); do
    if ! wait "${pids[$((i - 1))]}"; then
      rc=1
      log "node $i failed to start:"
      tail -n 40 "$CDIR/node$i.start.err" >&2
    fi
  done
  ((rc == 0)) || die "the cluster did not start (logs in $CDIR/node*/broker.log)"
  log "cluster of $NODES ready (data $CDIR)"
  bootstrap; echo
}

each_node() { local i; for ((i = 1; i <= NODES; i++)); do node_env "$i" "$@" || true; done; }

status_all() {
  local i rc=0 line
  for ((i = 1; i <= NODES; i++)); do
    line="$(node_env "$i" status 2>/dev/null)" || rc=3
    echo "node $i: $line"
  done
  return $rc
}

cmd="${1:-}"
case "$cmd" in
  init) init_cluster; bootstrap; echo ;;
  start | stop | kill | pause | resume | restart | status | bootstrap | port)
    if [[ "$cmd" != start && ! -f "$CSTATE" ]]; then
      log "no cluster in $CDIR (start it first)"
      [[ "$cmd" == stop || "$cmd" == kill ]] && exit 0
      exit 3
    fi
    init_cluster
    if [[ $# -ge 2 ]]; then
      check_node "$2"
      case "$cmd" in
        port) echo "127.0.0.1:$(cstate_get "PORT_$2")" ;;
        start) node_env "$2" start >/dev/null; bootstrap; echo ;;
        *) node_env "$2" "$cmd" ;;
      esac
    else
      case "$cmd" in
        start) start_all ;;
        stop) each_node stop ;;
        kill) each_node kill ;;
        pause | resume) each_node "$cmd" ;;
        restart) each_node stop; start_all ;;
        status) status_all ;;
        bootstrap) bootstrap; echo ;;
        port) die "usage: $0 port N" ;;
      esac
    fi
    ;;
  tool) shift; exec bash "$LOCAL" tool "$@" ;;
  *)
    echo "usage: $0 start|stop|kill|pause|resume|restart [N] | status | bootstrap | port N | tool <class> [args]" >&2
    exit 2
    ;;
esac
