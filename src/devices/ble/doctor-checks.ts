/**
 * `wardgate doctor` checks for a BLE adapter on a raw HCI socket (Linux): the adapter exists,
 * rfkill does not block it, it is powered, BlueZ's bluetoothd is not holding it, and the
 * service will have CAP_NET_RAW and CAP_NET_ADMIN. Each check says what to fix. The system
 * is read under injectable roots (/sys, /proc, /etc) so tests run against real files laid out
 * like a Pi's; whether the adapter is up comes from a probe (the HCI device list).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { BleConfig } from './config.js';
import { capabilities } from './preflight.js';

export interface BleDoctorCheck {
  name: string;
  status: 'ok' | 'warn' | 'fail';
  message: string;
  fix?: string;
}

export interface SystemRoots {
  sys: string;
  proc: string;
  etc: string;
}

export interface BleDoctorEnv {
  roots: SystemRoots;
  /** Whether hciN is up: true/false, or null when it cannot be told. */
  powered: (deviceId: number) => boolean | null;
  /** Effective user id of this process (0: root has every capability). */
  uid: number;
}

const require = createRequire(import.meta.url);

/** hciN's UP flag from the kernel's HCI device list (noble's native binding); null when it cannot be read. */
function hciPowered(deviceId: number): boolean | null {
  try {
    const Native = (require('@stoprocent/bluetooth-hci-socket') as { loadDriver(t: string): new () => unknown }).loadDriver('native');
    const s = new Native() as { bindControl(): void; getDeviceList(): { devId: number; devUp: boolean }[] };
    s.bindControl();
    const d = s.getDeviceList().find((x) => x.devId === deviceId);
    return d ? d.devUp : null;
  } catch {
    return null;
  }
}

const systemEnv = (): BleDoctorEnv => ({
  roots: { sys: '/sys', proc: '/proc', etc: '/etc' },
  powered: hciPowered,
  uid: process.getuid?.() ?? -1,
});

function read(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return undefined;
  }
}

