#!/usr/bin/env bash
# wardgate under systemd as PID 1 (issue 14 item 2), in a container: debootstrap a minimal Debian
# bookworm (the mirror apt uses here), install the amd64 package in it (dpkg --force-depends, with
# this machine's Node 20 copied in as /usr/bin/node: no Node 20 .deb is in the Debian mirror), boot
# it with systemd-nspawn, and let test/systemd/nspawn-probe.sh (a oneshot unit after
# wardgate.service) check: active as Type=notify with READY's status text, a SIGSTOP'd process
# aborted by the watchdog (WatchdogSec=30s) and restarted, a SIGKILL'd one restarted
# (Restart=on-failure), then `systemctl reload` (same process, the gateway's SIGHUP notice) and
# `systemctl stop` (a clean stop). It writes /probe.log in the container and powers it off.
#
# Needs root, systemd-container and debootstrap (apt-get install systemd-container debootstrap),
# dist/deb/wardgate_<version>_amd64.deb (WARDGATE_DEB_ARCHS=amd64 scripts/package-deb.sh). About
# 5 minutes (debootstrap 2-3, the probe about 1.5). Not in `npm test`: it downloads ~100 MB of
# Debian packages and needs a machine that lets nspawn boot (it did on the CI machine of
# 2026-12-06: cgroup v1, CAP_SYS_ADMIN, user namespaces).
set -euo pipefail
cd "$(dirname "$0")/../.."
VERSION=$(node -p 'require("./package.json").version')
DEB=${1:-dist/deb/wardgate_${VERSION}_amd64.deb}
ROOT=${WARDGATE_NSPAWN_ROOT:-/var/tmp/wardgate-nspawn}
MIRROR=$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n 1)
MIRROR=${MIRROR:-http://deb.debian.org/debian}
[ -f "$DEB" ] || { echo "no $DEB: WARDGATE_DEB_ARCHS=amd64 scripts/package-deb.sh" >&2; exit 2; }
if [ ! -x "$ROOT/lib/systemd/systemd" ]; then
  rm -rf "$ROOT"
  debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus,ca-certificates,procps bookworm "$ROOT" "$MIRROR"
fi
# procps (kill, for ExecReload) is in the package's Depends; a root made before it was added gets it now.
# (A wardgate installed there before without nodejs would block apt: it is removed first; it is installed again below.)
[ -e "$ROOT/usr/bin/kill" ] ||
  systemd-nspawn -q -D "$ROOT" --register=no --keep-unit sh -c 'dpkg -r wardgate >/dev/null 2>&1; apt-get update -qq && apt-get install -y -qq procps >/dev/null'
cp "$(command -v node)" "$ROOT/usr/bin/node"
cp "$DEB" "$ROOT/root/wardgate.deb"
install -m 0755 test/systemd/nspawn-probe.sh "$ROOT/usr/local/bin/wardgate-probe.sh"
cat > "$ROOT/etc/systemd/system/wardgate-probe.service" <<'UNIT'
[Unit]
Description=wardgate probe (test)
After=wardgate.service
[Service]
Type=oneshot
ExecStart=/usr/local/bin/wardgate-probe.sh
[Install]
WantedBy=multi-user.target
UNIT
mkdir -p "$ROOT/etc/systemd/system/multi-user.target.wants"
ln -sf /etc/systemd/system/wardgate-probe.service "$ROOT/etc/systemd/system/multi-user.target.wants/wardgate-probe.service"
# nspawn mounts a tmpfs on /tmp: the package goes through /root.
systemd-nspawn -q -D "$ROOT" --register=no --keep-unit dpkg -i --force-depends /root/wardgate.deb
rm -f "$ROOT/probe.log"
timeout 600 systemd-nspawn -q -D "$ROOT" --boot --register=no --keep-unit >/dev/null 2>&1 || true
cat "$ROOT/probe.log"
p=$ROOT/probe.log
grep -q '^StatusText=gateway .* running' "$p" || { echo "FAIL: not ready as Type=notify" >&2; exit 1; }
grep -q 'Watchdog timeout (limit 30s)' "$p" || { echo "FAIL: the watchdog did not fire on the stalled process" >&2; exit 1; }
grep -q 'restart counter is at 2' "$p" || { echo "FAIL: not restarted after SIGKILL" >&2; exit 1; }
[ "$(grep -c '^ActiveState=active' "$p")" -ge 2 ] || { echo "FAIL: not active again after the restarts" >&2; exit 1; }
grep -q '^reload returned 0' "$p" && grep -q '^same main process after reload' "$p" || { echo "FAIL: systemctl reload" >&2; exit 1; }
grep -q '^unchanged-notices: [1-9]' "$p" || { echo "FAIL: the reload did not reach the gateway (no SIGHUP notice)" >&2; exit 1; }
sed -n '/^== systemctl stop/,$p' "$p" | grep -q '^Result=success' || { echo "FAIL: systemctl stop did not end cleanly" >&2; exit 1; }
echo "ok: Type=notify ready, watchdog restart, restart on failure, reload, clean stop (systemd $(systemd-nspawn -q -D "$ROOT" --register=no --keep-unit systemctl --version | head -n 1))"
