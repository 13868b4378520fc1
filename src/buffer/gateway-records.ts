/**
 * Readings the buffer makes itself (`gateway_event`, sealed and sent like any other):
 * gap records naming what eviction or quarantine lost, and the alarm that the database
 * was moved aside.
 */
import { type Extra, type PendingReading, PRIORITY_CLASSES, type PriorityClass, type Reading } from '../reading.js';
import type { LogLimited } from './diagnostics.js';
import type { UnitRow } from './schema.js';

const MAX_GAP_DEVICES_CHARS = 1000;

/** What a gap record says about lost units of one class. */
export interface GapAcc {
  firstSeq: number;
  lastSeq: number;
  count: number;
  fromTime: number;
  toTime: number;
  devices: Set<string>;
  /** Some lost units could not be opened: their devices are unknown. */
  unknown: boolean;
  /** Every lost reading was itself a gap record. */
  onlyGaps: boolean;
}

export const newGap = (): GapAcc => ({
  firstSeq: Infinity,
  lastSeq: -Infinity,
  count: 0,
  fromTime: Infinity,
  toTime: -Infinity,
  devices: new Set(),
  unknown: false,
  onlyGaps: true,
});

/** Adds a lost unit to `acc`; `rs` are its readings, or empty when it could not be opened. */
export function addToGap(acc: GapAcc, row: UnitRow, rs: readonly Reading[]): void {
  acc.firstSeq = Math.min(acc.firstSeq, row.id);
  acc.lastSeq = Math.max(acc.lastSeq, row.id + row.n - 1);
  acc.count += row.n;
  if (rs.length === 0) {
    acc.unknown = true;
    acc.onlyGaps = false;
    acc.fromTime = Math.min(acc.fromTime, row.t * 1000);
    acc.toTime = Math.max(acc.toTime, row.t * 1000 + 999);
  }
  for (const r of rs) {
    acc.fromTime = Math.min(acc.fromTime, r.gatewayTime);
    acc.toTime = Math.max(acc.toTime, r.gatewayTime);
    acc.devices.add(r.deviceId);
    if (!(r.metric === 'gateway_event' && r.extra?.event === 'gap')) acc.onlyGaps = false;
  }
}

function gatewayEvent(gatewayId: string, gatewayTime: number, priority: PriorityClass, value: number, extra: Extra): PendingReading {
  return {
    deviceId: gatewayId,
    deviceKind: 'gateway',
    bed: 'gateway',
    patientId: undefined, // the one shape of every reading (reading.ts, normalise)
    metric: 'gateway_event',
    value,
    unit: '1',
    deviceTime: undefined,
    gatewayTime,
    priorityClass: priority,
    quality: [],
    extra,
  };
}

/** How much of a damaged database came back (see salvage.ts). */
export interface SalvageSummary {
  /** Readings salvaged (authenticated, forwarded with their original seqs). */
  saved: number;
  /** Readings that could not be read; null when the damaged file's counters were unreadable too. */
  lost: number | null;
  /** Readable readings that failed authentication (quarantined). */
  quarantined: number;
}

/** The alarm-class reading saying the database failed its integrity check, was moved aside, and how much was saved and lost. */
export function corruptionAlarm(
  gatewayId: string,
  gatewayTime: number,
  movedTo: string,
  why: string,
  seqFloor: number,
  salvage?: SalvageSummary,
): PendingReading {
  const extra: Record<string, string | number | boolean> = { event: 'buffer_corrupt', movedTo, reason: why.slice(0, 200), seqFloor };
  if (salvage) {
    extra.saved = salvage.saved;
    extra.lost = salvage.lost ?? 'unknown';
    extra.quarantined = salvage.quarantined;
  }
  return gatewayEvent(gatewayId, gatewayTime, 'alarm', 1, extra);
}

export class GapRecords {
  constructor(
    private readonly gatewayId: string,
    private readonly now: () => number,
    private readonly logLimited: LogLimited,
    /** Queues a gateway-made reading for the next commit (retried until committed). */
    private readonly queue: (r: PendingReading) => void,
  ) {}

  /** Queues a gap record (a status reading) naming what was lost, if anything was; `more` adds fields (e.g. the seq ranges). */
  record(classIndex: number, reason: string, acc: GapAcc, more: Record<string, string | number | boolean> = {}): void {
    // Nothing lost, unless the loss is known only by its ranges (devices and count unknown: a damaged database).
    if (acc.count === 0 && !acc.unknown) return;
    if (acc.onlyGaps) {
      // A gap record about lost gap records would only chase its own tail under a tiny cap:
      // those losses are counted and logged, not re-recorded.
      this.logLimited('warn', { class: PRIORITY_CLASSES[classIndex], reason, count: acc.count }, 'evicted units held only gap records; no new gap record');
      return;
    }
    let deviceList = [...acc.devices].sort().join(',');
    if (deviceList.length > MAX_GAP_DEVICES_CHARS) deviceList = `${deviceList.slice(0, MAX_GAP_DEVICES_CHARS)},…`;
    const { firstSeq, lastSeq, count, fromTime, toTime } = acc;
    const gap = gatewayEvent(this.gatewayId, this.now(), 'status', count, {
      event: 'gap',
      reason,
      class: PRIORITY_CLASSES[classIndex]!,
      firstSeq,
      lastSeq,
      fromTime,
      toTime,
      count,
      devices: deviceList,
      devicesKnown: !acc.unknown,
      ...more,
    });
    this.logLimited(
      'warn',
      { event: 'gap', reason, class: PRIORITY_CLASSES[classIndex], firstSeq, lastSeq, count },
      'buffered readings lost; gap record queued',
    );
    this.queue(gap);
  }
}
