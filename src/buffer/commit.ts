/**
 * Group commit: appends queue up and are written together, one transaction per commit; their
 * promises settle only after that transaction (and its fsync). Pacing (./pacing.ts): each class
 * has a maximum delay (`maxDelayMs`, by classIndex: alarm 0, vital 500 ms, status 500 ms,
 * waveform 1 s by default), and a commit happens when the oldest pending reading of any class
 * reaches its class's delay, or as soon as `maxReadings` (or `fillReadings`) are pending; an
 * append from a device that waits for each acknowledgement (`waiting`) is committed within a
 * short delay. So a ward whose devices arrive spread over the second commits about twice a
 * second, fuller pages than a few readings every 25 ms (the SD card's wear; see the README's
 * performance section), and an
 * alarm waits for no timer, only for its own fsync (0: the next turn of the event loop); what
 * is pending rides along in the same transaction. A commit groups readings by class (alarm first),
 * cuts each class into units of at most `unitMaxReadings`, gives them contiguous seqs and
 * seals them. Gateway-made readings (gap records, integrity alarms) ride along and are
 * retried until committed, never dropped.
 *
 * With a WalSync (synchronous 'full') a commit is durable only once the WAL fsync that follows
 * it completes on the thread pool: then, and only then, its appends resolve, `seq.durable`
 * moves up to it and the onCommit listeners run. Meanwhile the event loop goes on (the next
 * commits, the forwarder). A failed fsync rejects that commit's appends (io_error, counted);
 * the data may still be on disk, so a device that sends again may see its readings twice.
 */
import type { Events } from '../metrics/events.js';
import { type PendingReading, PRIORITY_CLASSES } from '../reading.js';
import { steadyNow } from '../steady-clock.js';
import { validateForEncoding } from './codec.js';
import { errInfo, type LogLimited, refusalReason } from './diagnostics.js';
import type { KeyLedger } from './key-ledger.js';
import { WAITING_KINDS } from './pacing.js';
import { NCLASS } from './schema.js';
import type { Sequence } from './seq.js';
import type { NewUnit, UnitStore } from './store.js';
import { BufferRefused } from './types.js';
import type { WalSync } from './wal-sync.js';

interface PendingAppend {
  readings: readonly PendingReading[];
  /** The device of the append's first reading, when its kind waits for acknowledgements (the waiting-device rule). */
  device?: string | undefined;
  resolve: () => void;
  reject: (e: Error) => void;
}

export interface GroupCommitOptions {
  /** The longest a reading of each class (by classIndex: alarm, vital, status, waveform) waits for its commit (0: next turn of the event loop). */
  maxDelayMs: readonly number[];
  maxReadings: number;
  /** Commit as soon as this many readings are pending, whatever their delays (enough to fill pages; Infinity: never early). */
  fillReadings?: number;
  /** A device that appends again at most `turnaroundMs` after its previous append was acknowledged is committed within `delayMs`. */
  waiting?: { turnaroundMs: number; delayMs: number } | undefined;
  unitMaxReadings: number;
}

/** At most this many devices' last acknowledgement times are remembered (then forgotten all at once). */
const MAX_TRACKED_DEVICES = 4096;

export interface GroupCommitHooks {
  /** Disk full: waveform appends are refused at the door. */
  isShedding(): boolean;
  /** A commit failed for lack of space. */
  onDiskFull(failedReadings: number): void;
  /** After each successful commit (and its listeners): the byte cap. */
  afterCommit(): void;
  /** A commit failed (any reason; the buffer looks for a damaged database). */
  onFailure?(e: unknown): void;
}

export class GroupCommit {
  private pending: PendingAppend[] = [];
  private pendingCount = 0;
  private internal: PendingReading[] = [];
  private timer: NodeJS.Timeout | undefined;
  /** When the armed timer fires (to shorten it for an alarm). */
  private timerDue = 0;
  private immediate: NodeJS.Immediate | undefined;
  private isClosed = false;
  /** Why the last commit (or its fsync) failed, until one succeeds again. */
  private failure: string | null = null;
  private readonly listeners = new Set<() => void>();
  /** When each device's last append was acknowledged (its commit durable), for `waiting`. */
  private readonly lastAck = new Map<string, number>();

