#!/usr/bin/env bash
# postgres-local.sh — a throwaway PostgreSQL cluster on loopback, for the reference consumer's
# tests (examples/consumer) and for trying it by hand. Debian's own server binaries
# (/usr/lib/postgresql/<ver>/bin: initdb, pg_ctl, psql from the `postgresql` package), no Docker,
# nothing of the system's own cluster (port 5432, /var/lib/postgresql) is touched.
#
# Usage: scripts/postgres-local.sh start|stop|status|url
#
#   start   initdb (first time) + pg_ctl start in PG_DIR on a free 127.0.0.1 port; creates the
#           role and database `wardgate` (password auth over TCP). Idempotent: when already
#           running it only prints the URL. The LAST line of stdout is the connection URL
#           postgres://wardgate:<password>@127.0.0.1:<port>/wardgate
#   stop    pg_ctl stop -m fast, then deletes PG_DIR (throwaway), unless PG_KEEP=1
#   status  prints "running <url>" (exit 0) or "stopped" (exit 3)
#   url     prints the URL of the cluster in PG_DIR (exit 1 when none was created)
#
# Environment:
#   PG_DIR      data folder (default ${TMPDIR:-/tmp}/wardgate-postgres-local). Holds data/, the
#               server log (postgres.log), the socket, and postgres-local.state (port, password).
#   PG_PORT     port (default: a free loopback port, chosen at the first start and saved)
#   PG_VERSION  server version under /usr/lib/postgresql (default: the highest installed)
#   PG_KEEP=1   stop keeps PG_DIR
#
# PostgreSQL refuses to run as root. Run as root, the script runs the server as the `postgres`
# system user that Debian's package creates (runuser), and gives it PG_DIR; otherwise it runs
# as the calling user.
set -euo pipefail

PG_DIR="${PG_DIR:-${TMPDIR:-/tmp}/wardgate-postgres-local}"
case "$PG_DIR" in /*) ;; *) PG_DIR="$PWD/$PG_DIR" ;; esac
DATA="$PG_DIR/data"
STATE="$PG_DIR/postgres-local.state"
LOG="$PG_DIR/postgres.log"
SOCK="$PG_DIR/sock"

log() { echo "postgres-local: $*" >&2; }
die() { echo "postgres-local: error: $*" >&2; exit 1; }

find_bin() {
  local ver="${PG_VERSION:-}"
  if [[ -z "$ver" ]]; then
    ver="$(ls /usr/lib/postgresql 2>/dev/null | sort -V | tail -1 || true)"
  fi
  [[ -n "$ver" && -x "/usr/lib/postgresql/$ver/bin/initdb" ]] ||
    die "no PostgreSQL server binaries under /usr/lib/postgresql${ver:+/$ver} (install Debian's 'postgresql' package: scripts/install-deps.sh)"
  BIN="/usr/lib/postgresql/$ver/bin"
}

# Runs a command as the cluster's owner (postgres when we are root).
as_owner() {
  if [[ "$(id -u)" -eq 0 ]]; then
    id postgres >/dev/null 2>&1 || die "running as root needs the 'postgres' system user (created by Debian's postgresql package)"
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

state_get() { [[ -f "$STATE" ]] && sed -n "s/^$1=//p" "$STATE" | tail -1 || true; }

free_port() {
  node -e "const s=require('net').createServer();s.listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"
}

url() {
  local port pass
  port="$(state_get PORT)"; pass="$(state_get PASSWORD)"
  [[ -n "$port" && -n "$pass" ]] || return 1
  echo "postgres://wardgate:$pass@127.0.0.1:$port/wardgate"
}

running() { [[ -d "$DATA" ]] && as_owner "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; }

cmd_start() {
  find_bin
  if running; then url; return 0; fi
  mkdir -p "$PG_DIR"
  chmod 0700 "$PG_DIR"
  [[ "$(id -u)" -eq 0 ]] && chown postgres: "$PG_DIR"
  if [[ ! -f "$DATA/PG_VERSION" ]]; then
    local pass pwfile
    pass="$(head -c 18 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 20)"
    pwfile="$PG_DIR/pwfile"
    printf '%s\n' "$pass" >"$pwfile"
    [[ "$(id -u)" -eq 0 ]] && chown postgres: "$pwfile"
    as_owner "$BIN/initdb" -D "$DATA" -U wardgate --pwfile="$pwfile" --auth-local=trust --auth-host=scram-sha-256 \
      -E UTF8 --locale=C.UTF-8 >"$PG_DIR/initdb.log" 2>&1 || { cat "$PG_DIR/initdb.log" >&2; die "initdb failed"; }
    rm -f "$pwfile"
    local port="${PG_PORT:-$(free_port)}"
    printf 'PORT=%s\nPASSWORD=%s\nVERSION=%s\n' "$port" "$pass" "$(basename "$(dirname "$BIN")")" >"$STATE"
    chmod 0600 "$STATE"
    log "initialised $DATA (port $port)"
  fi
  local port; port="$(state_get PORT)"
  as_owner mkdir -p "$SOCK"
  # fsync off: a throwaway test cluster, nothing to keep across a power cut.
  as_owner "$BIN/pg_ctl" -D "$DATA" -l "$LOG" -w -t 60 start \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $SOCK -c fsync=off -c full_page_writes=off" >&2 ||
    { tail -30 "$LOG" >&2 || true; die "pg_ctl start failed (port $port)"; }
  if ! as_owner "$BIN/psql" -h "$SOCK" -p "$port" -U wardgate -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname='wardgate'" | grep -q 1; then
    as_owner "$BIN/psql" -h "$SOCK" -p "$port" -U wardgate -d postgres -qc 'CREATE DATABASE wardgate' >&2
  fi
  url
}

cmd_stop() {
  find_bin
  if running; then as_owner "$BIN/pg_ctl" -D "$DATA" -m fast -w -t 60 stop >&2; fi
  if [[ "${PG_KEEP:-0}" != 1 && -d "$PG_DIR" ]]; then rm -rf "$PG_DIR"; log "removed $PG_DIR"; fi
}

cmd_status() {
  find_bin
  if running; then echo "running $(url)"; else echo stopped; exit 3; fi
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  url) url || die "no cluster in $PG_DIR" ;;
  *) echo "usage: $0 start|stop|status|url   (PG_DIR=$PG_DIR)" >&2; exit 2 ;;
esac
