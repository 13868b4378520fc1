/**
 * The controller watchdog on an injected clock: the RSSI status request doubles as a sign of
 * life. A controller that leaves it unanswered while packets keep arriving (a loaded host, or
 * a firmware that lost that one command) is alive; one from which nothing at all arrives any
 * more, twice in a row, is treated as gone (`controller_unresponsive`).
 */
import { describe, expect, it } from 'vitest';
import { sleep, waitFor } from '../devices/pipeline.js';
import { bleRigEach } from './helpers.js';
import { ManualClock } from './manual-clock.js';

const STATUS_INTERVAL = 10_000;
const CONNECT_TIMEOUT = 3_000;
const config = { statusInterval: STATUS_INTERVAL, connectTimeout: CONNECT_TIMEOUT, dwell: 3_600_000, startTimeout: 3_600_000 };

describe('controller watchdog', () => {
  const open = bleRigEach();

  /** One strap on a manual clock, subscribed and its readings arriving. */
  const streaming = async () => {
    const clock = new ManualClock();
    const { rig, p } = await open({ wearables: 1, beds: 1, clock, config });
    const { world, adapter } = rig;
    await adapter.start(p.ctx);
    await waitFor(() => world.controller.subscribedLinks() === 1, 'subscribed');
    await waitFor(() => p.gate.accepted > 5, 'readings');
    return { clock, p, world, adapter };
  };

  /** Steps the clock to each pending deadline up to `until`, letting real time pass between (the links keep working). */
  const stepTo = async (clock: ManualClock, until: number): Promise<void> => {
    for (let d = clock.deadlines()[0]; d !== undefined && d <= until; d = clock.deadlines()[0]) {
      clock.advanceTo(d);
      await sleep(150);
    }
    clock.advanceTo(until);
  };

  it('RSSI requests unanswered while notifications keep arriving: still connected, nothing reported', async () => {
    const { clock, p, world, adapter } = await streaming();
    world.controller.muteRssi = true;
    // Five status rounds, each request left unanswered for longer than its watchdog waits.
    const t0 = clock.now();
    await stepTo(clock, t0 + 5 * (STATUS_INTERVAL + CONNECT_TIMEOUT));
    const accepted = p.gate.accepted;
    await waitFor(() => p.gate.accepted > accepted, 'readings still arriving');
    expect(await p.events.count('device_error', { family: 'ble', reason: 'controller_unresponsive' })).toBe(0);
    expect(adapter.status().state).toBe('running');
    expect(world.controller.connectedAddresses()).toEqual([world.peripherals[0]!.address]);
  }, 60_000);

  it('nothing arrives any more: lost after the second unanswered request, not the first', async () => {
    const { clock, p, world, adapter } = await streaming();
    const lost = (): Promise<number> => p.events.count('device_error', { family: 'ble', reason: 'controller_unresponsive' });
    try {
      world.controller.wedged = true;
      await sleep(300); // what was under way has arrived
      const t0 = clock.now();
      // The RSSI rounds are at t0 + k * STATUS_INTERVAL at the latest, each watched for CONNECT_TIMEOUT.
      await stepTo(clock, t0 + STATUS_INTERVAL + CONNECT_TIMEOUT);
      expect(await lost()).toBe(0);
      expect(adapter.status().state).toBe('running');
      await stepTo(clock, t0 + 2 * STATUS_INTERVAL + CONNECT_TIMEOUT);
      expect(await lost()).toBe(1);
      expect(adapter.status().state).toBe('degraded');
    } finally {
      // The link ends on the controller's side too (the adapter has written it off), so closing the world waits for nothing.
      world.controller.wedged = false;
      await world.controller.setInRange(world.peripherals[0]!.address, false);
    }
  }, 60_000);
});