  constructor(
    private readonly store: UnitStore,
    private readonly keys: KeyLedger,
    private readonly seq: Sequence,
    private readonly opts: GroupCommitOptions,
    private readonly hooks: GroupCommitHooks,
    private readonly events: Events,
    private readonly logLimited: LogLimited,
    /** synchronous 'full': fsyncs the WAL after each commit, off the event loop. */
    private readonly walSync?: WalSync,
  ) {}

  get closed(): boolean {
    return this.isClosed;
  }

  /** Why commits fail (the last failure, until a commit is durable again), or null while they succeed. */
  get failing(): string | null {
    return this.failure;
  }

  append(readings: readonly PendingReading[]): Promise<void> {
    if (this.isClosed) {
      this.refuseCount('closed', readings.length);
      return Promise.reject(new BufferRefused('closed', 'the buffer is closed'));
    }
    for (const r of readings) {
      try {
        validateForEncoding(r);
      } catch (e) {
        this.refuseCount('invalid', readings.length);
        return Promise.reject(new BufferRefused('io_error', `reading cannot be stored: ${(e as Error).message}`));
      }
    }
    if (this.hooks.isShedding()) {
      // Disk full: the lowest class is refused at the door (its senders are not acknowledged).
      let shed = 0;
      for (const r of readings) if (r.priorityClass === 'waveform') shed++;
      if (shed > 0) {
        this.refuseCount('shedding', readings.length);
        return Promise.reject(new BufferRefused('shedding', 'disk full: waveform readings are shed until space returns'));
      }
    }
    if (readings.length === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const first = readings[0];
      const device = first && WAITING_KINDS.has(first.deviceKind) ? first.deviceId : undefined;
      this.pending.push({ readings, device, resolve, reject });
      this.pendingCount += readings.length;
      let wait = Infinity;
      for (const r of readings) wait = Math.min(wait, this.delayOf(r));
      const w = this.opts.waiting;
      if (w && device !== undefined && wait > w.delayMs) {
        const acked = this.lastAck.get(device);
        if (acked !== undefined && steadyNow() - acked <= w.turnaroundMs) wait = w.delayMs;
      }
      this.schedule(wait);
    });
  }

  flush(): Promise<void> {
    if (this.pending.length === 0 && this.internal.length === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ readings: [], resolve, reject });
      this.commitNow();
    });
  }

  /** Queues a gateway-made reading for the next commit. */
  queueInternal(r: PendingReading): void {
    this.internal.push(r);
    this.schedule(this.delayOf(r));
  }

  private delayOf(r: PendingReading): number {
    return this.opts.maxDelayMs[PRIORITY_CLASSES.indexOf(r.priorityClass)] ?? 0;
  }

  onCommit(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Commits what is pending, and the gateway records (gap records) that commit may cause; refuses the rest. */
  close(): void {
    for (let i = 0; i < 4 && (this.pending.length || this.internal.length); i++) this.commitNow();
    // Commits still waiting for their fsync: one on this thread settles them.
    this.walSync?.syncNow();
    this.walSync?.close();
    if (this.internal.length) this.logLimited('error', { records: this.internal.length }, 'gateway records (gap records) could not be committed before close');
    this.isClosed = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.immediate) clearImmediate(this.immediate);
    for (const p of this.pending) {
      this.refuseCount('closed', p.readings.length);
      p.reject(new BufferRefused('closed', 'the buffer closed before this commit'));
    }
    this.pending = [];
  }

  /** The commit is due at the latest `wait` ms from now (earlier if already due earlier). */
  private schedule(wait: number): void {
    if (this.isClosed) return;
    const pending = this.pendingCount + this.internal.length;
    if (pending >= this.opts.maxReadings || pending >= (this.opts.fillReadings ?? Infinity) || wait === 0) {
      if (!this.immediate) this.immediate = setImmediate(() => this.commitNow());
    } else if (!this.timer || steadyNow() + wait < this.timerDue) {
      if (this.timer) clearTimeout(this.timer);
      this.timerDue = steadyNow() + wait;
      this.timer = setTimeout(() => this.commitNow(), wait);
    }
  }

  private refuseCount(reason: string, n: number): void {
    if (n > 0) this.events.emit('reading_refused', { reason }, n);
  }

  private commitNow(): void {
    if (this.timer) clearTimeout(this.timer);
    if (this.immediate) clearImmediate(this.immediate);
    this.timer = undefined;
    this.immediate = undefined;
    const batch = this.pending;
    const count = this.pendingCount;
    const internal = this.internal;
    this.pending = [];
    this.pendingCount = 0;
    this.internal = [];
    if (batch.length === 0 && internal.length === 0) return;
    try {
      this.writeCommit(batch, internal);
    } catch (e) {
      const reason = refusalReason(e);
      this.failure = (e as Error).message;
      this.internal = internal.concat(this.internal); // gateway records are retried, never dropped
      this.refuseCount(reason, count);
      this.logLimited('error', { err: errInfo(e), count }, 'buffer commit failed; readings refused');
      const err = new BufferRefused(reason, `buffer commit failed: ${(e as Error).message}`);
      for (const p of batch) p.reject(err);
      if (reason === 'disk_full') this.hooks.onDiskFull(count);
      this.hooks.onFailure?.(e);
      if (this.internal.length && !this.isClosed && !this.timer)
        this.timer = setTimeout(() => this.commitNow(), Math.max(Math.min(...this.opts.maxDelayMs), 250));
      return;
    }
    const hwm = this.seq.hwm;
    if (this.walSync) this.walSync.after((err) => this.durable(batch, count, hwm, err));
    else this.durable(batch, count, hwm);
    this.hooks.afterCommit();
  }

  /** A commit is on disk (or its fsync failed): its appends settle and the listeners run. */
  private durable(batch: PendingAppend[], count: number, hwm: number, err?: Error): void {
    if (err) {
      const reason = refusalReason(err);
      this.failure = err.message;
      this.refuseCount(reason, count);
      this.logLimited('error', { err: errInfo(err), count }, 'buffer fsync failed; readings refused (they may still be delivered)');
      const refused = new BufferRefused(reason, `buffer fsync failed: ${err.message}`);
      for (const p of batch) p.reject(refused);
      return;
    }
    if (hwm > this.seq.durable) this.seq.durable = hwm;
    this.failure = null;
    if (this.opts.waiting) {
      if (this.lastAck.size > MAX_TRACKED_DEVICES) this.lastAck.clear();
      const now = steadyNow();
      for (const p of batch) if (p.device !== undefined) this.lastAck.set(p.device, now);
    }
    for (const p of batch) p.resolve();
    for (const l of this.listeners) {
      try {
        l();
      } catch (e) {
        this.logLimited('error', { err: errInfo(e) }, 'onCommit listener threw');
      }
    }
  }

  /** Encodes, seals and writes one group commit in one transaction. Throws on failure; memory changes only on success. */
  private writeCommit(batch: PendingAppend[], internal: PendingReading[]): void {
    const byClass: PendingReading[][] = Array.from({ length: NCLASS }, () => []);
    for (const r of internal) byClass[PRIORITY_CLASSES.indexOf(r.priorityClass)]!.push(r);
    for (const p of batch) for (const r of p.readings) byClass[PRIORITY_CLASSES.indexOf(r.priorityClass)]!.push(r);
    const activeKey = this.keys.active();
    const max = this.opts.unitMaxReadings;
    const units: NewUnit[] = [];
    let seq = this.seq.hwm;
    for (let classIndex = 0; classIndex < NCLASS; classIndex++) {
      const rs = byClass[classIndex]!;
      for (let off = 0; off < rs.length; off += max) {
        const chunk = off === 0 && rs.length <= max ? rs : rs.slice(off, off + max);
        const first = seq + 1;
        seq += chunk.length;
        units.push({ classIndex, id: first, n: chunk.length, ...this.store.seal(chunk, classIndex, first, activeKey) });
      }
    }
    if (units.length === 0) return;
    this.keys.assertCanSeal(activeKey, units.length);
    // Reserve sequence numbers in the side file before they can be committed.
    this.seq.reserve(seq);
    this.store.insert(units, activeKey, seq);
  }
}
