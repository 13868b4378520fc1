/**
 * Reconnect backoff, with an injected clock and noble over the simulated controller: a
 * wearable walks out of range, and the times (on the test's clock) at which the controller
 * receives LE Create Connection follow the configured schedule (initial, doubling, capped),
 * each failed attempt cancelled after the connect timeout. Back in range, it reconnects.
 */
import { describe, expect, it } from 'vitest';
import { reconnectDelay } from '../../src/devices/ble/backoff.js';
import { waitFor } from '../devices/pipeline.js';
import { bleRigEach } from './helpers.js';
import { ManualClock } from './manual-clock.js';

const INITIAL = 1_000;
const MAX = 5_000;
const CONNECT_TIMEOUT = 3_000;

describe('reconnect backoff', () => {
  const open = bleRigEach();

  it('the delay schedule doubles from initial and is capped at max', () => {
    expect([0, 1, 2, 3, 4, 5].map((n) => reconnectDelay(n, INITIAL, MAX))).toEqual([1000, 2000, 4000, 5000, 5000, 5000]);
    expect(reconnectDelay(1000, 1, 60_000)).toBe(60_000);
  });

  it('attempts to reach an out-of-range wearable follow the schedule on the injected clock', async () => {
    const clock = new ManualClock();
    const { rig, p } = await open({
      wearables: 1,
      beds: 1,
      clock,
      config: {
        backoff: { initial: INITIAL, max: MAX },
        connectTimeout: CONNECT_TIMEOUT,
        statusInterval: 3_600_000,
        dwell: 3_600_000,
        startTimeout: 3_600_000,
      },
    });
    const ctrl = rig.world.controller;
    const address = rig.world.peripherals[0]!.address;
    const attempts = (): number => ctrl.stats.connectAttempts.get(address) ?? 0;
    await rig.adapter.start(p.ctx);
    await waitFor(() => ctrl.connectedAddresses().includes(address), 'first connection');
    await waitFor(() => p.gate.accepted > 5, 'readings');
    const first = attempts();

    await ctrl.setInRange(address, false);
    const dropAt = clock.now();
    await waitFor(() => clock.deadlines().includes(dropAt + INITIAL), 'the adapter to schedule its first retry');
    const seen: number[] = [];
    let expectedAt = dropAt + INITIAL;
    for (let i = 0; i < 5; i++) {
      const before = attempts();
      clock.advanceTo(expectedAt);
      await waitFor(() => attempts() > before, `attempt ${i + 1}`);
      seen.push(clock.now());
      // Nobody answers: the attempt is cancelled at the connect timeout, then the next delay runs.
      clock.advanceTo(clock.now() + CONNECT_TIMEOUT);
      const next = clock.now() + reconnectDelay(i + 1, INITIAL, MAX);
      await waitFor(() => clock.deadlines().includes(next), `retry ${i + 2} scheduled`);
      expectedAt = next;
    }
    // 1 s after the drop, then 2, 4, 5, 5 s after each cancelled attempt.
    const gaps = seen.map((t, i) => (i === 0 ? t - dropAt : t - seen[i - 1]! - CONNECT_TIMEOUT));
    expect(gaps).toEqual([1000, 2000, 4000, 5000, 5000]);
    expect(attempts() - first).toBe(5);

    // Back in range: the next attempt connects.
    await ctrl.setInRange(address, true);
    clock.advanceTo(expectedAt);
    await waitFor(() => ctrl.connectedAddresses().includes(address), 'reconnected');
    const accepted = p.gate.accepted;
    await waitFor(() => p.gate.accepted > accepted, 'readings again');
  }, 60_000);
});
