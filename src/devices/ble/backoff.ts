/** Reconnect timing: a clock tests can step, and the delay schedule. Pure. */
import { steadyNow } from '../../steady-clock.js';

export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemClock: Clock = {
  now: steadyNow,
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

/** Delay before reconnect attempt `failures` (0 after a clean drop): initial, 2x, 4x ... up to max. */
export function reconnectDelay(failures: number, initialMs: number, maxMs: number): number {
  return Math.min(maxMs, initialMs * 2 ** Math.min(Math.max(0, failures), 30));
}
