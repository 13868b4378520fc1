/**
 * The BLE family passes the device adapter contract (test/devices/adapter-suite.ts): noble
 * over the simulated controller, two wearables; garbage is malformed characteristic values
 * sent by a strap; disappearing is the controller powering off.
 */
import type { BleAdapter } from '../../src/devices/ble/adapter.js';
import { adapterSuite } from '../devices/adapter-suite.js';
import { waitFor } from '../devices/pipeline.js';
import { bleRig } from './helpers.js';

const MAX_HELD = 20;

adapterSuite('ble', async () => {
  const rig = await bleRig({ wearables: 2, beds: 1, intervalMs: 20, config: { maxHeldReadings: MAX_HELD, statusInterval: 5000, connectTimeout: 3000 } });
  const ctrl = rig.world.controller;
  const strap = rig.world.peripherals[0]!;
  return {
    adapter: rig.adapter as BleAdapter,
    family: 'ble',
    startDevices: async () => undefined, // wearables stream as soon as the adapter subscribes
    offered: () => (ctrl.subscribedLinks() > 0 ? ctrl.stats.notificationsSent : undefined),
    intervalMs: 20,
    overwhelm: async () => {
      const from = ctrl.stats.notificationsSent;
      // Either the adapter stopped consuming (unsubscribed everywhere) or the devices sent far more than it may hold.
      await waitFor(() => ctrl.subscribedLinks() === 0 || ctrl.stats.notificationsSent - from > 10 * MAX_HELD, 'the wearables to be stopped or to overwhelm');
    },
    // The adapter unsubscribes above MAX_HELD and never holds more than twice that.
    maxHeldReadings: 2 * MAX_HELD,
    garbage: async () => {
      const from = ctrl.stats.malformedSent;
      strap.malformedEvery = 1;
      await waitFor(() => ctrl.stats.malformedSent - from >= 10, 'malformed values sent');
      strap.malformedEvery = 0;
      return ctrl.stats.malformedSent - from;
    },
    disappear: () => rig.world.powerOff(),
    reappear: () => rig.world.powerOn(),
    close: () => rig.close(),
  };
});
