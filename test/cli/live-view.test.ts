/** The live view of `wardgate simulate` / `run`: lines redrawn in place on a terminal, the plain summary line elsewhere, a drain progress bar. */
import { describe, expect, it } from 'vitest';
import type { BufferStats } from '../../src/buffer/types.js';
import { DrainTracker, drainProgress, fitLine, formatLiveView, LiveView } from '../../src/cli/live-line.js';
import type { LiveStatus } from '../../src/status-file.js';

function stream(isTTY: boolean, columns?: number) {
  const writes: string[] = [];
  return { writes, out: { isTTY, columns, write: (s: string) => writes.push(s) } as unknown as NodeJS.WriteStream };
}

describe('live view', () => {
  it.each([
    [1000, 1000, 0, '[..............................]   0%  1000 of 1000 left, ETA ?'],
    [1000, 500, 100, '[###############...............]  50%  500 of 1000 left, ETA 5 s'],
    [1000, 0, 100, '[##############################] 100%  0 of 1000 left, ETA 0 s'],
    [90_000, 9000, 100, '[###########################...]  90%  9000 of 90000 left, ETA 1 min 30 s'],
  ])('drain of %i with %i left at %i/s', (from, left, rate, want) => {
    expect(drainProgress(from, left, rate)).toBe(want);
  });

  it('a drain begins online above the minimum backlog, from the peak buffered while offline, and ends when the buffer is down', () => {
    const d = new DrainTracker(100);
    expect(d.update(true, 50)).toBeNull();
    expect(d.update(false, 800)).toBeNull(); // offline: buffering, no drain
    expect(d.update(false, 1200)).toBeNull();
    expect(d.update(true, 1100)).toBe(1200); // back online: draining from the peak
    expect(d.update(true, 600)).toBe(1200);
    expect(d.update(true, 90)).toBeNull(); // done
    expect(d.update(true, 150)).toBe(150); // a new, smaller backlog starts from itself
  });

  it('a backlog found at start is where the drain begins, though the first sample comes after some of it was sent', () => {
    const d = new DrainTracker(100, 2536);
    expect(d.update(true, 1965)).toBe(2536);
    expect(d.update(true, 90)).toBeNull();
  });

  it('on a terminal: redraws in place (cursor up by the lines drawn, each line cleared), clearing lines no longer shown', () => {
    const { writes, out } = stream(true);
    const v = new LiveView(out);
    v.update(['a', 'b', 'c'], 'summary');
    v.update(['d', 'e'], 'summary');
    expect(writes[0]).toBe('\r\x1b[2Ka\n\r\x1b[2Kb\n\r\x1b[2Kc\n');
    expect(writes[1]).toBe('\x1b[3A\r\x1b[2Kd\n\r\x1b[2Ke\n\r\x1b[2K\n');
    expect(writes.join('')).not.toContain('summary');
  });

  it('a line longer than the terminal is cut to one column less than its width (no wrap), counted in characters; unknown width: unchanged', () => {
    expect(fitLine('abcdef', 7)).toBe('abcdef');
    expect(fitLine('abcdefg', 7)).toBe('abcde…');
    expect(fitLine('…………………', 5)).toBe('…………');
    expect(fitLine('abcdefg', undefined)).toBe('abcdefg');
    const { writes, out } = stream(true, 10);
    new LiveView(out).update(['0123456789abc', 'short'], 'summary');
    expect(writes[0]).toBe('\r\x1b[2K01234567…\n\r\x1b[2Kshort\n');
  });

  it('elsewhere: only the plain summary line, every interval or when forced', () => {
    const { writes, out } = stream(false);
    const v = new LiveView(out, 60_000);
    v.update(['a', 'b'], 'in 5/s | committed 7 | buffered 0');
    v.update(['a', 'b'], 'not printed: within the interval');
    v.update(['a', 'b'], 'in 0/s | committed 9 | buffered 0', true);
    expect(writes).toEqual(['in 5/s | committed 7 | buffered 0\n', 'in 0/s | committed 9 | buffered 0\n']);
  });

  it('the lines: sources with their rate, depth per class, Kafka state, and the bar only while draining', () => {
    const perClass = { alarm: { readings: 2 }, vital: { readings: 1500 }, status: { readings: 3 }, waveform: { readings: 0 } };
    const buffer = { totalReadings: 1505, perClass } as unknown as BufferStats;
    const status = {
      ingestedTotal: 4000,
      forwarder: { state: 'online', reason: 'ok', forwarded: 2495, drainRate: 500 },
    } as unknown as LiveStatus;
    const lines = formatLiveView({ status, buffer, perSource: { simulator: 30, serial: 4.4 }, drainFrom: 3000 });
    expect(lines).toEqual([
      'sources   serial 4/s   simulator 30/s   | committed 4000',
      'buffer    alarm 2   vital 1500   status 3   waveform 0   (1505 readings)',
      'kafka     online | forwarded 2495 (500/s)',
      'backlog   [###############...............]  50%  1505 of 3000 left, ETA 4 s',
    ]);
    const offline = { ...status, forwarder: { state: 'offline', reason: 'connection refused', forwarded: 0 } } as unknown as LiveStatus;
    const l2 = formatLiveView({ status: offline, buffer, perSource: {}, drainFrom: null });
    expect(l2).toHaveLength(3);
    expect(l2[2]).toBe('kafka     OFFLINE (connection refused): buffering | forwarded 0');
  });
});
