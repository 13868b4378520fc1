/**
 * Backpressure: while the buffer does not answer, the adapter stops consuming (it
 * unsubscribes, so the wearables stop sending) instead of queueing; it holds a bounded
 * number of readings; when the buffer answers again it subscribes again, and every value
 * the wearables sent is in the buffer exactly once (nothing was dropped to make room).
 */
import { describe, expect, it } from 'vitest';
import { waitFor } from '../devices/pipeline.js';
import { bleRigEach, truthByDeviceAndClass, valuesByDeviceAndClass } from './helpers.js';

/** Far above what the wearables make while the buffer keeps up, so only the hold pauses them. */
const MAX_HELD = 200;

describe('backpressure', () => {
  const setup = bleRigEach();

  it('unsubscribes while the buffer is slow, resubscribes after, loses nothing', async () => {
    const { rig, p } = await setup({ wearables: 4, beds: 2, intervalMs: 10, config: { maxHeldReadings: MAX_HELD, maxConnections: 4 } });
    const ctrl = rig.world.controller;
    await rig.adapter.start(p.ctx);
    await waitFor(() => ctrl.subscribedLinks() === 4, 'all four subscribed');
    await waitFor(() => p.gate.accepted > 50, 'readings');

    p.gate.hold();
    await waitFor(() => ctrl.subscribedLinks() === 0, 'every wearable unsubscribed while the buffer is held');
    expect(rig.adapter.status().detail).toContain('paused');
    expect(p.gate.heldMax).toBeLessThanOrEqual(2 * MAX_HELD);

    p.gate.release();
    await waitFor(() => ctrl.subscribedLinks() === 4, 'subscribed again');
    const sent = ctrl.stats.notificationsSent;
    await waitFor(() => ctrl.stats.notificationsSent > sent + 100, 'wearables sending again');

    await rig.world.powerOff();
    await rig.adapter.stop();
    expect(await p.events.count('reading_refused')).toBe(0);
    const expected = truthByDeviceAndClass(rig.truth());
    const actual = valuesByDeviceAndClass(p.drain());
    expect(expected.size).toBe(8);
    for (const [id, list] of expected) expect(actual.get(id), id).toEqual(list);
  }, 60_000);
});
