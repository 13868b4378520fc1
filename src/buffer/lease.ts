/**
 * Draining: leases hand out the oldest units of the highest non-empty class, whole units,
 * never a leased unit twice; release() re-offers them ahead of newer units; ack() deletes
 * them. A unit alone larger than the lease may be is leased in part (its first readings)
 * and, once acked, replaced by its rest. Lease state lives in memory only: after a
 * restart every unit is leasable. Only durable units are leased (ids up to Sequence.durable):
 * a commit whose fsync is still running waits for it, so nothing reaches Kafka that a power
 * cut could take back and a later commit could give the same seq.
 */
import { AuthenticationFailed } from '../crypto/aead.js';
import { PRIORITY_CLASSES, type Reading } from '../reading.js';
import { CodecError, readingsOf, type UnitColumns } from './codec.js';
import { errInfo, type LogLimited } from './diagnostics.js';
import type { Quarantine } from './integrity.js';
import { NCLASS } from './schema.js';
import type { Sequence } from './seq.js';
import type { UnitStore } from './store.js';
import type { Lease, LeaseLimits, UnitSlice } from './types.js';

/**
 * Units read per query while scanning a class: a lease starts with a few rows and reads more
 * only when it needs them (a drain's units hold up to 1024 readings each, so two or three make a
 * batch; an online ward's units are small, and the chunk grows to SCAN_CHUNK). Reading 64 sealed
 * bodies to use two costs a drain CPU and garbage.
 */
export const SCAN_CHUNK = 64;
const FIRST_CHUNK = 4;

interface LeasedUnit {
  id: number;
  n: number;
  gw: number;
  /** Set when only the first readings of the unit are leased (the unit alone exceeded maxReadings): the rest. */
  rest?: { columns: UnitColumns; from: number };
}

interface LeaseState {
  classIndex: number;
  units: LeasedUnit[];
  readings: number;
}

export class Leases {
  private nextLeaseId = 1;
  private readonly leases = new Map<number, LeaseState>();
  private readonly leasedUnits = new Set<number>();
  /** Units delivered whose delete failed (disk full): never re-leased by this process, deleted later. */
  private readonly ackedUndeleted = new Map<number, number>();
  /**
   * Units this process cannot send but must keep: sealed with a key the key file lacks (the
   * key ledger refuses such a key file, so only if the counters drifted), or failed units the
   * quarantine could not move (disk full). Never leased, never deleted: they stay in the file.
   */
  private readonly heldBack = new Set<number>();
  private readingsInFlight = 0;
  private readonly inFlightByClass: number[] = new Array<number>(NCLASS).fill(0);
  /** Per class: every unit below this is leased or delivered, so a lease starts its scan here. */
  private readonly cursor: number[] = new Array<number>(NCLASS).fill(0);

  constructor(
    private readonly store: UnitStore,
    private readonly quarantine: Quarantine,
    private readonly logLimited: LogLimited,
    /** hwm: highest seq committed; durable: highest on disk (units between the two wait for their fsync). */
    private readonly seq: Pick<Sequence, 'hwm' | 'durable'>,
  ) {}

  /** Readings leased and not yet acked or released. */
  get inFlight(): number {
    return this.readingsInFlight;
  }

  /** Readings of the class leased and not yet acked or released. */
  inFlightOf(classIndex: number): number {
    return this.inFlightByClass[classIndex]!;
  }

  /** Leased, or delivered and not yet deleted: not to be leased or evicted. */
  isLeased(id: number): boolean {
    return this.leasedUnits.has(id) || this.ackedUndeleted.has(id);
  }

  lease(limits: LeaseLimits): Lease | null {
    // The counters are exact unless the file was edited behind our back, so the decision
    // is taken on the rows themselves (one index seek per empty class).
    for (let classIndex = 0; classIndex < NCLASS; classIndex++) {
      if (limits.classes && !limits.classes.includes(PRIORITY_CLASSES[classIndex]!)) continue;
      const l = this.leaseClass(classIndex, limits);
      if (l) return l;
    }
    return null;
  }

