/**
 * The event loop's delay: how late a timer of period `periodMs` runs, the longest since the last
 * `take()`. A stall of S ms shows as at least S - periodMs.
 *
 * Not `perf_hooks.monitorEventLoopDelay`: its histogram records the time between its samples and
 * its `reset()` forgets the previous sample, so the first sample after a reset is never recorded.
 * Reset once a second for a per-second maximum, it drops every stall that begins before its next
 * sample (one stall in ten at a 100 ms period); and it had to sample every 20 ms to be precise,
 * which woke an idle gateway 50 times a second. Here the period is coarse and nothing is lost.
 */
export class LoopDelay {
  private timer: NodeJS.Timeout | null = null;
  private last = 0;
  private maxMs = 0;

  constructor(private readonly periodMs: number) {}

  start(): void {
    if (this.timer) return;
    this.last = performance.now();
    this.timer = setInterval(() => {
      const now = performance.now();
      this.maxMs = Math.max(this.maxMs, now - this.last - this.periodMs);
      this.last = now;
    }, this.periodMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** The longest delay since the last take (seconds), without forgetting it. */
  peek(): number {
    return this.maxMs / 1000;
  }

  /** The longest delay since the last take (seconds); the next take starts from zero. */
  take(): number {
    const s = this.peek();
    this.maxMs = 0;
    return s;
  }
}
