/** Per-device status readings: link up/down, signal strength, battery. */
import type { ReadingInput } from '../../reading.js';
import type { Registration } from './allow-list.js';

export function deviceIdFor(address: string): string {
  return `ble-${address.toLowerCase().replace(/:/g, '')}`;
}

type Base = Readonly<Pick<ReadingInput, 'deviceId' | 'deviceKind' | 'bed' | 'patientId'>>;

/** Per registration, the bases of the devices it matched (a name pattern may match a few). */
const bases = new WeakMap<Registration, Map<string, Base>>();

/**
 * The device fields every reading of a device carries, made once per device and frozen: every
 * notification spreads it into new readings, and V8 spreads a frozen object much faster than a
 * plain one (docs/ble.md, bench/ble.ts).
 */
function base(address: string, reg: Registration): Base {
  let m = bases.get(reg);
  if (!m) {
    m = new Map();
    bases.set(reg, m);
  }
  let b = m.get(address);
  if (!b) {
    if (m.size >= 256) m.clear();
    b = Object.freeze({
      deviceId: deviceIdFor(address),
      deviceKind: 'ble',
      bed: reg.bed,
      ...(reg.patientId !== undefined ? { patientId: reg.patientId } : {}),
    });
    m.set(address, b);
  }
  return b;
}

export function linkReading(address: string, reg: Registration, connected: boolean, reason: string): ReadingInput {
  return {
    ...base(address, reg),
    metric: 'gateway_event',
    value: connected ? 1 : 0,
    unit: '1',
    priorityClass: 'status',
    extra: { event: connected ? 'ble_connected' : 'ble_disconnected', reason },
  };
}

export function rssiReading(address: string, reg: Registration, rssi: number): ReadingInput {
  return { ...base(address, reg), metric: 'signal_strength', value: rssi, unit: 'dBm', priorityClass: 'status' };
}

export { base as readingBase };
