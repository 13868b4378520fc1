/** Per-device status readings: link up/down, signal strength, battery. */
import type { ReadingInput } from '../../reading.js';
import type { Registration } from './allow-list.js';

export function deviceIdFor(address: string): string {
  return `ble-${address.toLowerCase().replace(/:/g, '')}`;
}

/** The device fields every reading of a device carries. */
export type ReadingBase = Readonly<Pick<ReadingInput, 'deviceId' | 'deviceKind' | 'bed' | 'patientId'>>;

/** A device's reading base; the adapter makes it once per device and keeps it on the device's slot. */
export function readingBase(address: string, reg: Registration): ReadingBase {
  return Object.freeze({
    deviceId: deviceIdFor(address),
    deviceKind: 'ble',
    bed: reg.bed,
    ...(reg.patientId !== undefined ? { patientId: reg.patientId } : {}),
  });
}

export function linkReading(base: ReadingBase, connected: boolean, reason: string): ReadingInput {
  return {
    ...base,
    metric: 'gateway_event',
    value: connected ? 1 : 0,
    unit: '1',
    priorityClass: 'status',
    extra: { event: connected ? 'ble_connected' : 'ble_disconnected', reason },
  };
}

export function rssiReading(base: ReadingBase, rssi: number): ReadingInput {
  return { ...base, metric: 'signal_strength', value: rssi, unit: 'dBm', priorityClass: 'status' };
}
