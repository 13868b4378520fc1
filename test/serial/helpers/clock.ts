/**
 * Clocks for the serial adapter in tests (it takes a Clock: src/devices/serial/backoff.ts).
 *  - ManualClock: time moves only when the test says; intervals run only when stepped.
 *  - WarpClock: real timers, but the test may freeze the timeouts and jump time forward: every
 *    timeout that falls due fires at once, so "the device is gone for 10 s" takes as long as the
 *    adapter needs to try, and no attempt happens that the test did not cause.
 */
import type { Clock } from '../../../src/devices/serial/backoff.js';

export class ManualClock implements Clock {
  t = 1_000_000;
  private readonly intervals = new Map<number, { fn: () => void; ms: number; next: number }>();
  private readonly timeouts = new Map<number, { fn: () => void; due: number }>();
  private id = 0;
  /** Interval callbacks run so far. */
  ticks = 0;

  now(): number {
    return this.t;
  }
  setTimeout(fn: () => void, ms: number): unknown {
    this.timeouts.set(++this.id, { fn, due: this.t + ms });
    return this.id;
  }
  clearTimeout(h: unknown): void {
    this.timeouts.delete(h as number);
  }
  setInterval(fn: () => void, ms: number): unknown {
    this.intervals.set(++this.id, { fn, ms, next: this.t + ms });
    return this.id;
  }
  clearInterval(h: unknown): void {
    this.intervals.delete(h as number);
  }
  /** Moves time forward `ms`, running every interval and timeout that falls due, in time order. */
  step(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      let at = end;
      for (const i of this.intervals.values()) at = Math.min(at, i.next);
      for (const t of this.timeouts.values()) at = Math.min(at, t.due);
      this.t = at;
      let ran = false;
      for (const [id, t] of [...this.timeouts]) {
        if (t.due > at) continue;
        this.timeouts.delete(id);
        t.fn();
        ran = true;
      }
      for (const i of [...this.intervals.values()]) {
        if (i.next > at) continue;
        i.next += i.ms;
        this.ticks++;
        i.fn();
        ran = true;
      }
      if (!ran && at >= end) return;
    }
  }
}

export class WarpClock implements Clock {
  private offset = 0;
  private readonly timeouts = new Map<number, { fn: () => void; due: number; h?: NodeJS.Timeout }>();
  private id = 0;
  private frozen = false;

  now(): number {
    return Date.now() + this.offset;
  }
  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.id;
    this.timeouts.set(id, { fn, due: this.now() + ms });
    if (!this.frozen) this.arm(id);
    return id;
  }
  clearTimeout(id: unknown): void {
    const t = this.timeouts.get(id as number);
    if (t?.h) clearTimeout(t.h);
    this.timeouts.delete(id as number);
  }
  setInterval(fn: () => void, ms: number): unknown {
    return setInterval(fn, ms);
  }
  clearInterval(h: unknown): void {
    clearInterval(h as NodeJS.Timeout);
  }
  /** Timeouts waiting to fire (the adapter's scheduled reopen attempts). */
  get pending(): number {
    return this.timeouts.size;
  }
  /** From now on timeouts fire only through `advance` (none fires on its own, however slow the machine). */
  freeze(): void {
    this.frozen = true;
    for (const t of this.timeouts.values()) if (t.h) clearTimeout(t.h);
  }
  /** Timeouts run on real time again. */
  thaw(): void {
    this.frozen = false;
    for (const id of this.timeouts.keys()) this.arm(id);
  }
  /** Jumps `ms` forward: every timeout now due fires at once, earliest first. */
  advance(ms: number): void {
    this.offset += ms;
    const now = this.now();
    for (const [id, t] of [...this.timeouts].sort((a, b) => a[1].due - b[1].due)) {
      if (t.due > now) continue;
      if (t.h) clearTimeout(t.h);
      this.timeouts.delete(id);
      t.fn();
    }
  }

  private arm(id: number): void {
    const t = this.timeouts.get(id);
    if (!t) return;
    t.h = setTimeout(
      () => {
        this.timeouts.delete(id);
        t.fn();
      },
      Math.max(0, t.due - this.now()),
    );
  }
}
