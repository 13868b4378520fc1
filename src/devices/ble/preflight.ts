/**
 * Checks before noble opens a raw HCI socket on Linux, so a Pi that cannot work says why at
 * start instead of hanging: the capabilities a raw HCI socket needs, an rfkill block, and
 * BlueZ's bluetoothd competing for the controller. The parsers are pure; `preflight` reads
 * /proc and /sys.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const CAP_NET_ADMIN = 12;
const CAP_NET_RAW = 13;

/** Effective capabilities from the text of /proc/self/status. */
export function capabilities(status: string): { netRaw: boolean; netAdmin: boolean } {
  const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(status);
  const eff = m ? BigInt(`0x${m[1]}`) : 0n;
  return { netRaw: ((eff >> BigInt(CAP_NET_RAW)) & 1n) === 1n, netAdmin: ((eff >> BigInt(CAP_NET_ADMIN)) & 1n) === 1n };
}

export interface RfkillEntry {
  type: string;
  soft: boolean;
  hard: boolean;
}

export interface Preflight {
  /** Problems that stop the adapter from working at all. */
  errors: string[];
  /** Things that may make it misbehave. */
  warnings: string[];
}

export function assess(
  caps: { netRaw: boolean; netAdmin: boolean },
  rfkill: readonly RfkillEntry[],
  bluetoothd: boolean,
  deviceId: number | undefined,
): Preflight {
  const errors: string[] = [];
  const warnings: string[] = [];
  const missing = [caps.netRaw ? null : 'CAP_NET_RAW', caps.netAdmin ? null : 'CAP_NET_ADMIN'].filter((x): x is string => x !== null);
  if (missing.length > 0)
    errors.push(`wardgate lacks ${missing.join(' and ')} for the raw HCI socket (systemd: AmbientCapabilities=CAP_NET_RAW CAP_NET_ADMIN)`);
  const bt = rfkill.filter((r) => r.type === 'bluetooth');
  if (bt.length > 0 && bt.every((r) => r.soft || r.hard))
    errors.push(`Bluetooth is blocked by rfkill (${bt.some((r) => r.hard) ? 'hardware switch' : 'run: rfkill unblock bluetooth'})`);
  if (bluetoothd)
    warnings.push(
      `bluetoothd is running and may hold hci${deviceId ?? 0}: stop it (systemctl disable --now bluetooth) or give wardgate a second adapter ` +
        `(devices.ble.hci.deviceId)`,
    );
  return { errors, warnings };
}

function read(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** Reads the system's state (Linux). Missing files count as "nothing known", not as errors. */
export function preflight(deviceId: number | undefined): Preflight {
  const status = read('/proc/self/status') ?? '';
  const root = process.getuid?.() === 0;
  const caps = root ? { netRaw: true, netAdmin: true } : capabilities(status);
  const rfkill: RfkillEntry[] = [];
  try {
    for (const d of readdirSync('/sys/class/rfkill')) {
      const base = join('/sys/class/rfkill', d);
      rfkill.push({
        type: (read(join(base, 'type')) ?? '').trim(),
        soft: (read(join(base, 'soft')) ?? '0').trim() === '1',
        hard: (read(join(base, 'hard')) ?? '0').trim() === '1',
      });
    }
  } catch {
    /* no rfkill class */
  }
  let bluetoothd = false;
  try {
    for (const pid of readdirSync('/proc')) {
      if (!/^\d+$/.test(pid)) continue;
      if ((read(join('/proc', pid, 'comm')) ?? '').trim() === 'bluetoothd') {
        bluetoothd = true;
        break;
      }
    }
  } catch {
    /* no /proc */
  }
  return assess(caps, rfkill, bluetoothd, deviceId);
}
