/**
 * The allow-list: which advertising devices are the ward's, and for which bed. Everything
 * else (phones, other patients' devices) is ignored and never connected. Pure.
 */
import type { BleDeviceConfig } from './config.js';
import { normaliseUuid } from './profiles/uuid.js';

export interface Advertised {
  address: string;
  name?: string | undefined;
  serviceUuids: readonly string[];
}

export interface Registration {
  bed: string;
  patientId?: string | undefined;
  /** Glucose meters: which stored records the first contact imports (absent: since-first-contact). */
  storedRecords?: 'all' | undefined;
}

export class AllowList {
  private readonly entries: { cfg: BleDeviceConfig; name?: RegExp }[];

  constructor(devices: readonly BleDeviceConfig[]) {
    this.entries = devices.map((cfg) => ({ cfg, ...(cfg.name !== undefined ? { name: new RegExp(`^(?:${cfg.name})$`) } : {}) }));
  }

  get size(): number {
    return this.entries.length;
  }

  /** The first entry every given criterion of which the advertisement meets, or undefined. */
  match(adv: Advertised): Registration | undefined {
    const address = adv.address.toLowerCase();
    const services = new Set(adv.serviceUuids.map(normaliseUuid));
    for (const { cfg, name } of this.entries) {
      if (cfg.address !== undefined && cfg.address !== address) continue;
      if (name !== undefined && (adv.name === undefined || !name.test(adv.name))) continue;
      if (cfg.services !== undefined && !cfg.services.every((s) => services.has(s))) continue;
      return {
        bed: cfg.bed,
        ...(cfg.patientId !== undefined ? { patientId: cfg.patientId } : {}),
        ...(cfg.storedRecords === 'all' ? { storedRecords: 'all' as const } : {}),
      };
    }
    return undefined;
  }
}
