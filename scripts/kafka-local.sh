#!/usr/bin/env bash
# kafka-local.sh — a real single-node Apache Kafka broker (KRaft, combined broker+controller) on
# loopback, for wardgate's integration tests and for developers. No tarball, no Docker: the jars
# come from Maven Central through test/kafka/pom.xml. Reference: docs in the shared kafka.md.
#
# Usage: scripts/kafka-local.sh start|stop|restart|status|kill|pause|resume|ensure-jars
#        scripts/kafka-local.sh tool <main-class> [args...]   run a Kafka CLI class on the same jars
#
#   start        start (or find running) broker; the LAST line of stdout is the bootstrap address
#                127.0.0.1:PORT. Idempotent: when already running it only prints the address.
#   stop         SIGTERM (clean shutdown), wait KAFKA_STOP_TIMEOUT s (default 30), then SIGKILL
#   restart      stop + start on the same data folder and the same port (topics/offsets survive)
#   status       prints "running 127.0.0.1:PORT pid=N [paused]" (exit 0) or "stopped ..." (exit 3)
#   kill         SIGKILL (a crash)
#   pause|resume SIGSTOP / SIGCONT (a hung broker: requests time out instead of being refused)
#   ensure-jars  resolve the jars with Maven (once per version); prints the lib folder last
#   tool         e.g. tool org.apache.kafka.tools.TopicCommand --bootstrap-server 127.0.0.1:P --list
#
# Environment:
#   KAFKA_VERSION   Kafka version (default 4.1.1, or the version the data folder was created with).
#                   3.x (e.g. 3.9.1) resolves the reload4j logging binding (Maven profile reload4j).
#   KAFKA_DIR       data folder (default <repo>/.kafka-local): server.properties, logs/, broker.log,
#                   broker.pid and kafka-local.state (saved ports, version, cluster id).
#   KAFKA_PORT      PLAINTEXT port. Default: a free loopback port chosen on first start and saved in
#                   KAFKA_DIR, so restart reuses it. KAFKA_CONTROLLER_PORT likewise.
#   KAFKA_ADVERTISED_PORT  advertise this port instead of KAFKA_PORT (e.g. a black-hole proxy in
#                   front of the broker). Not saved: applies to this start only.
#   KAFKA_EXTRA_PROPS  a file whose lines are appended to server.properties at this start (later
#                   keys win, so it may redefine listeners=... to add SASL_SSL etc.). Not saved.
#   KAFKA_FORMAT_ARGS  extra shell-quoted args for the one-time storage format, e.g.
#                   --add-scram 'SCRAM-SHA-512=[name=wardgate,password=secret]'
#   KAFKA_HEAP      default "-Xms256m -Xmx512m";  KAFKA_JVM_OPTS  extra broker JVM options
#   KAFKA_GC_OPTS   the collector and its settings (default G1, 20 ms pause goal); npm test sets
#                   -XX:+UseSerialGC and KAFKA_JVM_OPTS=-XX:TieredStopAtLevel=1 (scripts/test.mjs)
#   KAFKA_LIB_DIR   jar folder (default ${XDG_CACHE_HOME:-~/.cache}/wardgate/kafka-lib/<version>)
#   KAFKA_START_TIMEOUT (default 60 s), KAFKA_STOP_TIMEOUT (default 30 s)
#
# Timing, measured (Debian 12, 2 cores, Java 17, Kafka 4.1.1, jars already in the lib folder):
#   first start on an empty folder (format + start) 3.5-5 s (vitest globalSetup: ~3.6 s);
#   restart after a clean stop 3-6 s; start after a SIGKILL 6-7 s (the controller first expires
#   the dead broker's registration, broker.session.timeout.ms below); stop (SIGTERM) 0.5-1.2 s.
#   First jar resolution from ~/.m2 (mvn -o copy-dependencies) ~2.5 s; Kafka 3.9.1 starts alike.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$SCRIPT_DIR/.." && pwd)"
POM="$REPO/test/kafka/pom.xml"
LOG4J2_CONF="$REPO/test/kafka/log4j2.properties"
LOG4J1_CONF="$REPO/test/kafka/log4j.properties"
DEFAULT_VERSION=4.1.1

