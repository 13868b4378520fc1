#!/usr/bin/env bash
# Installs everything wardgate's tests and the local Kafka need on a fresh Debian 12
# machine with Node 20 and Java 17: Debian packages, npm packages, the Kafka jars, and the
# HAPI FHIR / HL7 v2 validator jars and classes the format tests use.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
[ -d /usr/include/node ] && export npm_config_nodedir=/usr

need=()
# strace and eatmydata: the power-loss harness (test/buffer/power-loss.test.ts) records system calls,
# and running the unit project under eatmydata (fsync a no-op) must make it fail. faketime: the
# clock-jump test steps the wall clock of a running gateway (test/cli/clock-jump-process.test.ts).
for bin in socat:socat mosquitto:mosquitto kcat:kcat openssl:openssl systemd-analyze:systemd strace:strace eatmydata:eatmydata faketime:faketime; do
  command -v "${bin%%:*}" >/dev/null 2>&1 || [ -x "/usr/sbin/${bin%%:*}" ] || need+=("${bin##*:}")
done
# PostgreSQL server (initdb, pg_ctl under /usr/lib/postgresql/<ver>/bin) for scripts/postgres-local.sh
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || need+=(postgresql)
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "installing Debian packages: ${need[*]}"
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
# Operations tooling the tests use (test/systemd, test/metrics, test/package): systemd-analyze
# (unit checks), promtool (alert rules, Debian's prometheus package; its service is not needed),
# lintian and readelf (the .deb).
ops=()
for bin in promtool:prometheus lintian:lintian readelf:binutils dpkg-deb:dpkg; do
  command -v "${bin%%:*}" >/dev/null 2>&1 || ops+=("${bin##*:}")
done
if [ ${#ops[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "installing Debian packages: ${ops[*]}"
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${ops[@]}" >/dev/null
fi
for bin in java mvn node npm; do
  command -v "$bin" >/dev/null 2>&1 || { echo "missing $bin: wardgate needs Node 20, Java 17 and Maven" >&2; exit 1; }
done

npm ci --no-audit --no-fund
bash scripts/kafka-local.sh ensure-jars
bash scripts/clinical-validators.sh ensure >/dev/null
