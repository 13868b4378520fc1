/**
 * `wardgate doctor` BLE checks against sysfs, procfs and /etc trees laid out like a Pi's (real
 * files in a temp folder): adapter present, rfkill, power, bluetoothd, capabilities; each
 * problem named with a fix; nothing when BLE is not configured.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type BleDoctorCheck, type BleDoctorEnv, bleDoctorChecks } from '../../src/devices/ble/doctor-checks.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

interface Machine {
  adapters?: string[];
  /** rfkill switches: name -> state; `of` puts it under that adapter's sysfs folder. */
  rfkill?: Record<string, { type?: string; soft?: 0 | 1; hard?: 0 | 1; of?: string }>;
  processes?: string[];
  capEff?: string;
  dropIn?: string;
  up?: boolean | null;
  uid?: number;
}

function machine(m: Machine): BleDoctorEnv {
  const root = mkdtempSync(join(tmpdir(), 'wg-ble-doctor-'));
  dirs.push(root);
  const put = (p: string, text: string): void => {
    mkdirSync(dirname(join(root, p)), { recursive: true });
    writeFileSync(join(root, p), text);
  };
  mkdirSync(join(root, 'sys/class/bluetooth'), { recursive: true });
  for (const a of m.adapters ?? []) put(`sys/class/bluetooth/${a}/uevent`, `DEVTYPE=host\nINTERFACE=${a}\n`);
  for (const [name, r] of Object.entries(m.rfkill ?? {})) {
    put(`sys/class/rfkill/${name}/type`, `${r.type ?? 'bluetooth'}\n`);
    put(`sys/class/rfkill/${name}/soft`, `${r.soft ?? 0}\n`);
    put(`sys/class/rfkill/${name}/hard`, `${r.hard ?? 0}\n`);
    if (r.of) mkdirSync(join(root, `sys/class/bluetooth/${r.of}/${name}`), { recursive: true });
  }
  for (const [i, comm] of (m.processes ?? ['systemd', 'node']).entries()) put(`proc/${i + 1}/comm`, `${comm}\n`);
  put('proc/self/status', `Name:\tnode\nCapEff:\t${m.capEff ?? '0000000000000000'}\n`);
  mkdirSync(join(root, 'etc/systemd/system'), { recursive: true });
  if (m.dropIn !== undefined) put('etc/systemd/system/wardgate.service.d/ble.conf', m.dropIn);
  const up = m.up === undefined ? true : m.up;
  return { roots: { sys: join(root, 'sys'), proc: join(root, 'proc'), etc: join(root, 'etc') }, powered: () => up, uid: m.uid ?? 1000 };
}

const DROP_IN = '[Service]\nAmbientCapabilities=CAP_NET_RAW CAP_NET_ADMIN\nCapabilityBoundingSet=CAP_NET_RAW CAP_NET_ADMIN\n';
const byName = (cs: BleDoctorCheck[]): Record<string, BleDoctorCheck> => Object.fromEntries(cs.map((c) => [c.name, c]));
const statuses = (cs: BleDoctorCheck[]): Record<string, string> => Object.fromEntries(cs.map((c) => [c.name, c.status]));