KAFKA_DIR="${KAFKA_DIR:-$REPO/.kafka-local}"
case "$KAFKA_DIR" in /*) ;; *) KAFKA_DIR="$PWD/$KAFKA_DIR" ;; esac
KAFKA_HEAP="${KAFKA_HEAP:--Xms256m -Xmx512m}"
KAFKA_GC_OPTS="${KAFKA_GC_OPTS:--XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent}"
START_TIMEOUT="${KAFKA_START_TIMEOUT:-60}"
STOP_TIMEOUT="${KAFKA_STOP_TIMEOUT:-30}"
CACHE_ROOT="${XDG_CACHE_HOME:-$HOME/.cache}/wardgate/kafka-lib"

STATE="$KAFKA_DIR/kafka-local.state"
PIDFILE="$KAFKA_DIR/broker.pid"
BROKER_LOG="$KAFKA_DIR/broker.log"
PROPS="$KAFKA_DIR/server.properties"

log() { echo "kafka-local: $*" >&2; }
die() { echo "kafka-local: error: $*" >&2; exit 1; }

# ---------- saved state (KEY=VALUE lines, written only by this script) ----------
state_get() {
  [[ -f "$STATE" ]] || return 0
  local k v
  while IFS='=' read -r k v; do
    if [[ "$k" == "$1" ]]; then printf '%s' "$v"; return 0; fi
  done <"$STATE"
}
state_set() {
  local tmp="$STATE.tmp.$$" k v
  : >"$tmp"
  if [[ -f "$STATE" ]]; then
    while IFS='=' read -r k v; do
      [[ -n "$k" && "$k" != "$1" ]] && printf '%s=%s\n' "$k" "$v" >>"$tmp"
    done <"$STATE"
  fi
  printf '%s=%s\n' "$1" "$2" >>"$tmp"
  mv -f "$tmp" "$STATE"
}

# The version: explicit env, else the one this data folder was created with, else the default.
SAVED_VERSION="$(state_get KAFKA_VERSION)"
KAFKA_VERSION="${KAFKA_VERSION:-${SAVED_VERSION:-$DEFAULT_VERSION}}"
KAFKA_MAJOR="${KAFKA_VERSION%%.*}"
KAFKA_LIB_DIR="${KAFKA_LIB_DIR:-$CACHE_ROOT/$KAFKA_VERSION}"

if [[ "$KAFKA_MAJOR" =~ ^[0-9]+$ ]] && ((KAFKA_MAJOR < 4)); then
  MVN_PROFILE=reload4j
  LOG_OPTS=("-Dlog4j.configuration=file:$LOG4J1_CONF")
else
  MVN_PROFILE=log4j2
  LOG_OPTS=("-Dlog4j2.configurationFile=$LOG4J2_CONF")
fi

# ---------- prerequisites ----------
need_java() {
  command -v java >/dev/null 2>&1 ||
    die "java not found on PATH: Kafka $KAFKA_VERSION needs a Java runtime (17+ for Kafka 4.x; Debian: apt-get install openjdk-17-jre-headless)"
  local line major
  line="$(java -version 2>&1 | head -n 1)"
  major="$(sed -E 's/.*version "([0-9]+)(\.([0-9]+))?.*/\1 \3/' <<<"$line")"
  if [[ "$major" == "1 "* ]]; then major="${major#1 }"; else major="${major%% *}"; fi
  if [[ "$major" =~ ^[0-9]+$ && "$KAFKA_MAJOR" =~ ^[0-9]+$ ]] && ((KAFKA_MAJOR >= 4 && major < 17)); then
    die "java $major found ($line), but Kafka $KAFKA_VERSION needs Java 17+"
  fi
}

jars_stamp() { printf '%s %s %s\n' "$KAFKA_VERSION" "$MVN_PROFILE" "$(sha256sum "$POM" | cut -c1-16)"; }
jars_present() { [[ -f "$KAFKA_LIB_DIR/.complete" && "$(cat "$KAFKA_LIB_DIR/.complete")" == "$(jars_stamp)" ]]; }

