/** Blocks this thread for `ms` (start-up and lock-retry paths only: it stops the event loop too). */
export function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}
