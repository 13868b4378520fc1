/**
 * Where every reading enters: normalise each input against the catalogue, count what is
 * rejected or flagged, and hand the rest to the buffer. `submit` resolves only when the
 * readings are durably committed, so adapters can acknowledge their devices then.
 */

import { BufferRefused, type ReadingBuffer } from './buffer/types.js';
import type { ReadingReceiver, ReadingSink } from './devices/types.js';
import type { Events } from './metrics/events.js';
import { normalise, type PendingReading, type ReadingInput, ReadingRejected } from './reading.js';

export interface IngestOptions {
  clockSkewToleranceMs: number;
  now?: () => number;
  /** Called for every committed alarm-class reading (local alarm echo). */
  onAlarm?: (r: PendingReading) => void;
  /** Per-reading consumers registered at start-up, each told of the committed readings of its classes. */
  receivers?: readonly ReadingReceiver[];
}

export class Ingest implements ReadingSink {
  private readonly now: () => number;
  private receivers: readonly ReadingReceiver[];
  /** Readings durably committed through this pipeline since start. */
  committed = 0;

  constructor(
    private readonly buffer: ReadingBuffer,
    private readonly events: Events,
    private readonly opts: IngestOptions,
  ) {
    this.now = opts.now ?? Date.now;
    this.receivers = opts.receivers ?? [];
  }

  /** The per-reading consumers after the device adapters changed (SIGHUP reload). */
  setReceivers(receivers: readonly ReadingReceiver[]): void {
    this.receivers = receivers;
  }

  async submit(inputs: readonly ReadingInput[]): Promise<void> {
    const now = this.now();
    const ok: PendingReading[] = [];
    for (const input of inputs) {
      try {
        const r = normalise(input, { now, clockSkewToleranceMs: this.opts.clockSkewToleranceMs });
        for (const flag of r.quality) if (flag === 'out_of_range' || flag === 'device_clock_skew') this.events.emit('reading_flagged', { flag });
        ok.push(r);
      } catch (e) {
        if (!(e instanceof ReadingRejected)) throw e;
        this.events.emit('reading_rejected', { reason: e.reason, family: String(input?.deviceKind ?? 'unknown') }, 1, { error: e.message });
      }
    }
    if (ok.length === 0) return;
    try {
      await this.buffer.append(ok);
    } catch (e) {
      const reason = e instanceof BufferRefused ? e.reason : 'io_error';
      this.events.emit('reading_refused', { reason }, ok.length);
      throw e;
    }
    this.committed += ok.length;
    // Count per (family, class) once per submit, not once per reading: this is the hot path.
    const counts = new Map<string, { family: string; priorityClass: string; n: number }>();
    for (const r of ok) {
      const countKey = `${r.deviceKind}|${r.priorityClass}`;
      const c = counts.get(countKey);
      if (c) c.n++;
      else counts.set(countKey, { family: r.deviceKind, priorityClass: r.priorityClass, n: 1 });
      if (r.priorityClass === 'alarm' && this.opts.onAlarm) this.opts.onAlarm(r);
      for (const rc of this.receivers) if (rc.classes.includes(r.priorityClass)) this.deliver(rc, r);
    }
    for (const c of counts.values()) this.events.ingested.inc({ family: c.family, class: c.priorityClass }, c.n);
  }

  private deliver(rc: ReadingReceiver, r: PendingReading): void {
    try {
      rc.receive(r);
    } catch (e) {
      this.events.emit('device_error', { family: rc.name, reason: 'receiver_threw' }, 1, { error: e instanceof Error ? e.message : String(e) });
    }
  }
}