ensure_jars() {
  jars_present && return 0
  [[ -f "$POM" ]] || die "Kafka jars for $KAFKA_VERSION are missing from $KAFKA_LIB_DIR and the pom $POM is missing too"
  command -v mvn >/dev/null 2>&1 ||
    die "mvn (Apache Maven) not found on PATH, and the Kafka $KAFKA_VERSION jars are not in $KAFKA_LIB_DIR yet: install Maven (Debian: apt-get install maven) or put the jars there"
  mkdir -p "$(dirname "$KAFKA_LIB_DIR")"
  (
    # One resolver per version at a time (tests and developers may start brokers concurrently).
    flock -w 600 8 || die "timed out waiting for another jar resolution ($KAFKA_LIB_DIR.lock)"
    jars_present && exit 0
    local tmp="$KAFKA_LIB_DIR.tmp.$$" mlog="$KAFKA_LIB_DIR.mvn.log"
    rm -rf "$tmp"
    mkdir -p "$tmp"
    local args=(-B -q -Dstyle.color=never -f "$POM" -P "$MVN_PROFILE" "-Dkafka.version=$KAFKA_VERSION"
      dependency:copy-dependencies "-DoutputDirectory=$tmp" -DincludeScope=runtime)
    log "resolving Kafka $KAFKA_VERSION jars with Maven (profile $MVN_PROFILE) into $KAFKA_LIB_DIR"
    if ! mvn -o "${args[@]}" >"$mlog" 2>&1; then
      log "offline resolution (mvn -o) failed; trying online"
      if ! mvn "${args[@]}" >>"$mlog" 2>&1; then
        tail -n 30 "$mlog" >&2
        rm -rf "$tmp"
        die "could not resolve the Kafka $KAFKA_VERSION jars with Maven (offline and online) from $POM; full output in $mlog"
      fi
    fi
    [[ -f "$tmp/kafka_2.13-$KAFKA_VERSION.jar" ]] ||
      die "Maven ran but kafka_2.13-$KAFKA_VERSION.jar is missing from the resolved jars ($tmp)"
    rm -rf "$KAFKA_LIB_DIR"
    mv "$tmp" "$KAFKA_LIB_DIR"
    jars_stamp >"$KAFKA_LIB_DIR/.complete"
  ) 8>"$KAFKA_LIB_DIR.lock"
}

# ---------- processes and ports ----------
proc_alive() { # pid: exists and is not a zombie (nor a zombie leader whose threads still exit)
  local st tasks
  [[ -r "/proc/$1/stat" ]] || return 1
  st="$(sed -E 's/^.*\) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)" || return 1
  [[ -n "$st" ]] || return 1
  [[ "$st" != Z && "$st" != X ]] && return 0
  # After SIGKILL a JVM's main thread can be a zombie while its other threads still exit; the
  # process's sockets (its listening ports) close only when the last thread is gone.
  tasks="$(ls "/proc/$1/task" 2>/dev/null | wc -l)"
  ((tasks > 1))
}
proc_paused() { [[ "$(sed -E 's/^.*\) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)" == T ]]; }

