/**
 * The live view's progress bar while a backlog drains (issue 14 item 9), on a real terminal
 * (util-linux `script`) against the real broker. First a simulated ward runs with Kafka
 * unreachable and leaves a backlog, counted by the test from the buffer file; then `simulate`
 * starts on a pty with the broker and a rate cap (so the drain lasts several redraws), and the
 * view shows the bar: the backlog it drains from is at least what the test counted and at most
 * that plus what the second run committed, what is left falls, an ETA is given, and the run ends
 * with the buffer empty (file read by the test).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { readBufferStats } from '../../src/buffer/index.js';
import { spawnCli, tempDir, uniqueTopics } from '../helpers/gateway.js';
import { cliOnPty, viewLines } from '../helpers/pty.js';

describe('simulate live view while a backlog drains', () => {
  it('a progress bar from the backlog the test counted down to empty, with an ETA', async () => {
    const brokers = inject('kafkaBrokers');
    const topics = uniqueTopics('liveview');
    const dir = tempDir();
    const data = join(dir, 'data');
    const config = (kafka: string, extra: string[]): string => {
      const file = join(dir, `wardgate-${kafka === brokers ? 'up' : 'down'}.yaml`);
      writeFileSync(
        file,
        [
          'gateway:',
          `  dataDir: ${data}`,
          'kafka:',
          `  brokers: ["${kafka}"]`,
          '  retry: { initial: 100ms, max: 1s }',
          ...extra,
          '  topics:',
          ...Object.entries(topics).map(([k, v]) => `    ${k}: ${v}`),
          'devices:',
          '  simulator: { enabled: true, beds: 40, interval: 250ms, seed: 9 }',
          'log: { level: warn }',
          '',
        ].join('\n'),
      );
      return file;
    };

    // 1. Kafka unreachable: a backlog.
    const down = spawnCli(['simulate', '--config', config('127.0.0.1:1', []), '--no-live', '--duration', '4s', '--drain-timeout', '200ms']);
    expect(await down.exited, down.stderr()).toBe(0);
    const backlog = readBufferStats(data)!.totalReadings;
    expect(backlog).toBeGreaterThan(1000);

    // 2. On a terminal, with the broker, at most a sixth of the backlog a second: several redraws while it drains.
    const rate = Math.ceil(backlog / 6);
    const up = cliOnPty([
      'simulate',
      '--config',
      config(brokers, [`  rateLimit: { readingsPerSecond: ${rate} }`]),
      '--beds',
      '1',
      '--duration',
      '12s',
      '--drain-timeout',
      '30s',
    ]);
    expect(await up.exited, up.out()).toBe(0);
    const out = up.out();
    expect(out).toContain(`${backlog} readings buffered from before this start`);
    const summary = /^summary: gateway \S+: (\d+) readings committed, (\d+) forwarded to Kafka, buffer empty\./m.exec(out);
    expect(summary, out).not.toBeNull();
    expect(readBufferStats(data)!.totalReadings).toBe(0);

    const bars = viewLines(out)
      .map((l) => /^backlog {3}\[([#.]{30})\] +(\d+)% {2}(\d+) of (\d+) left, ETA (.+)$/.exec(l))
      .filter((m) => m !== null)
      .map((m) => ({ bar: m[1]!, pct: Number(m[2]), left: Number(m[3]), from: Number(m[4]), eta: m[5]! }));
    expect(bars.length, out).toBeGreaterThanOrEqual(2);
    const committedHere = Number(summary![1]);
    for (const b of bars) {
      expect(b.from).toBeGreaterThanOrEqual(backlog);
      expect(b.from).toBeLessThanOrEqual(backlog + committedHere);
      expect(b.left).toBeLessThanOrEqual(b.from);
    }
    expect(bars.at(-1)!.left).toBeLessThan(bars[0]!.left);
    const filled = (b: { bar: string }): number => b.bar.replace(/\./g, '').length;
    expect(filled(bars.at(-1)!)).toBeGreaterThan(filled(bars[0]!));
    expect(bars.some((b) => /^\d+ (s|min \d+ s)$/.test(b.eta))).toBe(true);
  }, 120_000);
});
