/**
 * The live view of `wardgate simulate` through a real terminal (issue 14 item 9): util-linux
 * `script` gives the real process a pty the test sets to 80 columns. On it the view is several
 * lines redrawn in place, each fitting the width the test set (a wrapped line would make the
 * cursor-up fall short and the view crawl down the screen); through a pipe there is no escape
 * sequence at all, and both end with the same `summary: … N readings committed` line, whose N is
 * what the buffer file holds afterwards (read by the test, not taken from the process).
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readBufferStats } from '../../src/buffer/index.js';
import { spawnCli, tempDir } from '../helpers/gateway.js';
import { cliOnPty, viewLines } from '../helpers/pty.js';

const COLUMNS = 80;
const args = (data: string): string[] => [
  'simulate',
  '--beds',
  '3',
  '--duration',
  '3s',
  '--drain-timeout',
  '500ms',
  '--brokers',
  '127.0.0.1:1',
  '--data',
  data,
  '--seed',
  '1',
];

const committed = (out: string): number => Number(/^summary: gateway \S+: (\d+) readings committed, \d+ forwarded to Kafka, /m.exec(out)?.[1] ?? Number.NaN);

describe('simulate live view on a terminal and through a pipe', () => {
  it('a pty: the lines redrawn in place, each within the width; a pipe: no escapes; both end with the stable summary line', async () => {
    const ptyData = join(tempDir(), 'data');
    const pipeData = join(tempDir(), 'data');
    const pipe = spawnCli(args(pipeData));
    const p = cliOnPty(args(ptyData), COLUMNS);
    const [code, pipeCode] = await Promise.all([p.exited, pipe.exited]);
    const tty = { code, out: p.out() };
    expect(tty.code, tty.out).toBe(0);
    expect(pipeCode, pipe.stderr()).toBe(0);

    // On the pty: the three lines drawn, then the cursor taken back up by three and each line cleared before it is drawn again.
    const frames = tty.out.split('\x1b[3A');
    expect(frames.length, tty.out).toBeGreaterThanOrEqual(2);
    const view = viewLines(tty.out);
    expect(view.some((l) => /^sources {3}simulator \d+\/s/.test(l))).toBe(true);
    expect(view.some((l) => /^buffer {4}alarm \d+ {3}vital \d+ {3}status \d+ {3}waveform \d+ {3}\(\d+ readings\)$/.test(l))).toBe(true);
    expect(view.some((l) => /^kafka {5}OFFLINE \(.*: buffering \| forwarded 0$/.test(l))).toBe(true);
    // Every row the view drew fits the terminal the test made: none wraps.
    expect(view.filter((l) => [...l].length > COLUMNS - 1)).toEqual([]);

    // Through a pipe: the plain line only, no terminal control at all.
    expect(pipe.stdout()).not.toContain('\x1b');
    expect(pipe.stdout()).toMatch(/^in +\d+\/s \| committed \d+ \| buffered \d+ \(alarm \d+\) \| forwarded 0 \| kafka OFFLINE/m);

    // The summary line is the same on both, and its count is what each buffer file holds.
    for (const [out, data] of [
      [tty.out, ptyData],
      [pipe.stdout(), pipeData],
    ] as const) {
      const n = committed(out);
      expect(n, out).toBeGreaterThan(0);
      expect(readBufferStats(data)?.totalReadings).toBe(n);
    }
  }, 60_000);
});
