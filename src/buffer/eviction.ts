/**
 * Caps: the byte cap (`maxBytes`, counted as sealed bytes + UNIT_ROW_OVERHEAD per unit)
 * and the age cap (`maxAgeMs`). The lowest class's oldest units go first, alarms only when
 * nothing else is left, leased units never. Each eviction is counted (`reading_evicted`),
 * and what was lost becomes one gap record per class.
 */
import type { Events } from '../metrics/events.js';
import { PRIORITY_CLASSES, type Reading } from '../reading.js';
import { errInfo, type LogLimited, refusalReason } from './diagnostics.js';
import { addToGap, type GapAcc, type GapRecords, newGap } from './gateway-records.js';
import { type Leases, SCAN_CHUNK } from './lease.js';
import { NCLASS, type UnitRow } from './schema.js';
import { UNIT_ROW_OVERHEAD, type UnitStore } from './store.js';

export interface CapOptions {
  maxBytes: number;
  maxAgeMs: number;
  /** When the byte cap is exceeded, evict down to maxBytes minus this much. */
  capHeadroom: number;
}

/** A wall-clock step forward larger than this (against the monotonic clock) shifts the age of what is already stored. */
const CLOCK_STEP_TOLERANCE_MS = 2000;
/** Steps remembered (a clock that keeps stepping forward: the oldest step is forgotten first). */
const MAX_CLOCK_SHIFTS = 64;

/** A forward wall-clock step: stamps below `beforeS` (seconds) are `ms` behind today's clock. */
export interface ClockShift {
  beforeS: number;
  ms: number;
}

/** Where the steps are kept across restarts. */
export interface ShiftStore {
  load(): ClockShift[];
  save(shifts: ClockShift[]): void;
}

/** The steps as kept in the meta table; anything else (absent, not JSON, wrong shape) is none. */
export function parseShifts(v: unknown): ClockShift[] {
  if (typeof v !== 'string') return [];
  try {
    const a: unknown = JSON.parse(v);
    if (!Array.isArray(a)) return [];
    return a
      .filter((x): x is ClockShift => Number.isFinite(x?.beforeS) && Number.isFinite(x?.ms) && x.ms > 0)
      .slice(-MAX_CLOCK_SHIFTS)
      .map((x) => ({ beforeS: x.beforeS, ms: x.ms }));
  } catch {
    return [];
  }
}

export class Eviction {
  /**
   * Forward wall-clock steps: units stamped before a step (time below `beforeS`) are `ms` younger
   * than the wall clock now says. A Pi without a battery clock that booted with a stale time and
   * is then set by NTP would otherwise evict the readings it took meanwhile as too old. Kept in
   * the meta table (`shiftStore`), so a restart after the step does not evict them either; at the
   * next open, a step that no stored unit is older than is forgotten.
   */
  private shifts: ClockShift[];
  private lastClock: { wall: number; mono: number };

  constructor(
    private readonly store: UnitStore,
    private readonly leases: Leases,
    private readonly gaps: GapRecords,
    private readonly caps: CapOptions,
    /** Eviction itself failed for lack of space. */
    private readonly onDiskFull: (failedReadings: number) => void,
    private readonly events: Events,
    private readonly logLimited: LogLimited,
    private readonly now: () => number,
    private readonly monotonic: () => number = () => performance.now(),
    private readonly shiftStore: ShiftStore = { load: () => [], save: () => undefined },
  ) {
    this.lastClock = { wall: now(), mono: monotonic() };
    // At open nothing is waiting to be committed: a step older than every stored unit is moot.
    // (A database that cannot be read here keeps them all; its damage is reported elsewhere.)
    let kept: ClockShift[] = [];
    try {
      kept = shiftStore.load();
    } catch {
      // unreadable: no step known, as before steps were kept
    }
    this.shifts = kept;
    try {
      let oldest = Infinity;
      for (let classIndex = 0; classIndex < NCLASS; classIndex++) oldest = Math.min(oldest, store.oldestTime(classIndex) ?? Infinity);
      this.shifts = kept.filter((s) => oldest < s.beforeS);
    } catch {
      return;
    }
    if (this.shifts.length < kept.length) this.saveShifts();
  }

  /** Notes a forward wall-clock step since the last look: what is stored so far is aged from the clock it was stamped by. */
  private noteClockStep(): void {
    const wall = this.now();
    const mono = this.monotonic();
    const step = wall - this.lastClock.wall - (mono - this.lastClock.mono);
    // The old clock would read `wall - step` now: everything stored was stamped before that.
    if (step > CLOCK_STEP_TOLERANCE_MS) {
      this.shifts.push({ beforeS: Math.floor((wall - step) / 1000) + 1, ms: step });
      if (this.shifts.length > MAX_CLOCK_SHIFTS) this.shifts.shift();
      this.saveShifts();
    }
    this.lastClock = { wall, mono };
  }