describe('wardgate doctor: BLE checks', () => {
  it('a healthy Pi: hci0 present, unblocked, up, no bluetoothd, the drop-in installed', () => {
    const cs = bleDoctorChecks({ hci: {} }, machine({ adapters: ['hci0'], rfkill: { rfkill0: { of: 'hci0' } }, dropIn: DROP_IN }));
    expect(statuses(cs)).toEqual({
      'bluetooth adapter': 'ok',
      'bluetooth rfkill': 'ok',
      'bluetooth power': 'ok',
      bluetoothd: 'ok',
      'bluetooth capabilities': 'ok',
    });
  });

  it('runs only when BLE is configured and enabled', () => {
    const env = machine({});
    expect(bleDoctorChecks(undefined, env)).toEqual([]);
    expect(bleDoctorChecks({ enabled: false, hci: {} }, env)).toEqual([]);
    expect(bleDoctorChecks({ enabled: true, hci: {} }, env).length).toBeGreaterThan(0);
  });

  it('a missing adapter names the ones present, or says to plug one in', () => {
    const other = byName(bleDoctorChecks({ hci: { deviceId: 1 } }, machine({ adapters: ['hci0'] })));
    expect(other['bluetooth adapter']).toMatchObject({ status: 'fail', message: expect.stringContaining('no Bluetooth adapter hci1') });
    expect(other['bluetooth adapter']!.fix).toContain('devices.ble.hci.deviceId to one of 0');
    const none = byName(bleDoctorChecks({ hci: {} }, machine({})));
    expect(none['bluetooth adapter']).toMatchObject({ status: 'fail' });
    expect(none['bluetooth adapter']!.fix).toContain('plug the adapter in');
    expect(none['bluetooth power']).toBeUndefined();
  });

  it.each([
    ['soft block of its own switch', { rfkill0: { of: 'hci0', soft: 1 as const } }, 'fail', 'rfkill unblock bluetooth'],
    ['hard block', { rfkill0: { of: 'hci0', hard: 1 as const } }, 'fail', 'hardware switch'],
    ['a blocked wlan switch is not the adapter', { rfkill1: { type: 'wlan', soft: 1 as const } }, 'ok', undefined],
    ['no own switch: any blocked bluetooth switch counts', { rfkill2: { soft: 1 as const } }, 'fail', 'rfkill unblock bluetooth'],
    ["another adapter's blocked switch is not hci0's", { rfkill0: { of: 'hci0' }, rfkill3: { of: 'hci1', soft: 1 as const } }, 'ok', undefined],
  ])('rfkill: %s', (_, rfkill, status, fix) => {
    const c = byName(bleDoctorChecks({ hci: {} }, machine({ adapters: ['hci0', 'hci1'], rfkill, dropIn: DROP_IN })))['bluetooth rfkill']!;
    expect(c.status).toBe(status);
    if (fix) expect(c.fix).toContain(fix);
  });

  it('powered off is a failure with the command to power it on; an unknown state is a warning', () => {
    const down = byName(bleDoctorChecks({ hci: { deviceId: 1 } }, machine({ adapters: ['hci0', 'hci1'], up: false })))['bluetooth power']!;
    expect(down).toMatchObject({ status: 'fail', message: 'hci1 is down (powered off)' });
    expect(down.fix).toContain('btmgmt --index 1 power on');
    const unknown = byName(bleDoctorChecks({ hci: {} }, machine({ adapters: ['hci0'], up: null })))['bluetooth power']!;
    expect(unknown.status).toBe('warn');
  });

  it('bluetoothd owning the only adapter fails; with a second adapter it is a warning', () => {
    const alone = byName(bleDoctorChecks({ hci: {} }, machine({ adapters: ['hci0'], processes: ['systemd', 'bluetoothd'] }))).bluetoothd!;
    expect(alone.status).toBe('fail');
    expect(alone.fix).toContain('systemctl disable --now bluetooth');
    expect(alone.fix).toContain('second adapter');
    const second = byName(bleDoctorChecks({ hci: { deviceId: 1 } }, machine({ adapters: ['hci0', 'hci1'], processes: ['bluetoothd'] }))).bluetoothd!;
    expect(second.status).toBe('warn');
  });

  it.each([
    ['drop-in with both', DROP_IN, '0000000000000000', 1000, 'ok'],
    ['drop-in with CAP_NET_RAW only, process without', '[Service]\nAmbientCapabilities=CAP_NET_RAW\n', '0000000000000000', 1000, 'fail'],
    ['drop-in with CAP_NET_ADMIN only, process without', '[Service]\nAmbientCapabilities=CAP_NET_ADMIN\n', '0000000000000000', 1000, 'fail'],
    ['bounding set only (not ambient)', '[Service]\nCapabilityBoundingSet=CAP_NET_RAW CAP_NET_ADMIN\n', '0000000000000000', 1000, 'fail'],
    ['no drop-in, process has bits 12 and 13', undefined, '0000000000003000', 1000, 'warn'],
    ['no drop-in, root', undefined, '0000000000000000', 0, 'warn'],
    ['no drop-in, nothing', undefined, '0000000000002000', 1000, 'fail'],
  ])('capabilities: %s -> %s', (_, dropIn, capEff, uid, status) => {
    const c = byName(bleDoctorChecks({ hci: {} }, machine({ adapters: ['hci0'], dropIn, capEff, uid })))['bluetooth capabilities']!;
    expect(c.status).toBe(status);
    if (status !== 'ok') expect(c.fix).toContain('wardgate.service.d/ble.conf');
  });

  it('a UART controller: only whether its port exists', () => {
    const env = machine({});
    const missing = bleDoctorChecks({ hci: { uart: { port: join(env.roots.sys, 'no-such-tty'), baudRate: 1_000_000, readPacing: 0 } } }, env);
    expect(missing).toEqual([expect.objectContaining({ name: 'bluetooth', status: 'fail' })]);
    const present = bleDoctorChecks({ hci: { uart: { port: join(env.roots.proc, 'self/status'), baudRate: 1_000_000, readPacing: 0 } } }, env);
    expect(present).toEqual([expect.objectContaining({ name: 'bluetooth', status: 'ok' })]);
  });
});
