/**
 * Between the MQTT side and the sink: collects the readings of the messages that arrive in
 * one turn of the event loop into one submission, lets several submissions be pending at
 * once (they join the buffer's group commit), and holds QoS 1 messages the buffer refused,
 * retrying with backoff, until they commit or `maxHoldMs` passes.
 *
 *   commit(inputs, live, done)  QoS 1: done(null, true) once durably committed, done(null,
 *                               false) when the owner went away before submission (its
 *                               client resends), done(HoldExpired | QueueClosed)
 *   offer(inputs, done)         QoS 0: done(null, true) when committed, done(null, false)
 *                               when dropped (refused)
 * Callbacks, not promises: this is the per-message hot path.
 *
 * Memory is bounded by design: the queue counts the readings it holds (waiting, in flight,
 * held) and their messages' payload bytes. At `maxPendingReadings` or `maxPendingBytes` it is
 * *over its bound*: `overBound()` is true and every source stops reading until `whenBelow`
 * calls back, once both are back under half of their bound (the
 * external subscriber holds mqtt.js's packet pump, so the socket is paused by TCP; the
 * embedded broker reads nothing more from any connection). Nothing is refused for it: a
 * sender is slowed down, as a slow network would. A source can overshoot the bound by what
 * it had already read (one socket read per connection), never more.
 *
 * Callbacks run in the order the messages were queued, even when a later submission
 * commits before an earlier refused one is retried, so PUBACKs leave in the order the
 * PUBLISHes came (MQTT-4.6.0-2). While the sink refuses, new messages wait; the refused
 * submissions are retried first, in order.
 */
import { PendingCount } from '../../pending-count.js';
import type { ReadingInput } from '../../reading.js';
import { steadyNow } from '../../steady-clock.js';
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
  /** Submissions pending at once (default 64). */
  maxInFlight?: number;
  /**
   * Readings held at most before sources must stop reading (default 4096): `overBound()`
   * is true from here until half of them have committed.
   */
  maxPendingReadings?: number;
  /** The same for the payload bytes of the messages held (default 4 MiB). */
  maxPendingBytes?: number;
  /** Called when the queue goes over its bound (true) and back under half of it (false). */
  onPressure?: (over: boolean, pendingReadings: number, pendingBytes: number) => void;
  now?: () => number;
  /** Called when the sink starts or stops refusing. */
  onRefusing?: (refusing: boolean, error?: unknown) => void;
  /**
   * Called with the readings of QoS 0 messages dropped here, never submitted: at the door while
   * the sink refuses (`refusing`), or waiting when the queue closes (`stopping`). (Those the sink
   * itself refused are counted by the sink.)
   */
  onDropped?: (reason: 'refusing' | 'stopping', readings: number) => void;
}

/** Who a message belongs to; once `closed`, its messages are no longer submitted (it resends them). */
export interface Owner {
  readonly closed: boolean;
}

/** Called once per message: an error (HoldExpired, QueueClosed), or whether it was committed. */
export type Settled = (error: Error | null, committed: boolean) => void;

interface Item {
  inputs: readonly ReadingInput[];
  /** Payload bytes of the message (held by its source until it is settled). */
  bytes: number;
  since: number;
  reliable: boolean;
  owner: Owner | undefined;
  done: Settled;
}

interface Batch {
  items: Item[];
  state: 'pending' | 'ok' | 'failed';
}

const DEFAULT_MAX_IN_FLIGHT = 64;
const DEFAULT_MAX_PENDING_READINGS = 4096;
const DEFAULT_MAX_PENDING_BYTES = 4 * 1024 * 1024;

export class CommitQueue {
  private queue: Item[] = [];
  /** Submitted batches not yet released, oldest first. */
  private batches: Batch[] = [];
  private inFlight = 0;
  private scheduled = false;
  private timer: NodeJS.Timeout | null = null;
  private backoff: number;
  private refusing = false;
  private closed = false;
  private readonly now: () => number;
  private readonly maxInFlight: number;
  /** Readings of every message not yet settled (waiting, in flight, held); a stop waits for 0. */
  private readonly unsettled = new PendingCount();
  private bytes = 0;
  private readonly high: number;
  private readonly low: number;
  private readonly highBytes: number;
  private readonly lowBytes: number;
  private over = false;
  private belowWaiters: (() => void)[] = [];
  private notifyScheduled = false;

