/** A clock a test steps by hand: timers fire only when the test advances time past them. */
import type { Clock } from '../../src/devices/ble/backoff.js';

interface Timer {
  at: number;
  fn: () => void;
  id: number;
}

export class ManualClock implements Clock {
  private t = 1_000_000;
  private timers: Timer[] = [];
  private nextId = 1;

  now(): number {
    return this.t;
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.nextId++;
    this.timers.push({ at: this.t + Math.max(0, ms), fn, id });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.timers = this.timers.filter((x) => x.id !== handle);
  }

  /** Deadlines of pending timers, soonest first. */
  deadlines(): number[] {
    return this.timers.map((x) => x.at).sort((a, b) => a - b);
  }

  /** Moves time to `t`, firing due timers in deadline order. */
  advanceTo(t: number): void {
    for (;;) {
      const due = this.timers.filter((x) => x.at <= t).sort((a, b) => a.at - b.at || a.id - b.id)[0];
      if (!due) break;
      this.timers = this.timers.filter((x) => x !== due);
      this.t = Math.max(this.t, due.at);
      due.fn();
    }
    this.t = Math.max(this.t, t);
  }
}
