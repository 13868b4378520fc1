#!/usr/bin/env bash
# The newcomer's first command: install what is needed, start a local Kafka, run a simulated
# 10-bed ward into it for 40 s with the live view, with Kafka cut off from 10 s to 25 s through a
# local proxy (store and forward: the ward keeps being buffered, the backlog drains when Kafka
# returns), then show what an independent consumer (kcat, no wardgate code) reads back from Kafka.
#   BEDS, DURATION, OUTAGE (<duration>@<start>, empty for none), KAFKA_DIR, KAFKA_PORT can be set
#   in the environment.
set -euo pipefail
cd "$(dirname "$0")/.."
BEDS=${BEDS:-10}
DURATION=${DURATION:-40s}
OUTAGE=${OUTAGE-15s@10s}

echo "== 1/4 installing dependencies"
bash scripts/install-deps.sh >/dev/null
npm run -s build

echo "== 2/4 starting a local Kafka (scripts/kafka-local.sh)"
BROKERS=$(bash scripts/kafka-local.sh start | tail -n 1)
echo "Kafka at $BROKERS"

DATA=$(mktemp -d -t wardgate-demo-XXXXXX)
echo "== 3/4 wardgate simulate --beds $BEDS --duration $DURATION ${OUTAGE:+--outage $OUTAGE }(data in $DATA)"
node bin/wardgate.js simulate --beds "$BEDS" --duration "$DURATION" --brokers "$BROKERS" --data "$DATA" ${OUTAGE:+--outage "$OUTAGE"}
node bin/wardgate.js status --data "$DATA"

echo "== 4/4 what an independent consumer (kcat) read back from Kafka"
for topic in ward.alarms ward.vitals ward.status ward.waveforms; do
  n=$(kcat -b "$BROKERS" -C -t "$topic" -o beginning -e -q -f 'x\n' 2>/dev/null | wc -l || true)
  printf '  %-16s %8s messages\n' "$topic" "$n"
done
echo "two messages from ward.vitals (key, headers, body):"
kcat -b "$BROKERS" -C -t ward.vitals -o beginning -c 2 -e -q -f 'key=%k\nheaders=%h\n%s\n\n' 2>/dev/null \
  | sed 's/^/  /'
if kcat -b "$BROKERS" -C -t ward.alarms -o beginning -c 1 -e -q -f '%s\n' 2>/dev/null | grep -q .; then
  echo "one alarm from ward.alarms:"
  kcat -b "$BROKERS" -C -t ward.alarms -o beginning -c 1 -e -q -f '  %s\n' 2>/dev/null
fi
echo
echo "Kafka keeps running for more experiments; stop it with: bash scripts/kafka-local.sh stop"