  private leaseClass(classIndex: number, limits: LeaseLimits): Lease | null {
    const taken: LeasedUnit[] = [];
    const slices: UnitSlice[] = [];
    let count = 0;
    const bad: { id: number; reason: string }[] = [];
    let bytes = 0;
    let from = this.cursor[classIndex]!;
    let leadingLeased = true;
    let done = false;
    let chunk = FIRST_CHUNK;
    const { durable, hwm } = this.seq;
    while (!done) {
      const rows = this.store.rows(classIndex, from, chunk);
      for (const row of rows) {
        // Committed, its fsync still running: not yet. (A row above hwm was never committed by
        // this buffer: it goes on, and fails authentication below.)
        if (row.id > durable && row.id <= hwm) {
          done = true;
          break;
        }
        from = row.id + 1;
        if (this.isLeased(row.id) || this.heldBack.has(row.id)) {
          if (leadingLeased) this.cursor[classIndex] = row.id + 1;
          continue;
        }
        leadingLeased = false;
        if (row.id < this.store.floor[classIndex]!) {
          bad.push({ id: row.id, reason: 'replayed' });
          continue;
        }
        const size = row.body.length;
        if (taken.length > 0 && (count + row.n > limits.maxReadings || bytes + size > limits.maxBytes)) {
          done = true;
          break;
        }
        if (!this.store.hasKey(row.key_id)) {
          // A missing key is a configuration problem, not a bad unit: keep it, never quarantine it.
          this.heldBack.add(row.id);
          this.logLimited(
            'error',
            { keyId: row.key_id, class: PRIORITY_CLASSES[classIndex] },
            'a buffered unit is sealed with a key the key file lacks; kept, not sent (restore the key and restart)',
          );
          continue;
        }
        let decoded: UnitColumns;
        try {
          decoded = this.store.openColumns(row, classIndex);
        } catch (e) {
          bad.push({ id: row.id, reason: e instanceof AuthenticationFailed ? 'auth_failed' : e instanceof CodecError ? 'decode_failed' : 'open_failed' });
          continue;
        }
        if (taken.length === 0 && decoded.n > limits.maxReadings) {
          // The unit alone is larger than the lease may be: lease its first readings only.
          const partCount = Math.max(1, Math.floor(limits.maxReadings));
          taken.push({ id: row.id, n: row.n, gw: row.gw, rest: { columns: decoded, from: partCount } });
          slices.push({ columns: decoded, from: 0, to: partCount });
          count += partCount;
          bytes += Math.ceil((size * partCount) / row.n);
          done = true;
          break;
        }
        taken.push({ id: row.id, n: row.n, gw: row.gw });
        slices.push({ columns: decoded, from: 0, to: decoded.n });
        count += decoded.n;
        bytes += size;
        if (count >= limits.maxReadings || bytes >= limits.maxBytes) {
          done = true;
          break;
        }
      }
      if (rows.length < chunk) break;
      chunk = Math.min(SCAN_CHUNK, chunk * 4);
    }
    // Units it cannot move stay out of leases for this process (kept in the file, not deleted).
    if (bad.length) this.quarantine.move(classIndex, bad, (id) => this.heldBack.add(id));
    if (taken.length === 0) {
      this.store.reconcileEmpty(classIndex);
      return null;
    }
    const id = this.nextLeaseId++;
    for (const u of taken) this.leasedUnits.add(u.id);
    this.leases.set(id, { classIndex, units: taken, readings: count });
    this.readingsInFlight += count;
    this.inFlightByClass[classIndex]! += count;
    return leaseOf(id, PRIORITY_CLASSES[classIndex]!, slices, bytes, taken[taken.length - 1]!.rest !== undefined);
  }

  ack(leaseId: number): void {
    const l = this.leases.get(leaseId);
    if (!l) {
      this.logLimited('warn', { leaseId }, 'ack of an unknown lease ignored');
      return;
    }
    this.leases.delete(leaseId);
    this.readingsInFlight -= l.readings;
    this.inFlightByClass[l.classIndex]! -= l.readings;
    for (const u of l.units) {
      this.leasedUnits.delete(u.id);
      if (u.rest) {
        const first = this.store.replaceWithRest(l.classIndex, u, readingsOf(u.rest.columns, u.rest.from));
        // The rest is leasable again, ahead of newer units.
        if (first !== undefined && first < this.cursor[l.classIndex]!) this.cursor[l.classIndex] = first;
      } else this.ackedUndeleted.set(u.id, l.classIndex);
    }
    this.deleteAcked();
  }

  release(leaseId: number): void {
    const l = this.leases.get(leaseId);
    if (!l) return;
    let min = Infinity;
    for (const u of l.units) {
      this.leasedUnits.delete(u.id);
      if (u.id < min) min = u.id;
    }
    if (min < this.cursor[l.classIndex]!) this.cursor[l.classIndex] = min;
    this.leases.delete(leaseId);
    this.readingsInFlight -= l.readings;
    this.inFlightByClass[l.classIndex]! -= l.readings;
  }

  /**
   * Deletes delivered units, without an fsync of their own (the next commit's WAL fsync, or a
   * checkpoint, makes the delete durable; after a power cut before that a few delivered units may
   * be sent again: at-least-once, consumers dedupe on gatewayId + seq). On failure (disk full)
   * they stay out of leases and are retried later.
   */
  deleteAcked(): void {
    if (this.ackedUndeleted.size === 0) return;
    const idsByClass = new Map<number, number[]>();
    for (const [id, classIndex] of this.ackedUndeleted) {
      const ids = idsByClass.get(classIndex);
      if (ids) ids.push(id);
      else idsByClass.set(classIndex, [id]);
    }
    for (const [classIndex, ids] of idsByClass) {
      try {
        this.store.removeUnits(classIndex, ids);
        for (const id of ids) this.ackedUndeleted.delete(id);
      } catch (e) {
        this.logLimited('error', { err: errInfo(e), units: ids.length }, 'could not delete acknowledged units; will retry (they are not sent again)');
      }
    }
  }
}

/** A lease whose Reading objects are made from its units on first use of `readings`, once. */
function leaseOf(id: number, priorityClass: Lease['priorityClass'], units: readonly UnitSlice[], bytes: number, partial: boolean): Lease {
  let readings: Reading[] | undefined;
  return {
    id,
    priorityClass,
    units,
    bytes,
    partial,
    get readings(): readonly Reading[] {
      if (readings === undefined) {
        readings = [];
        for (const u of units) for (const r of readingsOf(u.columns, u.from, u.to)) readings.push(r);
      }
      return readings;
    },
  };
}
