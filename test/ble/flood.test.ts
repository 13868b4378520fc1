/**
 * A wearable that floods (a notification every millisecond) is throttled to its share and
 * counted, and does not starve a well-behaved one: the flooder's values are each either a
 * reading or a counted throttle drop; the other wearable's values all arrive, in order.
 */
import { describe, expect, it } from 'vitest';
import { waitFor } from '../devices/pipeline.js';
import { bleRigEach, truthByDeviceAndClass, valuesByDeviceAndClass } from './helpers.js';

describe('flooding wearable', () => {
  const open = bleRigEach();

  it('is throttled and counted; the other wearable is unaffected', async () => {
    const { rig, p } = await open({ wearables: 2, beds: 1, intervalMs: 50, config: { maxNotificationsPerSecond: 50, statusInterval: 3_600_000 } });
    const flooder = rig.world.peripherals[0]!;
    const calm = rig.world.peripherals[1]!;
    // Used from the subscription on (none before the adapter starts).
    (flooder as { intervalMs: number }).intervalMs = 1;
    const ctrl = rig.world.controller;
    await rig.adapter.start(p.ctx);
    await waitFor(() => ctrl.subscribedLinks() === 2, 'both subscribed');
    await waitFor(async () => (await p.events.count('frame_rejected', { family: 'ble', reason: 'throttled' })) > 500, 'throttled values');
    await rig.world.powerOff();
    await rig.adapter.stop();

    const truth = rig.truth();
    const readings = p.drain();
    const id = (a: string): string => `ble-${a.replace(/:/g, '')}`;
    // Values the flooder sent (heart rate notifications, battery read and notifications), and
    // the values that became readings (one heart_rate or battery_level reading per value).
    const sentByFlooder = truth.filter((t) => t.address === flooder.address).length;
    const heartRates = readings.filter((r) => r.deviceId === id(flooder.address) && r.metric === 'heart_rate').length;
    const batteries = readings.filter((r) => r.deviceId === id(flooder.address) && r.metric === 'battery_level').length;
    const throttled = await p.events.count('frame_rejected', { family: 'ble', reason: 'throttled' });
    // Only the flooder exceeds its rate; every one of its values is a reading or a counted drop.
    expect(heartRates + batteries + throttled).toBe(sentByFlooder);
    expect(throttled).toBeGreaterThan(heartRates);
    const expected = truthByDeviceAndClass(truth.filter((t) => t.address === calm.address));
    const actual = valuesByDeviceAndClass(readings.filter((r) => r.deviceId === id(calm.address)));
    for (const [k, list] of expected) expect(actual.get(k), k).toEqual(list);
  }, 60_000);
});
