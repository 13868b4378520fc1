/**
 * The serial ports' periodic ticks share one timer per period (SharedTicks): every port still
 * ticks once per period, a stopped one no more, and the timer goes when its last port does.
 */
import { describe, expect, it } from 'vitest';
import { SharedTicks } from '../../src/devices/serial/adapter.js';
import { ManualClock } from './helpers/clock.js';

describe('serial ports: shared ticks', () => {
  it('three ports at 250 ms and one at 1 s: two timers; each port ticks once per period until stopped', () => {
    const clock = new ManualClock();
    const shared = new SharedTicks(clock);
    const n = [0, 0, 0, 0];
    const h = [0, 1, 2].map((i) => shared.setInterval(() => n[i]!++, 250));
    const slow = shared.setInterval(() => n[3]!++, 1000);
    clock.step(1000);
    expect(n).toEqual([4, 4, 4, 1]);
    expect(clock.ticks).toBe(5); // 4 ticks of the 250 ms timer, 1 of the 1 s timer: not 13
    shared.clearInterval(h[1]);
    clock.step(500);
    expect(n).toEqual([6, 4, 6, 1]);
    shared.clearInterval(h[0]);
    shared.clearInterval(h[2]);
    const before = clock.ticks;
    clock.step(1000);
    expect(n).toEqual([6, 4, 6, 2]);
    expect(clock.ticks - before).toBe(1); // only the 1 s timer is left (due at 2 s)
    shared.clearInterval(slow);
    clock.step(2000);
    expect(n).toEqual([6, 4, 6, 2]);
    expect(clock.ticks - before).toBe(1);
  });

  it('a port stopped by another port during a tick does not tick in it', () => {
    const clock = new ManualClock();
    const shared = new SharedTicks(clock);
    let second = 0;
    let h2: unknown = null;
    shared.setInterval(() => shared.clearInterval(h2), 250);
    h2 = shared.setInterval(() => second++, 250);
    clock.step(1000);
    expect(second).toBe(0);
  });
});
