/**
 * Simulated BLE wearables for `wardgate simulate --wearables N`: the kinds in rotation
 * (heart-rate strap, pulse oximeter, thermometer, blood-pressure cuff, so any N >= 4 has
 * each), two per bed, behind the simulated controller on a socat pty pair. The gateway
 * gets the host end as devices.ble.hci.uart and the wearables as its allow-list.
 */
import { rmSync } from 'node:fs';
import { makeWearables } from './peripherals.js';
import { BleWorld } from './world.js';

export interface BleWard {
  hostPort: string;
  devices: { address: string; bed: string }[];
  stop(): Promise<void>;
}

export async function startBleWard(n: number, seed = 1, bedNames: (i: number) => string = (i) => `BED-${String(i + 1).padStart(2, '0')}`): Promise<BleWard> {
  // One reading set a second per wearable: realistic for straps and oximeters, brisk for cuffs.
  const peripherals = makeWearables(n, seed, { intervalMs: 1000 });
  const world = new BleWorld({ peripherals, maxConnections: Math.max(7, n) });
  await world.powerOn();
  return {
    hostPort: world.hostPort,
    devices: peripherals.map((p, i) => ({ address: p.address, bed: bedNames(Math.floor(i / 2)) })),
    stop: async () => {
      await world.close();
      rmSync(world.dir, { recursive: true, force: true });
    },
  };
}
