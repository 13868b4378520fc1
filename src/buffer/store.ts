/**
 * The sealed units in their per-class tables, with the bookkeeping that changes in the
 * same transaction: per-class counters, per-key counts, the high-water mark and the
 * replay floor. Memory follows the database only after the transaction commits.
 */
import type Database from 'better-sqlite3';
import { type PendingReading, PRIORITY_CLASSES, type Reading } from '../reading.js';
import type { UnitColumns } from './codec.js';
import { errInfo, type LogLimited } from './diagnostics.js';
import { type ActiveKey, addKeyCounts, type KeyCounts, type KeyLedger } from './key-ledger.js';
import { type Counters, type Meta, metaKey, NCLASS, oldestTimeSql, type UnitRow, unitTable } from './schema.js';
import { openUnit, openUnitColumns, type SealOptions, sealUnit } from './seal.js';
import type { Sequence } from './seq.js';
import type { ClassStats } from './types.js';

/** Estimated SQLite bytes per unit row beyond its sealed body (cell header, rowid, columns, cell pointer). */
export const UNIT_ROW_OVERHEAD = 24;

/** A sealed unit ready to be inserted. */
export interface NewUnit {
  classIndex: number;
  id: number;
  n: number;
  /** Oldest gateway time of its readings, whole seconds (stored in clear). */
  t: number;
  body: Buffer;
}

export interface Removed {
  id: number;
  classIndex: number;
  n: number;
  keyId: number;
  bytes: number;
}

const emptyClass = (): ClassStats => ({ readings: 0, units: 0, bytes: 0, oldestGatewayTime: null });

const oldestSecond = (readings: readonly PendingReading[]): number => {
  let tMin = Infinity;
  for (const r of readings) if (r.gatewayTime < tMin) tMin = r.gatewayTime;
  return Math.floor(tMin / 1000);
};

export class UnitStore {
  private readonly perClass: ClassStats[] = Array.from({ length: NCLASS }, emptyClass);
  private readonly oldestDirty: boolean[] = new Array<boolean>(NCLASS).fill(true);
  /**
   * Per class, no legitimate unit has an id below this: it is the oldest remaining unit
   * (or the next seq when the class is empty) after each removal. A row below it is a
   * deleted unit put back (a replay) and is quarantined.
   */
  readonly floor: number[] = new Array<number>(NCLASS).fill(0);
  private readonly gwIds = new Map<number, string>();
  private readonly gwBytes = new Map<number, Buffer>();
  private gwSelf = 0;
  private readonly st: {
    ins: Database.Statement[];
    sel: Database.Statement[];
    del: Database.Statement[];
    first: Database.Statement[];
    firstId: Database.Statement[];
  };

  constructor(
    private readonly db: Database.Database,
    private readonly meta: Meta,
    private readonly keys: KeyLedger,
    private readonly seq: Sequence,
    private readonly opts: SealOptions & { gatewayId: string },
    private readonly logLimited: LogLimited,
  ) {
    const per = (f: (t: string, classIndex: number) => string) => PRIORITY_CLASSES.map((_, classIndex) => db.prepare(f(unitTable(classIndex), classIndex)));
    this.st = {
      ins: per((t) => `INSERT INTO ${t} (id, n, gw, key_id, t, body) VALUES (?, ?, ?, ?, ?, ?)`),
      sel: per((t) => `SELECT id, n, gw, key_id, t, body FROM ${t} WHERE id >= ? ORDER BY id LIMIT ?`),
      del: per((t) => `DELETE FROM ${t} WHERE id = ? RETURNING n, key_id, length(body) AS bytes`),
      first: per((_, classIndex) => oldestTimeSql(classIndex)).map((s) => s.pluck()),
      firstId: per((t) => `SELECT id FROM ${t} ORDER BY id LIMIT 1`).map((s) => s.pluck()),
    };
    for (let classIndex = 0; classIndex < NCLASS; classIndex++) {
      Object.assign(this.perClass[classIndex]!, meta.readCounters(classIndex));
      this.floor[classIndex] = meta.num(metaKey.floor(classIndex)) ?? 0;
    }
    db.prepare('INSERT OR IGNORE INTO gateways (gateway_id) VALUES (?)').run(opts.gatewayId);
    for (const row of db.prepare('SELECT gw, gateway_id FROM gateways').all() as { gw: number; gateway_id: string }[]) {
      this.gwIds.set(row.gw, row.gateway_id);
      this.gwBytes.set(row.gw, Buffer.from(row.gateway_id, 'utf8'));
      if (row.gateway_id === opts.gatewayId) this.gwSelf = row.gw;
    }
  }

