/**
 * Issue 14 item 7: a wall-clock jump never reorders the buffer. Readings go through the real
 * pipeline (Ingest stamps gatewayTime from its clock) into a real buffer file; the wall clock
 * (injected into Ingest and the ClockWatch, as the gateway takes them) is stepped back an hour,
 * then forward two; the drain follows the order the test submitted in (seq), not gatewayTime,
 * and both jumps are warned with the sizes the test made.
 */
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import type { SqliteBuffer } from '../../src/buffer/index.js';
import { Ingest } from '../../src/ingest.js';
import { silentLogger } from '../../src/logger.js';
import { ClockWatch } from '../../src/metrics/clock.js';
import type { ReadingInput } from '../../src/reading.js';
import { drainAll, type TestEnv, testEnv } from './helpers.js';

let env: TestEnv | null = null;
let buf: SqliteBuffer | null = null;
afterEach(async () => {
  await buf?.close();
  env?.cleanup();
  buf = null;
  env = null;
});

const input = (i: number): ReadingInput => ({
  deviceId: 'mon-1',
  deviceKind: 'simulator',
  bed: 'BED-01',
  patientId: 'P-1',
  metric: 'heart_rate',
  value: 40 + i,
  unit: '/min',
});

describe('a clock jump never reorders the buffer', () => {
  it('back an hour, forward two: drained in submission (seq) order, gatewayTime follows the wall clock, both jumps warned', async () => {
    env = testEnv('wg-clock-');
    buf = await env.open();
    let wall = Date.UTC(2026, 11, 6, 12, 0, 0);
    let mono = 0;
    const step = (ms: number): void => {
      wall += ms;
      mono += ms;
    };
    const registry = new Registry();
    const clock = new ClockWatch({ log: silentLogger(), registry, jumpToleranceMs: 2000, now: () => wall, monotonic: () => mono, probe: async () => null });
    const ingest = new Ingest(buf, env.events, { clockSkewToleranceMs: 5 * 60_000, now: () => wall });
    let next = 0;
    const submitted: number[] = [];
    const times: number[] = [];
    const append = async (n: number): Promise<void> => {
      for (let k = 0; k < n; k++) {
        submitted.push(40 + next);
        times.push(wall);
        await ingest.submit([input(next++)]);
        step(100);
      }
      expect(clock.check()).toBeNull();
    };

    await append(20);
    wall -= 3_600_000; // NTP steps the clock back an hour
    step(100);
    expect(clock.check()).toBe(-3_600_000);
    await append(20);
    wall += 7_200_000; // and forward two
    step(100);
    expect(clock.check()).toBe(7_200_000);
    await append(20);

    const drained = drainAll(buf, 7);
    expect(drained.map((r) => r.value)).toEqual(submitted);
    const seqs = drained.map((r) => r.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    // The timestamps are the wall clock's, jumps included: sorting by them would have put the middle block first.
    expect(drained.map((r) => r.gatewayTime)).toEqual(times);
    expect(times[20]!).toBeLessThan(times[0]!);

    expect(clock.status.jumps).toBe(2);
    expect(clock.status.lastJump?.byMs).toBe(7_200_000);
    const text = await registry.metrics();
    expect(text).toContain('wardgate_clock_jumps_total 2');
    expect(text).toContain('wardgate_clock_last_jump_seconds 7200');
  });
});
