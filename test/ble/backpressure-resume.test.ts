/**
 * Backpressure on many links at once, resumed while the pause's unsubscribes are still on the
 * air: the buffer is held until the adapter pauses and released straight after, several times.
 * Every device must send again after each resume (counted from the simulator's ground truth,
 * what the peripherals sent), and every value sent must be in the buffer exactly once.
 * Before the fix, noble answered a subscribe issued while the unsubscribe was in flight as
 * "already subscribed", the unsubscribe then landed, and the links went silent for good while
 * the adapter reported them connected.
 */
import { describe, expect, it } from 'vitest';
import type { ReadingInput } from '../../src/reading.js';
import { waitFor } from '../devices/pipeline.js';
import { bleRigEach, truthByDeviceAndClass, valuesByDeviceAndClass } from './helpers.js';

const LINKS = 16;
const MAX_HELD = 200;
const CYCLES = 6;

describe('backpressure resume on many links', () => {
  const setup = bleRigEach();

  it('every device notifies again after each pause/resume, and nothing is lost', async () => {
    const { rig, p } = await setup({ wearables: LINKS, beds: 4, intervalMs: 40, config: { maxHeldReadings: MAX_HELD, maxConnections: LINKS } });
    const ctrl = rig.world.controller;
    const adapter = rig.adapter;
    const gate = p.gate;
    // Release the held buffer as soon as the adapter has paused (its unsubscribes just issued).
    let releaseOnPause = false;
    const submit = gate.submit.bind(gate);
    gate.submit = (inputs: readonly ReadingInput[]) => {
      const r = submit(inputs);
      if (releaseOnPause && adapter.status().detail?.includes('paused')) {
        releaseOnPause = false;
        setImmediate(() => gate.release());
      }
      return r;
    };
    const sentPerDevice = (): Map<string, number> => {
      const m = new Map<string, number>();
      for (const t of rig.truth()) m.set(t.address, (m.get(t.address) ?? 0) + 1);
      return m;
    };

    await adapter.start(p.ctx);
    await waitFor(() => ctrl.subscribedLinks() === LINKS, 'all links subscribed');

    for (let cycle = 0; cycle < CYCLES; cycle++) {
      releaseOnPause = true;
      gate.hold();
      await waitFor(() => !releaseOnPause, `cycle ${cycle}: the adapter paused`);
      await waitFor(() => !adapter.status().detail?.includes('paused'), `cycle ${cycle}: the adapter resumed`);
      // Every peripheral must send again: what it sent after the resume, from the simulator's truth.
      const before = sentPerDevice();
      await waitFor(() => {
        const now = sentPerDevice();
        return [...rig.beds.keys()].every((a) => (now.get(a) ?? 0) >= (before.get(a) ?? 0) + 10);
      }, `cycle ${cycle}: every device notifying again after the resume`);
    }
    await waitFor(() => ctrl.subscribedLinks() === LINKS, 'all links subscribed at the end');
    const st = adapter.status();
    expect(st.state).toBe('running');
    expect(st.devices).toBe(LINKS);

    await rig.world.powerOff();
    await adapter.stop();
    expect(await p.events.count('reading_refused')).toBe(0);
    const expected = truthByDeviceAndClass(rig.truth());
    const actual = valuesByDeviceAndClass(p.drain());
    expect(expected.size).toBeGreaterThanOrEqual(LINKS);
    for (const [id, list] of expected) expect(actual.get(id), id).toEqual(list);
  }, 90_000);
});