function list(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** The rfkill switches of hciN: the one under its sysfs folder (hci0/rfkill0), else every Bluetooth one. */
function rfkillOf(sys: string, hci: string): { name: string; soft: boolean; hard: boolean }[] {
  const own = list(join(sys, 'class/bluetooth', hci)).filter((d) => /^rfkill\d+$/.test(d));
  const names = own.length > 0 ? own : list(join(sys, 'class/rfkill')).filter((d) => read(join(sys, 'class/rfkill', d, 'type')) === 'bluetooth');
  return names.map((name) => {
    const base = join(sys, 'class/rfkill', name);
    return { name, soft: read(join(base, 'soft')) === '1', hard: read(join(base, 'hard')) === '1' };
  });
}

function bluetoothdRunning(proc: string): boolean {
  return list(proc).some((pid) => /^\d+$/.test(pid) && read(join(proc, pid, 'comm')) === 'bluetoothd');
}

/** systemd unit files and drop-ins of wardgate.service that grant both capabilities. */
function capabilityDropIns(etc: string): string[] {
  const out: string[] = [];
  for (const dir of ['systemd/system/wardgate.service.d']) {
    for (const f of list(join(etc, dir)).filter((x) => x.endsWith('.conf'))) {
      const text = read(join(etc, dir, f)) ?? '';
      const ambient = text
        .split('\n')
        .filter((l) => /^\s*AmbientCapabilities\s*=/.test(l))
        .join(' ');
      if (/\bCAP_NET_RAW\b/.test(ambient) && /\bCAP_NET_ADMIN\b/.test(ambient)) out.push(join(etc, dir, f));
    }
  }
  return out;
}

/** The BLE checks; none when BLE is not configured or is disabled. */
export function bleDoctorChecks(ble: Partial<Pick<BleConfig, 'enabled' | 'hci'>> | undefined, env: BleDoctorEnv = systemEnv()): BleDoctorCheck[] {
  if (!ble || ble.enabled === false) return [];
  const { sys, proc, etc } = env.roots;
  const uart = ble.hci?.uart?.port;
  if (uart)
    return [
      existsSync(uart)
        ? { name: 'bluetooth', status: 'ok', message: `HCI UART ${uart} present` }
        : { name: 'bluetooth', status: 'fail', message: `HCI UART ${uart} not present`, fix: 'connect the controller or fix devices.ble.hci.uart.port' },
    ];
  const id = ble.hci?.deviceId ?? 0;
  const hci = `hci${id}`;
  const adapters = list(join(sys, 'class/bluetooth')).filter((d) => /^hci\d+$/.test(d));
  const out: BleDoctorCheck[] = [];

  if (!adapters.includes(hci)) {
    out.push({
      name: 'bluetooth adapter',
      status: 'fail',
      message: `no Bluetooth adapter ${hci} (${sys}/class/bluetooth has ${adapters.length ? adapters.join(', ') : 'none'})`,
      fix: adapters.length
        ? `set devices.ble.hci.deviceId to one of ${adapters.map((a) => a.slice(3)).join(', ')}`
        : 'plug the adapter in (lsusb), or enable the on-board one (dtparam / remove dtoverlay=disable-bt in /boot/firmware/config.txt)',
    });
  } else {
    out.push({ name: 'bluetooth adapter', status: 'ok', message: `${hci} present` });
    const rf = rfkillOf(sys, hci);
    const hard = rf.filter((r) => r.hard);
    const soft = rf.filter((r) => r.soft);
    if (hard.length)
      out.push({
        name: 'bluetooth rfkill',
        status: 'fail',
        message: `${hci} is hard-blocked (${hard.map((r) => r.name).join(', ')}): a switch or the firmware turned the radio off`,
        fix: 'check the hardware switch or firmware setting; rfkill list shows the state',
      });
    else if (soft.length)
      out.push({
        name: 'bluetooth rfkill',
        status: 'fail',
        message: `${hci} is soft-blocked (${soft.map((r) => r.name).join(', ')})`,
        fix: 'sudo rfkill unblock bluetooth (and make it stick: systemd-rfkill saves the state)',
      });
    else out.push({ name: 'bluetooth rfkill', status: 'ok', message: rf.length ? `not blocked (${rf.map((r) => r.name).join(', ')})` : 'no rfkill switch' });
    const up = hard.length || soft.length ? false : env.powered(id);
    if (up === true) out.push({ name: 'bluetooth power', status: 'ok', message: `${hci} is up` });
    else if (up === false)
      out.push({
        name: 'bluetooth power',
        status: 'fail',
        message: `${hci} is down (powered off)`,
        fix: `sudo btmgmt --index ${id} power on (or sudo hciconfig ${hci} up)`,
      });
    else
      out.push({
        name: 'bluetooth power',
        status: 'warn',
        message: `cannot tell whether ${hci} is up (the HCI device list could not be read)`,
        fix: `check with: hciconfig ${hci} (UP RUNNING) or btmgmt --index ${id} info`,
      });
  }

  if (bluetoothdRunning(proc)) {
    const alone = adapters.length <= 1;
    out.push({
      name: 'bluetoothd',
      status: alone ? 'fail' : 'warn',
      message: alone
        ? `BlueZ's bluetoothd is running and owns ${hci}, the only adapter: noble's HCI socket would compete with it`
        : `BlueZ's bluetoothd is running; it manages every adapter, ${hci} included, unless told otherwise`,
      fix: alone
        ? 'sudo systemctl disable --now bluetooth, or add a second adapter (USB dongle) for wardgate and set devices.ble.hci.deviceId'
        : `keep BlueZ off ${hci}: sudo btmgmt --index ${id} power off is undone by bluetoothd; stopping bluetoothd (systemctl disable --now bluetooth) ` +
          `is the reliable way`,
    });
  } else out.push({ name: 'bluetoothd', status: 'ok', message: 'not running' });

  const dropIns = capabilityDropIns(etc);
  const self = env.uid === 0 ? { netRaw: true, netAdmin: true } : capabilities(read(join(proc, 'self/status')) ?? '');
  if (dropIns.length)
    out.push({ name: 'bluetooth capabilities', status: 'ok', message: `the service gets CAP_NET_RAW and CAP_NET_ADMIN from ${dropIns.join(', ')}` });
  else
    out.push({
      name: 'bluetooth capabilities',
      status: self.netRaw && self.netAdmin ? 'warn' : 'fail',
      message:
        self.netRaw && self.netAdmin
          ? 'this process has CAP_NET_RAW and CAP_NET_ADMIN, but no wardgate.service drop-in grants them to the service'
          : 'no wardgate.service drop-in grants CAP_NET_RAW and CAP_NET_ADMIN, and this process lacks them: noble cannot open the raw HCI socket',
      fix:
        `sudo install -D -m 0644 /usr/share/wardgate/ble.conf ${join(etc, 'systemd/system/wardgate.service.d/ble.conf')} && sudo systemctl ` +
        `daemon-reload && sudo systemctl restart wardgate`,
    });
  return out;
}