  /** Keeps the steps in the meta table. */
  private saveShifts(): void {
    try {
      this.shiftStore.save(this.shifts);
    } catch (e) {
      // Still applied while this buffer is open; only a restart would forget them.
      this.logLimited('warn', { err: errInfo(e) }, 'cannot keep the clock steps in the buffer database; a restart would age older units by the wall clock');
    }
  }

  /** A unit's time in seconds on today's wall clock (its stamp plus the forward steps since). */
  private agedTime(t: number): number {
    let shifted = t;
    for (const s of this.shifts) if (t < s.beforeS) shifted += s.ms / 1000;
    return shifted;
  }

  /** Applies the age cap, then the byte cap. */
  enforceCaps(): void {
    this.enforceAgeCap();
    this.enforceByteCap();
  }

  /** Over maxBytes: evicts down to maxBytes minus the headroom (so the gap records that follow fit). */
  enforceByteCap(): void {
    if (this.store.totalStoredBytes() <= this.caps.maxBytes) return;
    const cap = this.caps.maxBytes - this.caps.capHeadroom;
    try {
      const excess = this.store.totalStoredBytes() - cap;
      if (excess <= 0) return;
      this.evict('max_bytes', (freed) => freed >= excess);
    } catch (e) {
      this.logLimited('error', { err: errInfo(e) }, 'eviction for the byte cap failed');
      if (refusalReason(e) === 'disk_full') this.onDiskFull(0);
    }
  }

  /** Evicts units whose oldest reading is older than maxAgeMs (all classes, oldest first). */
  enforceAgeCap(): number {
    this.noteClockStep();
    const cutoffS = Math.floor((this.now() - this.caps.maxAgeMs) / 1000);
    let total = 0;
    for (let classIndex = NCLASS - 1; classIndex >= 0; classIndex--) {
      const acc = newGap();
      try {
        for (;;) {
          const oldest = this.store.oldestTime(classIndex);
          if (oldest === undefined || this.agedTime(oldest) >= cutoffS) break;
          const rows = this.store.rows(classIndex, 0, SCAN_CHUNK);
          const victims: UnitRow[] = [];
          let stop = rows.length < SCAN_CHUNK;
          for (const r of rows) {
            if (this.agedTime(r.t) >= cutoffS) {
              stop = true;
              break;
            }
            if (!this.leases.isLeased(r.id)) victims.push(r);
          }
          if (victims.length === 0) break;
          total += this.evictRows(classIndex, victims, 'max_age', acc);
          if (stop) break;
        }
      } finally {
        this.gaps.record(classIndex, 'max_age', acc);
      }
    }
    return total;
  }

  /**
   * Evicts the lowest class's oldest units until `done()` says stop; alarms only when no
   * other class has evictable units. Leased units are not evicted. One gap record per
   * class. Returns readings evicted.
   */
  evict(reason: 'max_bytes' | 'disk_full', done: (freed: number) => boolean): number {
    let freed = 0;
    let total = 0;
    for (let classIndex = NCLASS - 1; classIndex >= 0 && !done(freed); classIndex--) {
      const acc = newGap();
      let from = 0;
      try {
        while (!done(freed)) {
          const rows = this.store.rows(classIndex, from, SCAN_CHUNK);
          if (rows.length === 0) break;
          from = rows[rows.length - 1]!.id + 1;
          const victims: UnitRow[] = [];
          for (const r of rows) {
            if (done(freed)) break;
            if (this.leases.isLeased(r.id)) continue;
            victims.push(r);
            freed += r.body.length + UNIT_ROW_OVERHEAD;
          }
          total += this.evictRows(classIndex, victims, reason, acc);
        }
      } finally {
        this.gaps.record(classIndex, reason, acc);
      }
    }
    return total;
  }

  /** Deletes `victims` (one transaction), counts them, and adds what was lost to `acc`. */
  private evictRows(classIndex: number, victims: UnitRow[], reason: 'max_bytes' | 'max_age' | 'disk_full', acc: GapAcc): number {
    if (victims.length === 0) return 0;
    // Learn what is lost (devices, exact times) before it goes: it is named in the gap record.
    const decoded: Reading[][] = [];
    for (const v of victims) {
      try {
        decoded.push(this.store.open(v, classIndex));
      } catch {
        decoded.push([]);
      }
    }
    const removed = this.store.removeUnits(
      classIndex,
      victims.map((v) => v.id),
    );
    const gone = new Set(removed.map((r) => r.id));
    const n = removed.reduce((a, r) => a + r.n, 0);
    if (n > 0) this.events.emit('reading_evicted', { class: PRIORITY_CLASSES[classIndex]!, reason }, n, { units: removed.length });
    victims.forEach((v, i) => {
      if (gone.has(v.id)) addToGap(acc, v, decoded[i]!);
    });
    return n;
  }
}
