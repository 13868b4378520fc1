/**
 * A count of things under way (readings with the sink, commits whose acknowledgement waits) and
 * one promise that settles when it is back to 0: every waiter shares it, the `done` that brings
 * the count to 0 settles it. No timer, no polling.
 */
export class PendingCount {
  private n = 0;
  private zero: { promise: Promise<void>; resolve: () => void } | null = null;

  get value(): number {
    return this.n;
  }

  add(k = 1): void {
    this.n += k;
  }

  done(k = 1): void {
    this.n -= k;
    if (this.n === 0 && this.zero) {
      const z = this.zero;
      this.zero = null;
      z.resolve();
    }
  }

  /** Settles once the count is 0; undefined when it is 0 now. */
  whenZero(): Promise<void> | undefined {
    if (this.n === 0) return undefined;
    if (!this.zero) {
      let resolve = (): void => undefined;
      const promise = new Promise<void>((r) => {
        resolve = r;
      });
      this.zero = { promise, resolve };
    }
    return this.zero.promise;
  }
}