  /** Up to `limit` units of a class from id `from` on, oldest first. */
  rows(classIndex: number, from: number, limit: number): UnitRow[] {
    return this.st.sel[classIndex]!.all(from, limit) as UnitRow[];
  }

  /** Oldest gateway time of a class in whole seconds, or undefined when it is empty. */
  oldestTime(classIndex: number): number | undefined {
    return this.st.first[classIndex]!.get() as number | undefined;
  }

  /** Stored bytes as the byte cap counts them: sealed units plus a fixed per-unit row overhead. */
  totalStoredBytes(): number {
    let b = 0;
    for (const c of this.perClass) b += c.bytes + c.units * UNIT_ROW_OVERHEAD;
    return b;
  }

  classStats(classIndex: number): ClassStats {
    const c = this.perClass[classIndex]!;
    if (this.oldestDirty[classIndex]) {
      const t = this.oldestTime(classIndex);
      c.oldestGatewayTime = t === undefined ? null : t * 1000;
      this.oldestDirty[classIndex] = false;
    }
    return { ...c };
  }

  /** Seals readings as the unit [first, ...] of a class from gateway row `gw` (default: this gateway). */
  seal(readings: readonly PendingReading[], classIndex: number, first: number, activeKey: ActiveKey, gw = this.gwSelf): { body: Buffer; t: number } {
    return { body: sealUnit(this.opts, readings, classIndex, first, activeKey.keyId, activeKey.key, this.gwBytes.get(gw)!), t: oldestSecond(readings) };
  }

  /** True when the key ring holds this key id. */
  hasKey(keyId: number): boolean {
    return this.keys.key(keyId) !== undefined;
  }

  /** Authenticates and decodes one unit row (throws as openUnit does). */
  open(row: UnitRow, classIndex: number): Reading[] {
    return openUnit(row, classIndex, this.keys.key(row.key_id), this.gwBytes.get(row.gw), this.gwIds.get(row.gw));
  }

  /** open(), the unit as columns (no Reading objects). */
  openColumns(row: UnitRow, classIndex: number): UnitColumns {
    return openUnitColumns(row, classIndex, this.keys.key(row.key_id), this.gwBytes.get(row.gw), this.gwIds.get(row.gw));
  }

  /** Writes one group commit's units, sealed with `activeKey`, and the new high-water mark `last`, in one transaction. */
  insert(units: readonly NewUnit[], activeKey: ActiveKey, last: number): void {
    const next = this.perClass.map((c) => this.counters(c));
    const touched = new Set<number>();
    for (const u of units) {
      const c = next[u.classIndex]!;
      c.readings += u.n;
      c.units += 1;
      c.bytes += u.body.length;
      touched.add(u.classIndex);
    }
    const keyCounts: KeyCounts = new Map([[activeKey.keyId, { seals: units.length, units: units.length }]]);
    this.db.transaction(() => {
      for (const u of units) this.st.ins[u.classIndex]!.run(u.id, u.n, this.gwSelf, activeKey.keyId, u.t, u.body);
      this.meta.set(metaKey.hwm, last);
      for (const classIndex of touched) this.meta.writeCounters(classIndex, next[classIndex]!);
      this.keys.writeCounts(keyCounts);
    })();
    // Committed: memory follows.
    const sealsBefore = activeKey.use.seals;
    this.seq.hwm = last;
    this.keys.applyCounts(keyCounts);
    this.keys.warnIfWorn(activeKey, sealsBefore);
    for (const classIndex of touched) {
      if (this.perClass[classIndex]!.units === 0) this.oldestDirty[classIndex] = true;
      Object.assign(this.perClass[classIndex]!, next[classIndex]);
    }
  }

