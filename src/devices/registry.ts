/**
 * The one table of device families. A new family is a folder under src/devices/
 * plus one line here.
 */
import type { Config } from '../config/schema.js';
import { bleFamily } from './ble/index.js';
import { mqttFamily } from './mqtt/index.js';
import { serialFamily } from './serial/index.js';
import { simulatorFamily } from './simulator/adapter.js';
import type { DeviceAdapter } from './types.js';

type Devices = Config['devices'];

export const FAMILIES: { [K in keyof Devices]-?: (cfg: NonNullable<Devices[K]>) => DeviceAdapter[] } = {
  simulator: (cfg) => simulatorFamily.create(cfg),
  mqtt: (cfg) => mqttFamily.create(cfg),
  ble: (cfg) => bleFamily.create(cfg),
  serial: (cfg) => serialFamily.create(cfg),
};

export function createAdapters(devices: Devices): DeviceAdapter[] {
  const out: DeviceAdapter[] = [];
  for (const [name, make] of Object.entries(FAMILIES) as [keyof Devices, (cfg: unknown) => DeviceAdapter[]][]) {
    const cfg = devices[name];
    if (cfg !== undefined) out.push(...make(cfg));
  }
  return out;
}
