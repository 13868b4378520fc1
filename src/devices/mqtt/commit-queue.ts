/**
 * Between the MQTT side and the sink: collects the readings of many messages into one
 * submission (one group commit in the buffer), keeps submissions in order (one in flight at
 * a time, so per-device order and PUBACK order are kept), and holds QoS 1 messages the
 * buffer refused, retrying with backoff, until they commit or `maxHoldMs` passes.
 *
 *   commit(inputs)  QoS 1: resolves true once durably committed, false when the owner went
 *                   away before (its client resends); rejects with HoldExpired
 *   offer(inputs)   QoS 0: resolves true when committed, false when dropped (refused)
 */
import type { ReadingInput } from '../../reading.js';
import type { ReadingSink } from '../types.js';

export class HoldExpired extends Error {
  override readonly name = 'HoldExpired';
}

export class QueueClosed extends Error {
  override readonly name = 'QueueClosed';
}

export interface CommitQueueOptions {
  maxHoldMs: number;
  retryInitialMs: number;
  retryMaxMs: number;
  /** At most this many readings per submission (a single bigger message still goes alone). */
  maxBatch: number;
  now?: () => number;
  /** Called when the sink starts or stops refusing. */
  onRefusing?: (refusing: boolean, error?: unknown) => void;
}

interface Item {
  inputs: readonly ReadingInput[];
  since: number;
  reliable: boolean;
  live: (() => boolean) | undefined;
  resolve: (committed: boolean) => void;
  reject: (e: Error) => void;
}

const always = (): boolean => true;

export class CommitQueue {
  private items: Item[] = [];
  private busy = false;
  private scheduled = false;
  private timer: NodeJS.Timeout | null = null;
  private backoff: number;
  private refusing = false;
  private closed = false;
  private readonly now: () => number;

  constructor(
    private readonly sink: ReadingSink,
    private readonly opts: CommitQueueOptions,
  ) {
    this.backoff = opts.retryInitialMs;
    this.now = opts.now ?? Date.now;
  }

  /** QoS 1: resolves true once committed, false if `live()` turned false first. */
  commit(inputs: readonly ReadingInput[], live?: () => boolean): Promise<boolean> {
    return this.enqueue(inputs, true, live);
  }

  /**
   * QoS 0: best effort. Waits for the next submission like the rest but is dropped, not
   * retried, when that is refused; dropped at once while the sink refuses and the queue is
   * long (nothing holds a QoS 0 sender back, so its messages must not pile up).
   */
  offer(inputs: readonly ReadingInput[]): Promise<boolean> {
    if (this.refusing && this.items.length >= this.opts.maxBatch) return Promise.resolve(false);
    return this.enqueue(inputs, false, undefined);
  }

  /** True while the last submission was refused. */
  isRefusing(): boolean {
    return this.refusing;
  }

  /** Messages waiting or in flight. */
  pending(): number {
    return this.items.length;
  }

  /** Rejects everything still waiting with QueueClosed. A submission in flight completes. */
  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const items = this.items;
    this.items = [];
    for (const it of items) it.reject(new QueueClosed('the MQTT adapter is stopping'));
  }

  private enqueue(inputs: readonly ReadingInput[], reliable: boolean, live: (() => boolean) | undefined): Promise<boolean> {
    if (this.closed) return Promise.reject(new QueueClosed('the MQTT adapter is stopped'));
    return new Promise<boolean>((resolve, reject) => {
      this.items.push({ inputs, since: this.now(), reliable, live, resolve, reject });
      this.kick();
    });
  }

  private kick(): void {
    if (this.busy || this.scheduled || this.timer || this.closed) return;
    this.scheduled = true;
    // setImmediate, not a microtask: every message of the socket chunk being parsed joins in.
    setImmediate(() => {
      this.scheduled = false;
      void this.flush();
    });
  }

  private takeBatch(): Item[] {
    const now = this.now();
    const batch: Item[] = [];
    let readings = 0;
    let i = 0;
    for (; i < this.items.length; i++) {
      const it = this.items[i]!;
      if (!(it.live ?? always)()) {
        it.resolve(false);
        continue;
      }
      if (it.reliable && now - it.since > this.opts.maxHoldMs) {
        it.reject(new HoldExpired(`not committed within ${this.opts.maxHoldMs} ms`));
        continue;
      }
      if (batch.length > 0 && readings + it.inputs.length > this.opts.maxBatch) break;
      batch.push(it);
      readings += it.inputs.length;
    }
    this.items.splice(0, i);
    return batch;
  }

  private async flush(): Promise<void> {
    if (this.busy || this.closed) return;
    const batch = this.takeBatch();
    if (batch.length === 0) return;
    this.busy = true;
    const inputs = batch.length === 1 ? batch[0]!.inputs : batch.flatMap((b) => b.inputs);
    let error: unknown = null;
    try {
      await this.sink.submit(inputs);
    } catch (e) {
      error = e ?? new Error('refused');
    }
    this.busy = false;
    if (error === null) {
      this.backoff = this.opts.retryInitialMs;
      this.setRefusing(false);
      for (const b of batch) b.resolve(true);
    } else {
      this.setRefusing(true, error);
      const keep = batch.filter((b) => {
        if (b.reliable) return true;
        b.resolve(false);
        return false;
      });
      if (this.closed) {
        for (const b of keep) b.reject(new QueueClosed('the MQTT adapter is stopping'));
        return;
      }
      this.items.unshift(...keep);
      const delay = this.backoff;
      this.backoff = Math.min(this.backoff * 2, this.opts.retryMaxMs);
      this.timer = setTimeout(() => {
        this.timer = null;
        this.kick();
      }, delay);
      return;
    }
    if (this.items.length > 0) this.kick();
  }

  private setRefusing(refusing: boolean, error?: unknown): void {
    if (refusing === this.refusing) return;
    this.refusing = refusing;
    this.opts.onRefusing?.(refusing, error);
  }
}
