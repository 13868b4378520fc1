/**
 * When the forwarder's pump runs: now (never re-entered: a call while it runs is ignored, the
 * running pump sees the same state), on the next turn of the event loop (wake-ups from commits,
 * acks and the ticker coalesce into one run), or at a time (a backoff, the linger time, the rate
 * cap; only the earliest pending time is kept). No wake-up runs after stop().
 */
export class Pump {
  private running = false;
  private queued = false;
  private stopped = false;
  private timer: NodeJS.Timeout | null = null;
  private timerDue = Infinity;

  constructor(
    /** One run of the pump. */
    private readonly body: () => void,
    /** Whether the pump may run now (the forwarder is started and not stopped). */
    private readonly enabled: () => boolean,
    private readonly now: () => number,
  ) {}

  /** Runs the body now unless it is already running (or the pump is disabled). */
  run(): void {
    if (this.running || !this.enabled()) return;
    this.running = true;
    try {
      this.body();
    } finally {
      this.running = false;
    }
  }

  /** Runs on the next turn of the event loop; several calls before then run once. */
  soon(): void {
    if (this.queued || !this.enabled()) return;
    this.queued = true;
    setImmediate(() => {
      this.queued = false;
      this.run();
    });
  }

  /** Runs at time `t` (ms since the epoch) unless a run is already due by then. */
  at(t: number): void {
    if (this.stopped) return;
    if (this.timer && this.timerDue <= t) return;
    this.clearTimer();
    this.timerDue = t;
    this.timer = setTimeout(
      () => {
        this.timer = null;
        this.timerDue = Infinity;
        this.run();
      },
      Math.max(0, t - this.now()),
    );
  }

  stop(): void {
    this.stopped = true;
    this.clearTimer();
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.timerDue = Infinity;
  }
}