  constructor(
    private readonly sink: ReadingSink,
    private readonly opts: CommitQueueOptions,
  ) {
    this.backoff = opts.retryInitialMs;
    this.now = opts.now ?? steadyNow;
    this.maxInFlight = opts.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT;
    this.high = Math.max(1, opts.maxPendingReadings ?? DEFAULT_MAX_PENDING_READINGS);
    this.low = Math.floor(this.high / 2);
    this.highBytes = Math.max(1, opts.maxPendingBytes ?? DEFAULT_MAX_PENDING_BYTES);
    this.lowBytes = Math.floor(this.highBytes / 2);
  }

  /** True from the moment `maxPendingReadings` are held until half of them have settled: sources must not read. */
  overBound(): boolean {
    return this.over;
  }

  /** Readings held (waiting, in flight, or held after a refusal). */
  pendingReadings(): number {
    return this.unsettled.value;
  }

  /** Payload bytes of the messages held. */
  pendingBytes(): number {
    return this.bytes;
  }

  /**
   * Calls `cb` once the queue is no longer over its bound (at once, in a microtask, when it
   * is not). Also called when the queue closes.
   */
  whenBelow(cb: () => void): void {
    this.belowWaiters.push(cb);
    if (!this.over || this.closed) this.scheduleNotify();
  }

  /** QoS 1: settles once committed, or not (see above). */
  commit(inputs: readonly ReadingInput[], owner: Owner | undefined, done: Settled, bytes = 0): void {
    this.enqueue(inputs, true, owner, done, bytes);
  }

  /**
   * QoS 0: best effort. Dropped, not retried, when its submission is refused; dropped at
   * once while the sink refuses and the queue is long (nothing holds a QoS 0 sender back,
   * so its messages must not pile up).
   */
  offer(inputs: readonly ReadingInput[], done: Settled, bytes = 0): void {
    if (this.refusing && this.queue.length >= this.opts.maxBatch) {
      this.opts.onDropped?.('refusing', inputs.length);
      done(null, false);
      return;
    }
    this.enqueue(inputs, false, undefined, done, bytes);
  }

  /** Settles once every message taken has settled (committed, refused or dropped); undefined when none is pending. */
  whenSettled(): Promise<void> | undefined {
    return this.unsettled.whenZero();
  }

  /** True while a submission is refused and not yet retried successfully. */
  isRefusing(): boolean {
    return this.refusing;
  }

  /** Messages waiting, in flight or held. */
  pending(): number {
    return this.queue.length + this.batches.reduce((a, b) => a + b.items.length, 0);
  }

  /** Rejects everything waiting or held with QueueClosed. Submissions in flight complete. */
  close(): void {
    this.closed = true;
    this.scheduleNotify();
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const closed = (): QueueClosed => new QueueClosed('the MQTT adapter is stopping');
    let dropped = 0;
    for (const it of this.queue.splice(0)) {
      if (!it.reliable) dropped += it.inputs.length;
      this.call(it, closed(), false);
    }
    if (dropped > 0) this.opts.onDropped?.('stopping', dropped);
    for (const b of this.batches) if (b.state === 'failed') for (const it of b.items.splice(0)) this.call(it, closed(), false);
    this.batches = this.batches.filter((b) => b.state === 'pending');
  }

  private enqueue(inputs: readonly ReadingInput[], reliable: boolean, owner: Owner | undefined, done: Settled, bytes: number): void {
    if (this.closed) {
      done(new QueueClosed('the MQTT adapter is stopped'), false);
      return;
    }
    this.queue.push({ inputs, bytes, since: this.now(), reliable, owner, done });
    this.unsettled.add(inputs.length);
    this.bytes += bytes;
    if (!this.over && (this.unsettled.value >= this.high || this.bytes >= this.highBytes)) {
      this.over = true;
      this.opts.onPressure?.(true, this.unsettled.value, this.bytes);
    }
    this.kick();
  }

  /** Settles one message; a throwing callback must not stop the others. */
  private call(it: Item, error: Error | null, committed: boolean): void {
    this.bytes -= it.bytes;
    this.unsettled.done(it.inputs.length);
    if (this.over && this.unsettled.value <= this.low && this.bytes <= this.lowBytes) {
      this.over = false;
      this.opts.onPressure?.(false, this.unsettled.value, this.bytes);
      this.scheduleNotify();
    }
    try {
      it.done(error, committed);
    } catch {
      // the caller's bug; the queue goes on
    }
  }

  /** Runs the `whenBelow` callbacks after the current settlement loop (never re-entrantly). */
  private scheduleNotify(): void {
    if (this.notifyScheduled || this.belowWaiters.length === 0) return;
    this.notifyScheduled = true;
    queueMicrotask(() => {
      this.notifyScheduled = false;
      if (this.over && !this.closed) return;
      const ws = this.belowWaiters;
      this.belowWaiters = [];
      for (const w of ws) {
        try {
          w();
        } catch {
          // the caller's bug
        }
      }
    });
  }

