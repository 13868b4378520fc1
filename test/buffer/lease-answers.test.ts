import { afterEach, describe, expect, it } from 'vitest';
import { type TestEnv, testEnv, withPriority } from './helpers.js';

/** What the forwarder asks the buffer instead of guessing: whether a lease stopped inside a unit, and what is in flight per class. */
describe('buffer: lease.partial and in-flight per class', () => {
  let env: TestEnv;
  afterEach(() => env?.cleanup());

  it('partial only when the lease stopped inside a unit, not when whole units fill it exactly', async () => {
    env = testEnv();
    const buf = await env.open();
    // One commit of 30 vitals: one unit of 30.
    await buf.append(withPriority(30, 'vital'));
    const split = buf.lease({ maxReadings: 10, maxBytes: 1 << 20 })!;
    expect(split.readings).toHaveLength(10);
    expect(split.partial).toBe(true);
    // The rest is not leasable until the first part is acked.
    expect(buf.lease({ maxReadings: 100, maxBytes: 1 << 20 })).toBeNull();
    buf.ack(split.id);
    const rest = buf.lease({ maxReadings: 20, maxBytes: 1 << 20 })!;
    expect(rest.readings).toHaveLength(20);
    // Exactly as many readings as the limit, the whole unit: not partial.
    expect(rest.partial).toBe(false);
    buf.ack(rest.id);
    await buf.append(withPriority(5, 'vital'));
    const small = buf.lease({ maxReadings: 100, maxBytes: 1 << 20 })!;
    expect(small.partial).toBe(false);
    buf.release(small.id);
    await buf.close();
  });

  it('stats().inFlightPerClass follows leases, acks and releases, per class', async () => {
    env = testEnv();
    const buf = await env.open();
    await buf.append([...withPriority(3, 'alarm'), ...withPriority(7, 'vital', 3)]);
    const zero = { alarm: 0, vital: 0, status: 0, waveform: 0 };
    expect(buf.stats().inFlightPerClass).toEqual(zero);
    const a = buf.lease({ maxReadings: 100, maxBytes: 1 << 20, classes: ['alarm'] })!;
    const v = buf.lease({ maxReadings: 100, maxBytes: 1 << 20, classes: ['vital'] })!;
    expect(buf.stats().inFlightPerClass).toEqual({ ...zero, alarm: 3, vital: 7 });
    expect(buf.stats().inFlight).toBe(10);
    buf.ack(a.id);
    expect(buf.stats().inFlightPerClass).toEqual({ ...zero, vital: 7 });
    buf.release(v.id);
    expect(buf.stats().inFlightPerClass).toEqual(zero);
    await buf.close();
  });
});

describe('buffer: its reports go through the events table', () => {
  let env: TestEnv;
  afterEach(() => env?.cleanup());

  it('an ack of an unknown lease is counted as buffer_warning {op: unknown_lease}', async () => {
    env = testEnv();
    const buf = await env.open();
    buf.ack(12345);
    buf.ack(12346);
    expect(await env.events.count('buffer_warning', { op: 'unknown_lease' })).toBe(2);
    expect(await env.events.count('buffer_error')).toBe(0);
    await buf.close();
  });
});