  /** Removes units in one transaction and updates the counters. `before` runs first inside it. */
  removeUnits(classIndex: number, ids: readonly number[], before?: (id: number) => void): Removed[] {
    const removed: Removed[] = [];
    const del = this.st.del[classIndex]!;
    const next = this.counters(this.perClass[classIndex]!);
    const keyCounts: KeyCounts = new Map();
    let floor = this.floor[classIndex]!;
    this.db.transaction(() => {
      for (const id of ids) {
        before?.(id);
        const r = del.get(id) as { n: number; key_id: number; bytes: number } | undefined;
        if (r) removed.push({ id, classIndex, n: r.n, keyId: r.key_id, bytes: r.bytes });
      }
      if (removed.length === 0) return;
      for (const r of removed) {
        next.readings = Math.max(0, next.readings - r.n);
        next.units = Math.max(0, next.units - 1);
        next.bytes = Math.max(0, next.bytes - r.bytes);
        addKeyCounts(keyCounts, r.keyId, 0, -1);
      }
      this.meta.writeCounters(classIndex, next);
      this.keys.writeCounts(keyCounts);
      floor = this.raiseFloor(classIndex, floor, this.seq.hwm + 1);
    })();
    if (removed.length) this.committed(classIndex, next, keyCounts, floor);
    return removed;
  }

  /**
   * The first readings of a unit were delivered: replaces the unit by its rest, re-sealed
   * at its new position (first seq = the first undelivered one) with the active key.
   * Returns that position, or undefined when the unit stays as it was (on failure it is
   * offered again whole: at-least-once).
   */
  replaceWithRest(classIndex: number, unit: { id: number; gw: number }, rest: readonly Reading[]): number | undefined {
    const activeKey = this.keys.active();
    const first = rest[0]?.seq;
    if (!this.gwBytes.has(unit.gw) || first === undefined) return undefined;
    const { body, t } = this.seal(rest, classIndex, first, activeKey, unit.gw);
    let old: { n: number; key_id: number; bytes: number } | undefined;
    const next = this.counters(this.perClass[classIndex]!);
    const keyCounts: KeyCounts = new Map();
    let floor = this.floor[classIndex]!;
    try {
      this.db.transaction(() => {
        old = this.st.del[classIndex]!.get(unit.id) as typeof old;
        if (!old) return;
        this.st.ins[classIndex]!.run(first, rest.length, unit.gw, activeKey.keyId, t, body);
        next.readings = Math.max(0, next.readings - (old.n - rest.length));
        next.bytes = Math.max(0, next.bytes - old.bytes + body.length);
        this.meta.writeCounters(classIndex, next);
        if (old.key_id !== activeKey.keyId) addKeyCounts(keyCounts, old.key_id, 0, -1);
        addKeyCounts(keyCounts, activeKey.keyId, 1, old.key_id === activeKey.keyId ? 0 : 1);
        this.keys.writeCounts(keyCounts);
        // The delivered head must not come back: nothing below the oldest remaining unit is legitimate.
        floor = this.raiseFloor(classIndex, floor, first);
      })();
    } catch (e) {
      this.logLimited('error', { err: errInfo(e) }, 'could not shorten a partly delivered unit; it will be offered again whole');
      return undefined;
    }
    if (!old) return undefined;
    this.committed(classIndex, next, keyCounts, floor);
    return first;
  }

  /** A class with no rows must have zero counters (they can only drift if the file was edited). */
  reconcileEmpty(classIndex: number): void {
    const c = this.perClass[classIndex]!;
    if (c.units === 0 && c.readings === 0 && c.bytes === 0) return;
    if (this.oldestTime(classIndex) !== undefined) return;
    try {
      this.meta.writeCounters(classIndex, { readings: 0, units: 0, bytes: 0 });
      this.logLimited(
        'warn',
        { class: PRIORITY_CLASSES[classIndex], units: c.units, readings: c.readings },
        'class counters did not match the stored units; reset',
      );
      c.units = 0;
      c.readings = 0;
      c.bytes = 0;
      this.oldestDirty[classIndex] = true;
    } catch {
      /* try again next time */
    }
  }

  private counters(c: Counters): Counters {
    return { readings: c.readings, units: c.units, bytes: c.bytes };
  }

  /** Inside a removal: raises the class's replay floor to its oldest remaining unit (or `ifEmpty`). */
  private raiseFloor(classIndex: number, floor: number, ifEmpty: number): number {
    const oldest = this.st.firstId[classIndex]!.get() as number | undefined;
    const f = Math.max(floor, oldest ?? ifEmpty);
    if (f !== floor) this.meta.set(metaKey.floor(classIndex), f);
    return f;
  }

  /** After a removal or replacement committed: memory follows. */
  private committed(classIndex: number, next: Counters, keyCounts: KeyCounts, floor: number): void {
    this.floor[classIndex] = floor;
    Object.assign(this.perClass[classIndex]!, next);
    this.keys.applyCounts(keyCounts);
    this.oldestDirty[classIndex] = true;
  }
}
