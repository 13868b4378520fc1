/** Reopen delays after a port disappears: doubling from `initial` up to `max`. Pure. */
import { steadyNow } from '../../steady-clock.js';
export function backoffDelay(attempt: number, initialMs: number, maxMs: number): number {
  if (attempt <= 0) return Math.min(initialMs, maxMs);
  return Math.min(maxMs, initialMs * 2 ** Math.min(attempt, 30));
}

/** Timers the port worker uses; tests inject a manual clock to step the backoff. */
export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  setInterval(fn: () => void, ms: number): unknown;
  clearInterval(handle: unknown): void;
}

export const systemClock: Clock = {
  now: steadyNow,
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
  setInterval: (fn, ms) => setInterval(fn, ms),
  clearInterval: (h) => clearInterval(h as NodeJS.Timeout),
};