running_pid() { # prints the broker pid if this KAFKA_DIR's broker is alive
  local pid
  [[ -f "$PIDFILE" ]] || return 1
  pid="$(cat "$PIDFILE" 2>/dev/null)"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  proc_alive "$pid" || return 1
  # guard against pid reuse: it must be a kafka.Kafka on this folder's server.properties
  [[ "$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" == *"kafka.Kafka $PROPS"* ]] || return 1
  printf '%s' "$pid"
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
port_listening() { # someone listens on 127.0.0.1/any:port
  if command -v ss >/dev/null 2>&1; then
    [[ -n "$(ss -Htln "sport = :$1" 2>/dev/null)" ]]
  else
    port_open "$1"
  fi
}
port_used() { # any TCP socket at all on that local port (conservative, for fresh picks)
  if command -v ss >/dev/null 2>&1; then
    [[ -n "$(ss -Htan "sport = :$1" 2>/dev/null)" ]]
  else
    port_open "$1"
  fi
}
pick_free_port() { # [excluded port]; below Linux's ephemeral range so client sockets never collide
  local p i
  for ((i = 0; i < 300; i++)); do
    p=$((20000 + (RANDOM * 32768 + RANDOM) % 12000))
    [[ "$p" == "${1:-}" ]] && continue
    port_used "$p" || { printf '%s' "$p"; return 0; }
  done
  die "no free loopback TCP port found in 20000-31999 (tried 300); set KAFKA_PORT / KAFKA_CONTROLLER_PORT"
}

wait_gone() { # pid timeout-seconds
  local deadline=$((SECONDS + $2))
  while proc_alive "$1"; do
    ((SECONDS >= deadline)) && return 1
    sleep 0.1
  done
}
wait_ports_closed() { # timeout-seconds: this broker's saved ports no longer listen
  local deadline=$((SECONDS + $1)) p busy
  while :; do
    busy=0
    for p in "$(state_get PORT)" "$(state_get CONTROLLER_PORT)"; do
      [[ -n "$p" ]] && port_listening "$p" && busy=1
    done
    ((busy == 0)) && return 0
    ((SECONDS >= deadline)) && return 1
    sleep 0.1
  done
}

# ---------- config, format, start ----------
choose_ports() { # sets PORT and CTRL_PORT; $1=1 forces new picks for ports that were not given
  local force="${1:-0}" saved_p saved_c
  saved_p="$(state_get PORT)"
  saved_c="$(state_get CONTROLLER_PORT)"
  if [[ -n "${KAFKA_PORT:-}" ]]; then
    PORT="$KAFKA_PORT"
  elif [[ -n "$saved_p" && "$force" == 0 ]]; then
    PORT="$saved_p"
  else
    PORT="$(pick_free_port)"
  fi
  if [[ -n "${KAFKA_CONTROLLER_PORT:-}" ]]; then
    CTRL_PORT="$KAFKA_CONTROLLER_PORT"
  elif [[ -n "$saved_c" && "$force" == 0 && "$saved_c" != "$PORT" ]]; then
    CTRL_PORT="$saved_c"
  else
    CTRL_PORT="$(pick_free_port "$PORT")"
  fi
  [[ "$PORT" =~ ^[0-9]+$ && "$CTRL_PORT" =~ ^[0-9]+$ ]] || die "bad port(s): KAFKA_PORT=$PORT controller=$CTRL_PORT"
  [[ "$PORT" != "$CTRL_PORT" ]] || die "KAFKA_PORT and KAFKA_CONTROLLER_PORT must differ ($PORT)"
  local p
  for p in "$PORT" "$CTRL_PORT"; do
    port_listening "$p" &&
      die "port $p (127.0.0.1) is already in use by another process; free it or choose KAFKA_PORT/KAFKA_CONTROLLER_PORT (or use another KAFKA_DIR)"
  done
  state_set PORT "$PORT"
  state_set CONTROLLER_PORT "$CTRL_PORT"
}

write_props() {
  local adv="${KAFKA_ADVERTISED_PORT:-$PORT}"
  cat >"$PROPS" <<EOF
# Written by scripts/kafka-local.sh at every start; edits are overwritten (use KAFKA_EXTRA_PROPS).
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$CTRL_PORT
listeners=PLAINTEXT://127.0.0.1:$PORT,CONTROLLER://127.0.0.1:$CTRL_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$adv
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=$KAFKA_DIR/logs
num.partitions=3
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.num.partitions=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
# Not in kafka.md: after a SIGKILL the restarted broker cannot register until the controller
# expires the old registration (broker.session.timeout.ms, default 9 s). Shorter here: a start
# after kill takes ~5 s instead of ~13 s.
broker.heartbeat.interval.ms=500
broker.session.timeout.ms=3000
EOF
  if [[ -n "${KAFKA_EXTRA_PROPS:-}" ]]; then
    [[ -r "$KAFKA_EXTRA_PROPS" ]] || die "KAFKA_EXTRA_PROPS=$KAFKA_EXTRA_PROPS is not a readable file"
    { echo "# --- appended from KAFKA_EXTRA_PROPS=$KAFKA_EXTRA_PROPS"; cat "$KAFKA_EXTRA_PROPS"; echo; } >>"$PROPS"
  fi
}

new_cluster_id() { # what StorageTool random-uuid prints: 16 random bytes, base64url, no padding
  local id
  while :; do
    id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
    [[ "$id" != -* && "$id" != AAAAAAAAAAAAAAAAAAAAA* ]] && break
  done
  printf '%s' "$id"
}

format_storage() { # once per data folder
  [[ -f "$KAFKA_DIR/logs/meta.properties" ]] && return 0
  local cid extra=() flog="$KAFKA_DIR/format.log"
  cid="$(state_get CLUSTER_ID)"
  [[ -n "$cid" ]] || { cid="$(new_cluster_id)"; state_set CLUSTER_ID "$cid"; }
  if [[ -n "${KAFKA_FORMAT_ARGS:-}" ]]; then eval "extra=($KAFKA_FORMAT_ARGS)"; fi
  if ! java -Xmx256m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC "${LOG_OPTS[@]}" -cp "$KAFKA_LIB_DIR/*" \
    kafka.tools.StorageTool format -t "$cid" -c "$PROPS" --ignore-formatted "${extra[@]}" >"$flog" 2>&1; then
    cat "$flog" >&2
    die "formatting KRaft storage in $KAFKA_DIR/logs failed (kafka.tools.StorageTool format, see above)"
  fi
}

launch() { # starts the JVM detached; sets LAUNCHED_PID and LOG_OFFSET
  LOG_OFFSET=$(($(stat -c %s "$BROKER_LOG" 2>/dev/null || echo 0)))
  printf '\n===== kafka-local start %s: Kafka %s on 127.0.0.1:%s (controller %s)\n' \
    "$(date -Is)" "$KAFKA_VERSION" "$PORT" "$CTRL_PORT" >>"$BROKER_LOG"
  LOG_OFFSET=$((LOG_OFFSET + 1))
  rm -f "$PIDFILE"
  local jvm=($KAFKA_HEAP $KAFKA_GC_OPTS -Djava.awt.headless=true "${LOG_OPTS[@]}" ${KAFKA_JVM_OPTS:-})
  # setsid: own session, so a Ctrl-C in the terminal or the end of the test runner's process
  # group does not hit it; the inner bash writes its pid and execs java (same pid).
  setsid nohup bash -c 'echo $$ >"$0"; exec "$@"' "$PIDFILE" \
    java "${jvm[@]}" -cp "$KAFKA_LIB_DIR/*" kafka.Kafka "$PROPS" \
    </dev/null >>"$BROKER_LOG" 2>&1 8>&- 9>&- &
  local i
  for ((i = 0; i < 100; i++)); do
    [[ -s "$PIDFILE" ]] && break
    sleep 0.05
  done
  LAUNCHED_PID="$(cat "$PIDFILE" 2>/dev/null || echo "$!")"
}

log_since_start() { tail -c "+$LOG_OFFSET" "$BROKER_LOG" 2>/dev/null; }
# (grep on a process substitution, not a pipe: with pipefail, grep -q closing early fails the pipe)
log_has() { grep -q -E "$1" <(log_since_start); }

wait_ready() { # 0 ready, 1 died, 2 timeout
  local deadline=$((SECONDS + START_TIMEOUT))
  while ((SECONDS < deadline)); do
    if ! proc_alive "$LAUNCHED_PID"; then return 1; fi
    if log_has 'Kafka Server started' && port_open "$PORT"; then return 0; fi
    sleep 0.2
  done
  return 2
}

print_tail() {
  echo "----- last lines of $BROKER_LOG -----" >&2
  log_since_start | tail -n "${1:-40}" >&2
  echo "-----" >&2
}

cmd_start() {
  mkdir -p "$KAFKA_DIR"
  exec 9>"$KAFKA_DIR/.lock"
  flock -w 180 9 || die "timed out waiting for another start/stop on $KAFKA_DIR"
  local pid
  if pid="$(running_pid)"; then
    proc_paused "$pid" && log "note: broker pid $pid is paused (SIGSTOP); run: $0 resume"
    echo "127.0.0.1:$(state_get PORT)"
    return 0
  fi
  need_java
  if [[ -n "$SAVED_VERSION" && "$SAVED_VERSION" != "$KAFKA_VERSION" && -f "$KAFKA_DIR/logs/meta.properties" ]]; then
    die "$KAFKA_DIR holds data of Kafka $SAVED_VERSION but KAFKA_VERSION=$KAFKA_VERSION; use another KAFKA_DIR or delete this one"
  fi
  ensure_jars
  state_set KAFKA_VERSION "$KAFKA_VERSION"
  local t0=$SECONDS attempt rc fresh_ports=0
  [[ -z "$(state_get PORT)" ]] && fresh_ports=1
  for attempt in 1 2 3; do
    choose_ports "$((attempt > 1 ? 1 : 0))"
    write_props
    format_storage
    launch
    rc=0
    wait_ready || rc=$?
    if ((rc == 0)); then
      log "Kafka $KAFKA_VERSION ready on 127.0.0.1:$PORT (pid $LAUNCHED_PID, data $KAFKA_DIR) in $((SECONDS - t0)) s"
      echo "127.0.0.1:$PORT"
      return 0
    fi
    if ((rc == 2)); then
      print_tail 60
      kill -KILL "$LAUNCHED_PID" 2>/dev/null || true
      die "Kafka did not become ready within ${START_TIMEOUT}s (no 'Kafka Server started' in $BROKER_LOG and/or port $PORT not open); killed pid $LAUNCHED_PID"
    fi
    # The JVM exited. A port taken between our check and the bind: retry on new ports, but
    # only if the ports were ours to choose (never silently move a port the user gave/saved).
    if ((fresh_ports)) && [[ -z "${KAFKA_PORT:-}${KAFKA_CONTROLLER_PORT:-}" ]] &&
      log_has 'BindException|Address already in use'; then
      log "port race on first start (address already in use); retrying on other ports"
      continue
    fi
    break
  done
  print_tail 60
  die "the Kafka broker exited during startup (see the log tail above; full log $BROKER_LOG)"
}

cmd_stop() { # $1 = TERM or KILL
  local pid sig="${1:-TERM}"
  if [[ -d "$KAFKA_DIR" ]]; then
    exec 9>"$KAFKA_DIR/.lock"
    flock -w 180 9 || die "timed out waiting for another start/stop on $KAFKA_DIR"
  fi
  if ! pid="$(running_pid)"; then
    rm -f "$PIDFILE"
    log "not running ($KAFKA_DIR)"
    return 0
  fi
  local t0=$SECONDS
  if [[ "$sig" == KILL ]]; then
    kill -KILL "$pid" 2>/dev/null || true
    wait_gone "$pid" 10 || die "pid $pid did not die after SIGKILL"
    wait_ports_closed 10 || die "pid $pid died but its port(s) still listen after 10 s"
    log "killed (SIGKILL) pid $pid"
  else
    kill -TERM "$pid" 2>/dev/null || true
    kill -CONT "$pid" 2>/dev/null || true # a paused broker must run to handle SIGTERM
    if ! wait_gone "$pid" "$STOP_TIMEOUT"; then
      log "still running ${STOP_TIMEOUT}s after SIGTERM; sending SIGKILL to pid $pid"
      kill -KILL "$pid" 2>/dev/null || true
      wait_gone "$pid" 10 || die "pid $pid did not die after SIGKILL"
    fi
    log "stopped pid $pid in $((SECONDS - t0)) s"
  fi
  rm -f "$PIDFILE"
}

cmd_signal() { # STOP|CONT
  local pid
  pid="$(running_pid)" || die "not running ($KAFKA_DIR)"
  kill "-$1" "$pid"
  log "sent SIG$1 to pid $pid"
}

cmd_status() {
  local pid port
  port="$(state_get PORT)"
  if pid="$(running_pid)"; then
    if proc_paused "$pid"; then
      echo "running 127.0.0.1:$port pid=$pid paused"
    else
      echo "running 127.0.0.1:$port pid=$pid"
    fi
    return 0
  fi
  if [[ -n "$port" ]]; then echo "stopped 127.0.0.1:$port"; else echo "stopped"; fi
  return 3
}

cmd_tool() {
  [[ $# -ge 1 ]] || die "usage: $0 tool <main-class> [args...]"
  need_java
  ensure_jars
  exec java -Xmx512m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Djava.awt.headless=true \
    "${LOG_OPTS[@]}" -cp "$KAFKA_LIB_DIR/*" "$@"
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop TERM ;;
  restart) cmd_stop TERM; exec 9>&-; cmd_start ;;
  kill) cmd_stop KILL ;;
  pause) cmd_signal STOP ;;
  resume) cmd_signal CONT ;;
  status) cmd_status ;;
  ensure-jars) ensure_jars; echo "$KAFKA_LIB_DIR" ;;
  tool) shift; cmd_tool "$@" ;;
  *)
    echo "usage: $0 start|stop|restart|status|kill|pause|resume|ensure-jars|tool <class> [args]" >&2
    exit 2
    ;;
esac
