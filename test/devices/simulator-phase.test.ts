/**
 * The simulated ward loads the gateway as a ward does: each monitor reports on its own phase
 * in the interval, with jitter, so submissions arrive spread over the second, one device each.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { SimulatorAdapter } from '../../src/devices/simulator/adapter.js';
import type { AdapterContext } from '../../src/devices/types.js';
import { silentLogger } from '../../src/logger.js';
import { Events } from '../../src/metrics/events.js';

describe('simulated ward timing', () => {
  afterEach(() => vi.useRealTimers());

  it('30 beds submit on their own phases spread over the interval, each about once per interval', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
    const submits: { at: number; devices: Set<string> }[] = [];
    const ctx = {
      sink: { submit: async (inputs: { deviceId: string }[]) => void submits.push({ at: Date.now(), devices: new Set(inputs.map((i) => i.deviceId)) }) },
      log: silentLogger(),
      events: new Events(silentLogger()),
    } as unknown as AdapterContext;
    const a = new SimulatorAdapter({ enabled: true, beds: 30, interval: 1000, alarmRate: 0, seed: 3 });
    const t0 = Date.now();
    await a.start(ctx);
    await vi.advanceTimersByTimeAsync(10_000);
    await a.stop();
    // One device per submission.
    expect(submits.every((s) => s.devices.size === 1)).toBe(true);
    // Each device's first submission: 30 of them within the first interval, at (nearly) 30 distinct instants spread over it.
    const firstOf = new Map<string, number>();
    for (const s of submits) for (const d of s.devices) if (!firstOf.has(d)) firstOf.set(d, s.at - t0);
    const first = [...firstOf.values()];
    expect(first.length).toBe(30);
    expect(Math.max(...first)).toBeLessThan(1000);
    expect(new Set(first).size).toBeGreaterThanOrEqual(25);
    const tenths = new Set(first.map((t) => Math.floor(t / 100)));
    expect(tenths.size).toBeGreaterThanOrEqual(8);
    // About once a second each over ten seconds (jitter moves ticks, never drops them).
    const perDevice = new Map<string, number>();
    for (const s of submits) for (const d of s.devices) perDevice.set(d, (perDevice.get(d) ?? 0) + 1);
    for (const n of perDevice.values()) {
      expect(n).toBeGreaterThanOrEqual(9);
      expect(n).toBeLessThanOrEqual(11);
    }
  });
});
