/** The one-line live status `wardgate simulate` and `run` print while they work. */

import type { BufferStats } from '../buffer/types.js';
import type { LiveStatus } from '../status-file.js';
import { steadyNow } from '../steady-clock.js';

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
    const now = steadyNow();
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

/** What the multi-line view shows besides the status: readings/s per source, and the drain of a backlog. */
export interface LiveViewInput {
  status: LiveStatus;
  buffer: BufferStats;
  /** Readings per second per device family, over the last interval. */
  perSource: Record<string, number>;
  /** Readings buffered when the current drain began (the peak since the buffer was last empty), or null when not draining. */
  drainFrom: number | null;
}

const BAR = 30;

/** Progress of a drain: done/total as a bar, the percentage, and the time left at the current drain rate. */
export function drainProgress(from: number, left: number, ratePerSecond: number): string {
  const done = Math.min(1, Math.max(0, from > 0 ? (from - left) / from : 1));
  const filled = Math.round(done * BAR);
  const eta = ratePerSecond > 0 ? formatSeconds(left / ratePerSecond) : '?';
  return `[${'#'.repeat(filled)}${'.'.repeat(BAR - filled)}] ${(done * 100).toFixed(0).padStart(3)}%  ${left} of ${from} left, ETA ${eta}`;
}

function formatSeconds(s: number): string {
  if (s < 60) return `${Math.ceil(s)} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${Math.ceil(s % 60)} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

/** The lines of the live view on a terminal. */
export function formatLiveView(v: LiveViewInput): string[] {
  const s = v.status;
  const f = s.forwarder;
  const sources = Object.entries(v.perSource)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, n]) => `${k} ${n.toFixed(0)}/s`)
    .join('   ');
  const classes = Object.entries(v.buffer.perClass)
    .map(([k, c]) => `${k} ${c.readings}`)
    .join('   ');
  const kafka = f.state === 'offline' || f.state === 'degraded' ? `${f.state.toUpperCase()} (${shorten(f.reason, 60)}): buffering` : f.state;
  const lines = [
    `sources   ${sources || '(none)'}   | committed ${s.ingestedTotal}`,
    `buffer    ${classes}   (${v.buffer.totalReadings} readings)`,
    `kafka     ${kafka} | forwarded ${f.forwarded}${f.drainRate ? ` (${f.drainRate.toFixed(0)}/s)` : ''}`,
  ];
  if (v.drainFrom !== null) lines.push(`backlog   ${drainProgress(v.drainFrom, v.buffer.totalReadings, f.drainRate ?? 0)}`);
  return lines;
}

/**
 * Tracks the drain of a backlog for the progress bar: it begins when Kafka is online with more
 * than `minBacklog` readings buffered (its size is the peak seen since), and ends when the buffer
 * is down to `minBacklog` again or Kafka is lost.
 */
export class DrainTracker {
  private from: number | null = null;
  private peak: number;

  /** `atStart`: the readings buffered when the gateway started (the first sample comes a second later, with some of them sent). */
  constructor(
    private readonly minBacklog = 100,
    atStart = 0,
  ) {
    this.peak = atStart;
  }

  update(online: boolean, buffered: number): number | null {
    this.peak = Math.max(this.peak, buffered);
    if (!online || buffered <= this.minBacklog) {
      this.from = null;
      if (buffered <= this.minBacklog) this.peak = buffered;
      return null;
    }
    this.from ??= this.peak;
    this.from = Math.max(this.from, buffered);
    return this.from;
  }
}

/** A line cut to fit a terminal `columns` wide (one column left free, so the cursor never wraps); unknown width: unchanged. */
export function fitLine(line: string, columns: number | undefined): string {
  if (!columns || columns < 2) return line;
  const chars = [...line];
  return chars.length <= columns - 1 ? line : `${chars.slice(0, columns - 2).join('')}…`;
}

/**
 * Redraws several lines in place on a terminal (cursor up, clear each line); anywhere else
 * (a pipe, journald) it prints the one-line summary every `everyMs`, as LiveLine does.
 */
export class LiveView {
  private drawn = 0;
  private readonly plain: LiveLine;

  constructor(
    private readonly out: NodeJS.WriteStream,
    everyMs = 5000,
  ) {
    this.plain = new LiveLine(out, everyMs);
  }

  update(lines: readonly string[], summary: string, force = false): void {
    if (!this.out.isTTY) {
      this.plain.update(summary, force);
      return;
    }
    const up = this.drawn > 0 ? `\x1b[${this.drawn}A` : '';
    // Lines drawn last time and not now are cleared. Each fits the terminal's width: a line that
    // wrapped would take two rows and the cursor-up by the number of lines would fall short.
    const all = [...lines, ...Array<string>(Math.max(0, this.drawn - lines.length)).fill('')].map((l) => fitLine(l, this.out.columns));
    this.out.write(`${up}${all.map((l) => `\r\x1b[2K${l}\n`).join('')}`);
    this.drawn = all.length;
  }

  end(): void {
    this.drawn = 0;
  }
}
