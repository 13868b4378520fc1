#!/bin/bash
# Copied into the container by test/systemd/nspawn-boot.sh and run there once at boot.
# Runs once at boot inside the container: is wardgate up as Type=notify, does the watchdog restart a stalled process, does Restart=on-failure restart a killed one?
exec > /probe.log 2>&1
show() { systemctl show wardgate -p ActiveState -p SubState -p Type -p WatchdogUSec -p NRestarts -p MainPID -p StatusText -p Result; }
echo "== boot: $(date -u +%T)"; systemctl is-system-running
for i in $(seq 1 90); do [ "$(systemctl show wardgate -p ActiveState --value)" = active ] && break; sleep 1; done
echo "== after start ($i s)"; show
PID=$(systemctl show wardgate -p MainPID --value)
# Not running (MainPID 0): say why and stop here; kill -STOP 0 would stop this script's own process group.
if [ "$PID" = 0 ]; then
  echo "== not running: journal"; journalctl -u wardgate --no-pager -o cat | tail -n 40
  systemctl poweroff; exit 1
fi
echo "== SIGSTOP $PID (stalled event loop): the watchdog (30 s) must abort and restart it"
kill -STOP "$PID"
for i in $(seq 1 75); do [ "$(systemctl show wardgate -p NRestarts --value)" -ge 1 ] && break; sleep 1; done
echo "== after $i s"; show
for i in $(seq 1 60); do [ "$(systemctl show wardgate -p ActiveState --value)" = active ] && break; sleep 1; done
PID=$(systemctl show wardgate -p MainPID --value)
echo "== SIGKILL $PID: Restart=on-failure"
kill -KILL "$PID"
for i in $(seq 1 60); do [ "$(systemctl show wardgate -p NRestarts --value)" -ge 2 ] && [ "$(systemctl show wardgate -p ActiveState --value)" = active ] && break; sleep 1; done
echo "== after $i s"; show
echo "== systemctl reload (ExecReload: SIGHUP; RELOADING=1 then READY=1)"
PID=$(systemctl show wardgate -p MainPID --value)
systemctl reload wardgate && echo "reload returned 0"
echo "== after reload"; show
[ "$(systemctl show wardgate -p MainPID --value)" = "$PID" ] && echo "same main process after reload"
journalctl -b -u wardgate --no-pager -o cat | grep -c 'SIGHUP: the configuration file is unchanged' | sed 's/^/unchanged-notices: /'
echo "== journal"; journalctl -u wardgate --no-pager -o cat | grep -v '"level":30' | tail -n 40
echo "== status"; wardgate status --config /etc/wardgate/wardgate.yaml 2>&1 | head -20
echo "== systemctl stop (STOPPING=1, exit 0)"
systemctl stop wardgate; show
echo "== end $(date -u +%T)"
systemctl poweroff
