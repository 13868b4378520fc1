/** Clock warnings: a wall-clock step against the monotonic clock is a jump (log, metric, status); an unsynchronised clock is said once. */
import { Writable } from 'node:stream';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/logger.js';
import { ClockWatch } from '../../src/metrics/clock.js';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk, _e, cb) {
      for (const l of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(l));
      cb();
    },
  });
  return { lines, log: createLogger({ level: 'info', destination: stream as never }) };
}

describe('clock watch', () => {
  it('a wall-clock step beyond the tolerance is a jump: logged, counted, in the status; normal time is not', async () => {
    let wall = 1_000_000;
    let mono = 0;
    const { lines, log } = capture();
    const registry = new Registry();
    const c = new ClockWatch({ log, registry, jumpToleranceMs: 2000, now: () => wall, monotonic: () => mono, probe: async () => null });
    wall += 1000;
    mono += 1000;
    expect(c.check()).toBeNull();
    wall += 1000 + 1500;
    mono += 1000; // drift within tolerance
    expect(c.check()).toBeNull();
    wall -= 3_600_000;
    mono += 1000; // NTP steps the clock back an hour
    wall += 1000;
    expect(c.check()).toBe(-3_600_000);
    expect(c.status.jumps).toBe(1);
    expect(c.status.lastJump?.byMs).toBe(-3_600_000);
    const text = await registry.metrics();
    expect(text).toContain('wardgate_clock_jumps_total 1');
    expect(text).toContain('wardgate_clock_last_jump_seconds -3600');
    await new Promise((r) => setImmediate(r));
    expect(lines.filter((l) => l.event === 'clock_jump').map((l) => l.byMs)).toEqual([-3_600_000]);
  });

  it('unsynchronised is a metric (0) and one warning; unknown stays -1; back in sync is 1', async () => {
    let answer: boolean | null = null;
    const { lines, log } = capture();
    const registry = new Registry();
    const c = new ClockWatch({ log, registry, probe: async () => answer });
    await c.probeSync();
    expect(await registry.metrics()).toContain('wardgate_clock_synchronized -1');
    answer = false;
    await c.probeSync();
    await c.probeSync();
    expect(await registry.metrics()).toContain('wardgate_clock_synchronized 0');
    expect(c.status.synchronized).toBe(false);
    answer = true;
    await c.probeSync();
    expect(await registry.metrics()).toContain('wardgate_clock_synchronized 1');
    await new Promise((r) => setImmediate(r));
    expect(lines.filter((l) => l.event === 'clock_unsynchronized')).toHaveLength(1);
    expect(lines.filter((l) => l.event === 'clock_synchronized')).toHaveLength(1);
  });

  it('stop aborts a probe still running, so no child process outlives the gateway', async () => {
    let aborted = false;
    const c = new ClockWatch({
      log: capture().log,
      registry: new Registry(),
      probe: (signal) =>
        new Promise((resolve) =>
          signal.addEventListener('abort', () => {
            aborted = true;
            resolve(null);
          }),
        ),
    });
    const pending = c.probeSync();
    c.stop();
    await pending;
    expect(aborted).toBe(true);
    expect(c.status.synchronized).toBeNull();
  });
});
