/**
 * Controller recovery on an injected clock: the controller goes away (its UART closes); the
 * adapter tries a new transport after backoff.initial, and while the UART is not there that
 * attempt fails at once (the transport's error), so the next one follows the backoff, not the
 * start timeout. Once the controller is back, the next attempt brings the wearable back.
 */
import { describe, expect, it } from 'vitest';
import { reconnectDelay } from '../../src/devices/ble/backoff.js';
import { waitFor } from '../devices/pipeline.js';
import { bleRigEach } from './helpers.js';
import { ManualClock } from './manual-clock.js';

const INITIAL = 1_000;
const MAX = 8_000;
const START_TIMEOUT = 3_600_000;

describe('controller recovery', () => {
  const open = bleRigEach();

  it('while the UART is gone, attempts follow the backoff (not the start timeout); the controller back, readings resume', async () => {
    const clock = new ManualClock();
    const { rig, p } = await open({
      wearables: 1,
      beds: 1,
      clock,
      config: { backoff: { initial: INITIAL, max: MAX }, startTimeout: START_TIMEOUT, statusInterval: 10_000, connectTimeout: 3_000, dwell: 3_600_000 },
    });
    const { world, adapter } = rig;
    const address = world.peripherals[0]!.address;
    await adapter.start(p.ctx);
    await waitFor(() => world.controller.subscribedLinks() === 1, 'subscribed');
    await waitFor(() => p.gate.accepted > 5, 'readings');

    await world.powerOff();
    // noble reports the closed UART (stateChange poweredOff), though not always: then the
    // adapter's watchdog (two RSSI requests unanswered) finds it, driven here deadline by deadline.
    const degraded = (): boolean => adapter.status().state === 'degraded';
    await waitFor(degraded, 'noble to report the closed UART', 3_000).catch(() => undefined);
    for (let i = 0; i < 20 && !degraded(); i++) {
      clock.advanceTo(clock.deadlines()[0]!);
      await new Promise((r) => setImmediate(r));
    }
    expect(adapter.status().state).toBe('degraded');
    const lostAt = clock.now();
    await waitFor(() => clock.deadlines().includes(lostAt + INITIAL), 'first recovery scheduled after backoff.initial');

    // Each attempt while the UART is missing fails on the transport's error: the next is
    // scheduled at the backoff delay from the failed attempt, never at the start timeout.
    let at = lostAt + INITIAL;
    for (let failure = 1; failure <= 3; failure++) {
      clock.advanceTo(at);
      const next = at + reconnectDelay(failure, INITIAL, MAX);
      await waitFor(() => clock.deadlines().includes(next), `attempt ${failure} failed at once, retry at +${next - at} ms`);
      expect(clock.deadlines()).not.toContain(at + START_TIMEOUT);
      at = next;
    }

    await world.powerOn();
    const accepted = p.gate.accepted;
    clock.advanceTo(at);
    await waitFor(() => world.controller.connectedAddresses().includes(address), 'reconnected after the controller came back');
    await waitFor(() => p.gate.accepted > accepted, 'readings again');
    await waitFor(() => adapter.status().state === 'running', 'running again');
  }, 60_000);
});
