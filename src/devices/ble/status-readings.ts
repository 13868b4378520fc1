/** Per-device status readings: link up/down, signal strength, battery. */
import type { ReadingInput } from '../../reading.js';
import type { Registration } from './allow-list.js';

export function deviceIdFor(address: string): string {
  return `ble-${address.toLowerCase().replace(/:/g, '')}`;
}

function base(address: string, reg: Registration): Pick<ReadingInput, 'deviceId' | 'deviceKind' | 'bed' | 'patientId'> {
  return { deviceId: deviceIdFor(address), deviceKind: 'ble', bed: reg.bed, ...(reg.patientId !== undefined ? { patientId: reg.patientId } : {}) };
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
