/**
 * The optional rate cap that protects a thin hospital uplink: a token bucket in readings per
 * second and/or bytes per second (bytes = encoded message bytes: key, value and headers,
 * before compression). The bucket holds at most one second of budget, so after an idle
 * period the forwarder bursts for at most a second before settling at the cap.
 *
 * A batch may take the bucket below zero (a batch larger than one second of budget is still
 * sent whole); the next batch then waits until the bucket is back at zero. Over any window the
 * average stays at the cap, give or take one batch. Alarms are counted but never wait.
 */
import { steadyNow } from '../steady-clock.js';
export interface RateCap {
  readingsPerSecond?: number;
  bytesPerSecond?: number;
}

export class RateLimiter {
  private readings: number;
  private bytes: number;
  private last: number;

  constructor(
    readonly cap: RateCap,
    private readonly now: () => number = steadyNow,
  ) {
    this.readings = cap.readingsPerSecond ?? 0;
    this.bytes = cap.bytesPerSecond ?? 0;
    this.last = now();
  }

  get enabled(): boolean {
    return this.cap.readingsPerSecond !== undefined || this.cap.bytesPerSecond !== undefined;
  }

  private refill(): void {
    const t = this.now();
    const dt = Math.max(0, t - this.last) / 1000;
    this.last = t;
    const r = this.cap.readingsPerSecond;
    const b = this.cap.bytesPerSecond;
    if (r !== undefined) this.readings = Math.min(r, this.readings + dt * r);
    if (b !== undefined) this.bytes = Math.min(b, this.bytes + dt * b);
  }

  /** Milliseconds until a batch may go (0 = now). */
  waitMs(): number {
    if (!this.enabled) return 0;
    this.refill();
    let wait = 0;
    const r = this.cap.readingsPerSecond;
    const b = this.cap.bytesPerSecond;
    if (r !== undefined && this.readings < 0) wait = Math.max(wait, (-this.readings / r) * 1000);
    if (b !== undefined && this.bytes < 0) wait = Math.max(wait, (-this.bytes / b) * 1000);
    return Math.ceil(wait);
  }

  /** Spends the budget of a batch that is being sent. */
  take(readings: number, bytes: number): void {
    if (!this.enabled) return;
    this.refill();
    if (this.cap.readingsPerSecond !== undefined) this.readings -= readings;
    if (this.cap.bytesPerSecond !== undefined) this.bytes -= bytes;
  }

  /** Lease limits that keep one batch within about one second of budget. */
  limits(maxReadings: number, maxBytes: number): { maxReadings: number; maxBytes: number } {
    const r = this.cap.readingsPerSecond;
    const b = this.cap.bytesPerSecond;
    return {
      maxReadings: r !== undefined ? Math.max(1, Math.min(maxReadings, Math.floor(r))) : maxReadings,
      maxBytes: b !== undefined ? Math.max(1, Math.min(maxBytes, Math.floor(b))) : maxBytes,
    };
  }
}
