/** The one-line live status `wardgate simulate` and `run` print while they work. */

import type { BufferStats } from '../buffer/types.js';
import type { LiveStatus } from '../status-file.js';

export function formatLiveLine(s: LiveStatus, b: BufferStats): string {
  const f = s.forwarder;
  const kafka = f.state === 'offline' || f.state === 'degraded' ? `${f.state.toUpperCase()} (${shorten(f.reason, 60)}) - buffering` : f.state;
  return (
    `in ${s.readingsPerSecond.toFixed(0).padStart(5)}/s | committed ${s.ingestedTotal} | buffered ${b.totalReadings}` +
    ` (alarm ${b.perClass.alarm.readings}) | forwarded ${f.forwarded} | kafka ${kafka}`
  );
}

function shorten(s: string, n: number): string {
  return s.length > n ? `${s.slice(0, n - 1)}…` : s;
}

/** Rewrites one terminal line in place on a TTY; prints a line every `everyMs` otherwise. */
export class LiveLine {
  private lastPrint = 0;
  private width = 0;

  constructor(
    private readonly out: NodeJS.WriteStream,
    private readonly everyMs = 5000,
  ) {}

  update(line: string, force = false): void {
    if (this.out.isTTY) {
      const pad = Math.max(0, this.width - line.length);
      this.out.write(`\r${line}${' '.repeat(pad)}`);
      this.width = line.length;
      return;
    }
    const now = Date.now();
    if (force || now - this.lastPrint >= this.everyMs) {
      this.out.write(`${line}\n`);
      this.lastPrint = now;
    }
  }

  end(): void {
    if (this.out.isTTY && this.width > 0) this.out.write('\n');
    this.width = 0;
  }
}