  private kick(): void {
    if (this.scheduled || this.timer || this.closed) return;
    this.scheduled = true;
    // setImmediate, not a microtask: every message of the socket reads of this turn joins in.
    setImmediate(this.onImmediate);
  }

  // One function for the queue's life, not one per kick: V8 keeps a function's optimised code
  // only while one of its closures lives (README, Performance).
  private readonly onImmediate = (): void => {
    this.scheduled = false;
    this.flush();
  };

  private flush(): void {
    if (this.closed || this.timer) return;
    // Refused batches are retried first, in order; while they are pending nothing new goes.
    for (const b of this.batches) if (b.state === 'failed') this.submit(b);
    // While refusing, one submission at a time probes the sink.
    const limit = this.refusing ? 1 : this.maxInFlight;
    while (this.queue.length > 0 && this.inFlight < limit) {
      const items = this.take();
      if (items.length === 0) break;
      const b: Batch = { items, state: 'pending' };
      this.batches.push(b);
      this.submit(b);
    }
  }

  /** Takes up to maxBatch readings' worth of messages off the queue. */
  private take(): Item[] {
    const out: Item[] = [];
    let readings = 0;
    let i = 0;
    for (; i < this.queue.length; i++) {
      const it = this.queue[i]!;
      if (out.length > 0 && readings + it.inputs.length > this.opts.maxBatch) break;
      out.push(it);
      readings += it.inputs.length;
    }
    this.queue.splice(0, i);
    return out;
  }

  /** Drops items whose owner left or whose hold expired; they are settled here. Before a retry only. */
  private prune(b: Batch): void {
    const now = this.now();
    b.items = b.items.filter((it) => {
      if (it.owner?.closed) {
        this.call(it, null, false);
        return false;
      }
      if (it.reliable && now - it.since > this.opts.maxHoldMs) {
        this.call(it, new HoldExpired(`not committed within ${this.opts.maxHoldMs} ms`), false);
        return false;
      }
      return true;
    });
  }

  private submit(b: Batch): void {
    if (b.state === 'failed') {
      this.prune(b);
      if (b.items.length === 0) {
        b.state = 'ok';
        this.release();
        return;
      }
    }
    b.state = 'pending';
    this.inFlight++;
    let inputs: readonly ReadingInput[];
    if (b.items.length === 1) inputs = b.items[0]!.inputs;
    else {
      const all: ReadingInput[] = [];
      for (const it of b.items) for (const r of it.inputs) all.push(r);
      inputs = all;
    }
    void this.submitted(b, inputs);
  }

  /** Settles `b` once the sink has its readings: a method, not two closures per batch (JIT, as above). */
  private async submitted(b: Batch, inputs: readonly ReadingInput[]): Promise<void> {
    let error: unknown = null;
    try {
      await this.sink.submit(inputs);
    } catch (e) {
      error = e ?? new Error('refused');
    }
    this.settled(b, error);
  }

  private settled(b: Batch, error: unknown): void {
    this.inFlight--;
    if (error === null) {
      b.state = 'ok';
      if (!this.batches.some((x) => x.state === 'failed')) {
        this.backoff = this.opts.retryInitialMs;
        this.setRefusing(false);
      }
      this.release();
    } else {
      b.state = 'failed';
      b.items = b.items.filter((it) => {
        if (it.reliable) return true;
        this.call(it, null, false);
        return false;
      });
      this.setRefusing(true, error);
      if (this.closed) for (const it of b.items.splice(0)) this.call(it, new QueueClosed('the MQTT adapter is stopping'), false);
      if (b.items.length === 0) {
        // nothing left to hold (QoS 0 only): no barrier for later batches
        b.state = 'ok';
        this.release();
      }
      if (this.closed) return;
      if (!this.timer) {
        const delay = this.backoff;
        this.backoff = Math.min(this.backoff * 2, this.opts.retryMaxMs);
        this.timer = setTimeout(() => {
          this.timer = null;
          this.kick();
        }, delay);
      }
    }
    if (this.queue.length > 0) this.kick();
  }

  /** Resolves committed batches from the oldest on; stops at the first one not committed. */
  private release(): void {
    while (this.batches.length > 0 && this.batches[0]!.state === 'ok') {
      const b = this.batches.shift()!;
      for (const it of b.items) this.call(it, null, true);
    }
  }

  private setRefusing(refusing: boolean, error?: unknown): void {
    if (refusing === this.refusing) return;
    this.refusing = refusing;
    this.opts.onRefusing?.(refusing, error);
  }
}
