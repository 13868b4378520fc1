/**
 * The SQLite store-and-forward buffer. See ./index.ts for the durability contract,
 * storage layout, caps, disk-full behaviour and what is stored in clear.
 */
import Database from 'better-sqlite3';
import { chmodSync, closeSync, existsSync, fsyncSync, mkdirSync, openSync, renameSync, statSync, statfsSync, unlinkSync, writeSync, ftruncateSync } from 'node:fs';
import { basename, join } from 'node:path';
import { PRIORITIES, type PendingReading, type Priority, type Reading } from '../reading.js';
import type { Events } from '../metrics/events.js';
import type { Logger } from '../logger.js';
import { BufferRefused, type BufferStats, type ClassStats, type Lease, type LeaseLimits, type ReadingBuffer } from './types.js';
import { AuthenticationFailed, SEAL_LIMIT_PER_KEY, SEAL_WARN_PER_KEY, type CipherName } from '../crypto/aead.js';
import { loadKeyRing, type KeyProtection, type KeyRing } from '../crypto/keys.js';
import { CodecError, validateForEncoding } from './codec.js';
import { lockDataDir } from './lock.js';
import { errInfo, rateLimitedLog, refusalReason, sqliteErrorCode, type LogLimited } from './diagnostics.js';
import { applyPragmas, DB_FILE, initSchema, Meta, metaKey, NCLASS, readMeta, unitTable, type UnitRow } from './schema.js';
import { readSeqFile, Sequence } from './seq.js';
import { openUnit, sealUnit } from './seal.js';
import { addToGap, corruptionAlarm, GapRecords, newGap, type GapAcc } from './gateway-records.js';

/** Space kept in reserve so the buffer can still shed data when the disk is full. */
export const BALLAST_FILE = 'buffer.ballast';
/** Estimated SQLite bytes per unit row beyond its sealed body (cell header, rowid, columns, cell pointer). */
export const UNIT_ROW_OVERHEAD = 24;
const LEASE_CHUNK = 64;

export interface OpenBufferOptions {
  dir: string;
  keyFile: string;
  /** Passphrase / secret file for a protected key file (else env WARDGATE_KEY_PASSPHRASE / WARDGATE_KEY_SECRET_FILE). */
  keyProtection?: KeyProtection;
  gatewayId: string;
  cipher?: CipherName;
  /** Group commit interval (default 25 ms). */
  commitIntervalMs?: number;
  /** Commit as soon as this many readings are pending (default 4096). */
  commitMaxReadings?: number;
  /** 'full' (default): fsync on every commit. 'normal': WAL synced at checkpoints only. */
  synchronous?: 'normal' | 'full';
  /** Cap on stored bytes: sealed units plus UNIT_ROW_OVERHEAD each (default 2 GiB). */
  maxBytes?: number;
  /** Cap on the age of buffered readings (default 7 days). */
  maxAgeMs?: number;
  /** At most this many readings per sealed unit (default 1024). */
  unitMaxReadings?: number;
  /** Deflate units before sealing when that makes them smaller (default true). */
  compress?: boolean;
  /** Bytes kept in reserve on the filesystem for disk-full recovery (default 4 MiB; 0 disables). */
  ballastBytes?: number;
  /**
   * When the byte cap is exceeded, evict down to maxBytes minus this much, so the gap
   * records that follow fit (default min(5% of maxBytes, 1 MiB)).
   */
  capHeadroomBytes?: number;
  /** Maintenance period: age cap, WAL bound, disk-full recovery, key file reload (default 1000 ms). */
  maintenanceIntervalMs?: number;
  /** SQLite page size for a new database (default 1024: fewer bytes written per small commit). */
  pageSize?: number;
  events: Events;
  log: Logger;
  now?: () => number;
}

interface PendingAppend {
  readings: readonly PendingReading[];
  resolve: () => void;
  reject: (e: Error) => void;
}

interface LeasedUnit {
  id: number;
  n: number;
  gw: number;
  /** Set when only the first readings of the unit are leased (the unit alone exceeded maxReadings): the rest. */
  rest?: Reading[];
}

interface LeaseState {
  rank: number;
  units: LeasedUnit[];
  readings: number;
}

interface KeyUse {
  fingerprint: string;
  seals: number;
  units: number;
}

interface Removed {
  id: number;
  rank: number;
  n: number;
  keyId: number;
  bytes: number;
}

const emptyClass = (): ClassStats => ({ readings: 0, units: 0, bytes: 0, oldestGatewayTime: null });

export class SqliteBuffer implements ReadingBuffer {
  readonly gatewayId: string;
  readonly dir: string;
  readonly dbPath: string;
  private readonly db: Database.Database;
  private keys: KeyRing;
  private keyFileMtime = 0;
  private readonly keyFile: string;
  private readonly keyProtection: KeyProtection;
  private readonly events: Events;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly commitIntervalMs: number;
  private readonly commitMaxReadings: number;
  private readonly unitMaxReadings: number;
  private readonly ballastBytes: number;
  private readonly synchronous: 'normal' | 'full';
  private readonly sealing: { cipher: CipherName; compress: boolean };
  private readonly meta: Meta;
  private seq!: Sequence;
  private readonly gaps: GapRecords;
  private readonly logLimited: LogLimited;
  readonly maxBytes: number;
  readonly maxAgeMs: number;
  private readonly capHeadroom: number;

  private pending: PendingAppend[] = [];
  private pendingCount = 0;
  /** Gateway-made readings (gap records, integrity alarms): retried until committed, never dropped. */
  private internal: PendingReading[] = [];
  private timer: NodeJS.Timeout | undefined;
  private immediate: NodeJS.Immediate | undefined;
  private maintenance: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly listeners = new Set<() => void>();

  private readonly cls: ClassStats[] = Array.from({ length: NCLASS }, emptyClass);
  private readonly oldestDirty: boolean[] = new Array<boolean>(NCLASS).fill(true);
  private readonly keyUse = new Map<number, KeyUse>();
  private readonly gwIds = new Map<number, string>();
  private readonly gwBytes = new Map<number, Buffer>();
  private gwSelf = 0;
  private quarantined = 0;

  private nextLeaseId = 1;
  private readonly leases = new Map<number, LeaseState>();
  private readonly leasedUnits = new Set<number>();
  /** Units delivered whose delete failed (disk full): never re-leased by this process, deleted later. */
  private readonly ackedUndeleted = new Map<number, number>();
  private inFlight = 0;
  private readonly cursor: number[] = new Array<number>(NCLASS).fill(0);
  /**
   * Per class, no legitimate unit has an id below this: it is the oldest remaining unit
   * (or the next seq when the class is empty) after each removal. A row below it is a
   * deleted unit put back (a replay) and is quarantined.
   */
  private readonly floor: number[] = new Array<number>(NCLASS).fill(0);
  private diskCache = { at: -Infinity, bytes: 0 };
  private shedding = false;
  private lastAgeCheck = -Infinity;
  private lastKeyCheck = -Infinity;

  private readonly st: {
    ins: Database.Statement[];
    sel: Database.Statement[];
    del: Database.Statement[];
    first: Database.Statement[];
    firstId: Database.Statement[];
    toQuarantine: Database.Statement[];
  };

  /** Use openBuffer(). */
  constructor(
    db: Database.Database,
    dbPath: string,
    keys: KeyRing,
    opts: OpenBufferOptions,
    seqFloor: number,
    private readonly unlock: () => void = () => undefined,
  ) {
    this.db = db;
    this.dir = opts.dir;
    this.dbPath = dbPath;
    this.keys = keys;
    this.keyFile = opts.keyFile;
    this.keyProtection = opts.keyProtection ?? {};
    this.gatewayId = opts.gatewayId;
    this.events = opts.events;
    this.log = opts.log;
    this.now = opts.now ?? Date.now;
    this.commitIntervalMs = Math.max(0, opts.commitIntervalMs ?? 25);
    this.commitMaxReadings = Math.max(1, opts.commitMaxReadings ?? 4096);
    this.unitMaxReadings = Math.max(1, Math.min(opts.unitMaxReadings ?? 1024, 65_535));
    this.ballastBytes = Math.max(0, opts.ballastBytes ?? 4 * 1024 * 1024);
    this.synchronous = opts.synchronous ?? 'full';
    this.sealing = { cipher: opts.cipher ?? 'aes-256-gcm', compress: opts.compress ?? true };
    this.logLimited = rateLimitedLog(this.log, this.now);
    this.gaps = new GapRecords(this.gatewayId, this.now, this.logLimited, (r) => {
      this.internal.push(r);
      this.schedule();
    });
    this.maxBytes = opts.maxBytes ?? 2 * 1024 ** 3;
    this.maxAgeMs = opts.maxAgeMs ?? 7 * 86_400_000;
    this.capHeadroom = Math.max(0, opts.capHeadroomBytes ?? Math.min(Math.floor(this.maxBytes * 0.05), 1024 * 1024));
    try {
      this.keyFileMtime = statSync(this.keyFile).mtimeMs;
    } catch {
      /* checked by loadKeyRing already */
    }

    const per = (f: (t: string, rank: number) => string) => PRIORITIES.map((_, rank) => db.prepare(f(unitTable(rank), rank)));
    this.st = {
      ins: per((t) => `INSERT INTO ${t} (id, n, gw, key_id, t, body) VALUES (?, ?, ?, ?, ?, ?)`),
      sel: per((t) => `SELECT id, n, gw, key_id, t, body FROM ${t} WHERE id >= ? ORDER BY id LIMIT ?`),
      del: per((t) => `DELETE FROM ${t} WHERE id = ? RETURNING n, key_id, length(body) AS bytes`),
      first: per((t) => `SELECT t FROM ${t} ORDER BY id LIMIT 1`),
      firstId: per((t) => `SELECT id FROM ${t} ORDER BY id LIMIT 1`),
      toQuarantine: per(
        (t, rank) => `INSERT INTO quarantine (id, cls, n, gw, key_id, t, body, reason, at) SELECT id, ${rank}, n, gw, key_id, t, body, ?, ? FROM ${t} WHERE id = ?`,
      ),
    };
    this.meta = new Meta(db);
    this.loadState(seqFloor);
  }

  private loadState(seqFloor: number): void {
    const db = this.db;
    this.seq = new Sequence(this.dir, this.meta, seqFloor);
    for (let rank = 0; rank < NCLASS; rank++) {
      const c = this.cls[rank]!;
      Object.assign(c, this.meta.readCounters(rank));
      this.floor[rank] = this.meta.num(metaKey.floor(rank)) ?? 0;
    }
    for (const row of db.prepare("SELECT k, v FROM meta WHERE k LIKE 'k%.fp'").all() as { k: string; v: string }[]) {
      const id = metaKey.fingerprintKeyId(row.k);
      this.keyUse.set(id, { fingerprint: row.v, seals: this.meta.num(metaKey.keySeals(id)) ?? 0, units: this.meta.num(metaKey.keyUnits(id)) ?? 0 });
    }
    db.prepare('INSERT OR IGNORE INTO gateways (gateway_id) VALUES (?)').run(this.gatewayId);
    for (const row of db.prepare('SELECT gw, gateway_id FROM gateways').all() as { gw: number; gateway_id: string }[]) {
      this.gwIds.set(row.gw, row.gateway_id);
      this.gwBytes.set(row.gw, Buffer.from(row.gateway_id, 'utf8'));
      if (row.gateway_id === this.gatewayId) this.gwSelf = row.gw;
    }
    this.quarantined = (db.prepare('SELECT count(*) FROM quarantine').pluck().get() as number) ?? 0;
    this.checkKeys(this.keys);
  }

  /** A key id the database knows must have the same fingerprint in the key file; the active key gets registered. */
  private checkKeys(ring: KeyRing): void {
    for (const [id, use] of this.keyUse) {
      const fp = ring.fingerprint(id);
      if (fp !== undefined && fp !== use.fingerprint) {
        throw new BufferRefused(
          'io_error',
          `key ${id} in ${ring.path} is not the key this buffer was sealed with (fingerprint mismatch); refusing to use the wrong key file for ${this.dbPath}. ` +
            'Restore the right key file, or move the buffer database aside to start empty (its units cannot be read without that key).',
        );
      }
      if (fp === undefined && use.units > 0) {
        this.log.error({ keyId: id, units: use.units }, 'buffered units are sealed with a key that is missing from the key file; they will be quarantined when reached');
      }
    }
    const active = ring.activeKeyId;
    if (!this.keyUse.has(active)) {
      const use = { fingerprint: ring.fingerprint(active)!, seals: 0, units: 0 };
      this.db.transaction(() => {
        this.meta.set(metaKey.keyFingerprint(active), use.fingerprint);
        this.meta.set(metaKey.keySeals(active), 0);
        this.meta.set(metaKey.keyUnits(active), 0);
      })();
      this.keyUse.set(active, use);
    }
  }

  /**
   * Re-reads the key file (after `wardgate keygen --rotate`): new units use the new active
   * key, old ones stay readable. Also done automatically when the file's mtime changes.
   * Throws (and keeps the current keys) when the new file is unusable.
   */
  reloadKeys(): { activeKeyId: number; keyIds: readonly number[] } {
    const ring = loadKeyRing(this.keyFile, this.keyProtection);
    this.checkKeys(ring);
    const before = this.keys.activeKeyId;
    this.keys = ring;
    if (ring.activeKeyId !== before) this.log.info({ activeKeyId: ring.activeKeyId, previous: before }, 'key file reloaded: new units use the new active key');
    return { activeKeyId: ring.activeKeyId, keyIds: ring.keyIds };
  }

  get activeKeyId(): number {
    return this.keys.activeKeyId;
  }

  // ---------------------------------------------------------------- append / commit

  append(readings: readonly PendingReading[]): Promise<void> {
    if (this.closed) {
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
    if (this.shedding) {
      // Disk full: the lowest class is refused at the door (its senders are not acknowledged).
      let shed = 0;
      for (const r of readings) if (r.priority === 'waveform') shed++;
      if (shed > 0) {
        this.refuseCount('shedding', readings.length);
        return Promise.reject(new BufferRefused('shedding', 'disk full: waveform readings are shed until space returns'));
      }
    }
    if (readings.length === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ readings, resolve, reject });
      this.pendingCount += readings.length;
      this.schedule();
    });
  }

  flush(): Promise<void> {
    if (this.pending.length === 0 && this.internal.length === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ readings: [], resolve, reject });
      this.commitNow();
    });
  }

  private schedule(): void {
    if (this.closed) return;
    if (this.pendingCount + this.internal.length >= this.commitMaxReadings) {
      if (!this.immediate) this.immediate = setImmediate(() => this.commitNow());
    } else if (!this.timer) {
      this.timer = setTimeout(() => this.commitNow(), this.commitIntervalMs);
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
      this.internal = internal.concat(this.internal); // gateway records are retried, never dropped
      this.refuseCount(reason, count);
      this.logLimited('error', { err: errInfo(e), count }, 'buffer commit failed; readings refused');
      const err = new BufferRefused(reason, `buffer commit failed: ${(e as Error).message}`);
      for (const p of batch) p.reject(err);
      if (reason === 'disk_full') this.onDiskFull(count);
      if (this.internal.length && !this.closed && !this.timer) this.timer = setTimeout(() => this.commitNow(), Math.max(this.commitIntervalMs, 250));
      return;
    }
    for (const p of batch) p.resolve();
    for (const l of this.listeners) {
      try {
        l();
      } catch (e) {
        this.logLimited('error', { err: errInfo(e) }, 'onCommit listener threw');
      }
    }
    if (this.totalStoredBytes() > this.maxBytes) this.enforceByteCap();
  }

  /** Encodes, seals and writes one group commit in one transaction. Throws on failure; memory changes only on success. */
  private writeCommit(batch: PendingAppend[], internal: PendingReading[]): void {
    const byClass: PendingReading[][] = Array.from({ length: NCLASS }, () => []);
    for (const r of internal) byClass[PRIORITIES.indexOf(r.priority)]!.push(r);
    for (const p of batch) for (const r of p.readings) byClass[PRIORITIES.indexOf(r.priority)]!.push(r);
    const keyId = this.keys.activeKeyId;
    const key = this.keys.get(keyId)!;
    const use = this.keyUse.get(keyId)!;
    const gw = this.gwBytes.get(this.gwSelf)!;
    const units: { rank: number; id: number; n: number; t: number; body: Buffer }[] = [];
    let seq = this.seq.hwm;
    for (let rank = 0; rank < NCLASS; rank++) {
      const rs = byClass[rank]!;
      for (let off = 0; off < rs.length; off += this.unitMaxReadings) {
        const chunk = off === 0 && rs.length <= this.unitMaxReadings ? rs : rs.slice(off, off + this.unitMaxReadings);
        const first = seq + 1;
        seq += chunk.length;
        const body = sealUnit(this.sealing, chunk, rank, first, keyId, key, gw);
        let tMin = Infinity;
        for (const r of chunk) if (r.gatewayTime < tMin) tMin = r.gatewayTime;
        units.push({ rank, id: first, n: chunk.length, t: Math.floor(tMin / 1000), body });
      }
    }
    if (units.length === 0) return;
    if (use.seals + units.length > SEAL_LIMIT_PER_KEY) {
      throw new Error(`key ${keyId} reached its seal limit (${SEAL_LIMIT_PER_KEY}); rotate the key (wardgate keygen --rotate)`);
    }
    // Reserve sequence numbers in the side file before they can be committed.
    this.seq.reserve(seq);
    const next = this.cls.map((c) => ({ readings: c.readings, units: c.units, bytes: c.bytes }));
    const touched = new Set<number>();
    for (const u of units) {
      const c = next[u.rank]!;
      c.readings += u.n;
      c.units += 1;
      c.bytes += u.body.length;
      touched.add(u.rank);
    }
    this.db.transaction(() => {
      for (const u of units) this.st.ins[u.rank]!.run(u.id, u.n, this.gwSelf, keyId, u.t, u.body);
      this.meta.set(metaKey.hwm, seq);
      for (const rank of touched) this.meta.writeCounters(rank, next[rank]!);
      this.meta.set(metaKey.keySeals(keyId), use.seals + units.length);
      this.meta.set(metaKey.keyUnits(keyId), use.units + units.length);
    })();
    // Committed: memory follows.
    const warnBefore = use.seals < SEAL_WARN_PER_KEY;
    this.seq.hwm = seq;
    use.seals += units.length;
    use.units += units.length;
    if (warnBefore && use.seals >= SEAL_WARN_PER_KEY) this.log.warn({ keyId, seals: use.seals }, 'key has sealed more than 2^31 units; rotate it (wardgate keygen --rotate)');
    for (const rank of touched) {
      const c = this.cls[rank]!;
      if (c.units === 0) this.oldestDirty[rank] = true;
      Object.assign(c, next[rank]);
    }
  }

  // ---------------------------------------------------------------- lease / ack / release

  lease(limits: LeaseLimits): Lease | null {
    if (this.closed) return null;
    // The counters are exact unless the file was edited behind our back, so the decision
    // is taken on the rows themselves (one index seek per empty class).
    for (let rank = 0; rank < NCLASS; rank++) {
      const l = this.leaseClass(rank, limits);
      if (l) return l;
    }
    return null;
  }

  private isLeased(id: number): boolean {
    return this.leasedUnits.has(id) || this.ackedUndeleted.has(id);
  }

  private leaseClass(rank: number, limits: LeaseLimits): Lease | null {
    const taken: LeasedUnit[] = [];
    const readings: Reading[] = [];
    const bad: { id: number; reason: string }[] = [];
    let bytes = 0;
    let from = this.cursor[rank]!;
    let leadingLeased = true;
    let done = false;
    const sel = this.st.sel[rank]!;
    while (!done) {
      const rows = sel.all(from, LEASE_CHUNK) as UnitRow[];
      for (const row of rows) {
        from = row.id + 1;
        if (this.isLeased(row.id)) {
          if (leadingLeased) this.cursor[rank] = row.id + 1;
          continue;
        }
        leadingLeased = false;
        if (row.id < this.floor[rank]!) {
          bad.push({ id: row.id, reason: 'replayed' });
          continue;
        }
        const size = row.body.length;
        if (taken.length > 0 && (readings.length + row.n > limits.maxReadings || bytes + size > limits.maxBytes)) {
          done = true;
          break;
        }
        let decoded: Reading[];
        try {
          decoded = this.openUnit(row, rank);
        } catch (e) {
          bad.push({ id: row.id, reason: e instanceof AuthenticationFailed ? 'auth_failed' : e instanceof CodecError ? 'decode_failed' : 'unknown_key' });
          continue;
        }
        if (taken.length === 0 && decoded.length > limits.maxReadings) {
          // The unit alone is larger than the lease may be: lease its first readings only.
          const k = Math.max(1, Math.floor(limits.maxReadings));
          taken.push({ id: row.id, n: row.n, gw: row.gw, rest: decoded.slice(k) });
          for (let i = 0; i < k; i++) readings.push(decoded[i]!);
          bytes += Math.ceil((size * k) / row.n);
          done = true;
          break;
        }
        taken.push({ id: row.id, n: row.n, gw: row.gw });
        for (const r of decoded) readings.push(r);
        bytes += size;
        if (readings.length >= limits.maxReadings || bytes >= limits.maxBytes) {
          done = true;
          break;
        }
      }
      if (rows.length < LEASE_CHUNK) break;
    }
    if (bad.length) this.quarantine(rank, bad);
    if (taken.length === 0) {
      this.reconcileEmpty(rank);
      return null;
    }
    const id = this.nextLeaseId++;
    for (const u of taken) this.leasedUnits.add(u.id);
    this.leases.set(id, { rank, units: taken, readings: readings.length });
    this.inFlight += readings.length;
    return { id, priority: PRIORITIES[rank]!, readings, bytes };
  }

  /** A class with no rows must have zero counters (they can only drift if the file was edited). */
  private reconcileEmpty(rank: number): void {
    const c = this.cls[rank]!;
    if (c.units === 0 && c.readings === 0 && c.bytes === 0) return;
    if (this.st.first[rank]!.pluck().get() !== undefined) return;
    try {
      this.meta.writeCounters(rank, { readings: 0, units: 0, bytes: 0 });
      this.log.warn({ class: PRIORITIES[rank], units: c.units, readings: c.readings }, 'class counters did not match the stored units; reset');
      c.units = 0;
      c.readings = 0;
      c.bytes = 0;
      this.oldestDirty[rank] = true;
    } catch {
      /* try again next time */
    }
  }

  /** Authenticates and decodes one unit row. */
  private openUnit(row: UnitRow, rank: number): Reading[] {
    return openUnit(row, rank, this.keys.get(row.key_id), this.gwBytes.get(row.gw), this.gwIds.get(row.gw));
  }

  /** Removes units in one transaction and updates the counters. `before` runs first inside it. */
  private removeUnits(rank: number, ids: readonly number[], before?: (id: number) => void): Removed[] {
    const removed: Removed[] = [];
    const del = this.st.del[rank]!;
    let floor = this.floor[rank]!;
    this.db.transaction(() => {
      for (const id of ids) {
        before?.(id);
        const r = del.get(id) as { n: number; key_id: number; bytes: number } | undefined;
        if (r) removed.push({ id, rank, n: r.n, keyId: r.key_id, bytes: r.bytes });
      }
      if (removed.length === 0) return;
      const c = this.cls[rank]!;
      const next = { readings: c.readings, units: c.units, bytes: c.bytes };
      const keys = new Map<number, number>();
      for (const r of removed) {
        next.readings = Math.max(0, next.readings - r.n);
        next.units = Math.max(0, next.units - 1);
        next.bytes = Math.max(0, next.bytes - r.bytes);
        keys.set(r.keyId, (keys.get(r.keyId) ?? 0) + 1);
      }
      this.meta.writeCounters(rank, next);
      for (const [keyId, k] of keys) {
        const use = this.keyUse.get(keyId);
        if (use) this.meta.set(metaKey.keyUnits(keyId), Math.max(0, use.units - k));
      }
      const oldest = this.st.firstId[rank]!.pluck().get() as number | undefined;
      const f = Math.max(floor, oldest ?? this.seq.hwm + 1);
      if (f !== floor) {
        this.meta.set(metaKey.floor(rank), f);
        floor = f;
      }
    })();
    this.floor[rank] = floor;
    const c = this.cls[rank]!;
    for (const r of removed) {
      c.readings = Math.max(0, c.readings - r.n);
      c.units = Math.max(0, c.units - 1);
      c.bytes = Math.max(0, c.bytes - r.bytes);
      const use = this.keyUse.get(r.keyId);
      if (use) use.units = Math.max(0, use.units - 1);
    }
    if (removed.length) this.oldestDirty[rank] = true;
    return removed;
  }

  /** Moves units that failed authentication or decoding to the quarantine table, with a gap record. */
  private quarantine(rank: number, bad: { id: number; reason: string }[]): void {
    const at = this.now();
    const reasons = new Map(bad.map((b) => [b.id, b.reason]));
    const info = this.st.sel[rank]!;
    const rows = bad.map((b) => (info.all(b.id, 1) as UnitRow[])[0]).filter((r): r is UnitRow => r !== undefined && reasons.has(r.id));
    let removed: Removed[];
    try {
      removed = this.removeUnits(rank, bad.map((b) => b.id), (id) => this.st.toQuarantine[rank]!.run(reasons.get(id), at, id));
    } catch (e) {
      // Could not move them (disk full?): keep them out of leases for this process.
      this.logLimited('error', { err: errInfo(e) }, 'could not quarantine units; skipping them until restart');
      for (const b of bad) {
        this.ackedUndeleted.set(b.id, rank);
        this.events.emit('unit_quarantined', { reason: b.reason }, 1, { class: PRIORITIES[rank], moved: false });
      }
      return;
    }
    this.quarantined += removed.length;
    for (const b of bad) this.events.emit('unit_quarantined', { reason: b.reason }, 1, { class: PRIORITIES[rank] });
    // A replayed unit was delivered before: it is not a loss.
    const acc = newGap();
    const gone = new Set(removed.map((r) => r.id));
    for (const r of rows) if (gone.has(r.id) && reasons.get(r.id) !== 'replayed') addToGap(acc, r, []);
    this.gaps.record(rank, 'quarantined', acc);
  }

  ack(leaseId: number): void {
    const l = this.leases.get(leaseId);
    if (!l) {
      this.logLimited('warn', { leaseId }, 'ack of an unknown lease ignored');
      return;
    }
    this.leases.delete(leaseId);
    this.inFlight -= l.readings;
    for (const u of l.units) {
      this.leasedUnits.delete(u.id);
      if (u.rest) this.splitUnit(l.rank, u, u.rest);
      else this.ackedUndeleted.set(u.id, l.rank);
    }
    this.deleteAcked();
  }

  /**
   * The first readings of a unit were delivered: replace the unit by its rest, re-sealed
   * at its new position (first seq = the first undelivered one) with the active key.
   * On failure the whole unit stays and is offered again (at-least-once).
   */
  private splitUnit(rank: number, u: LeasedUnit, rest: Reading[]): void {
    const keyId = this.keys.activeKeyId;
    const key = this.keys.get(keyId)!;
    const use = this.keyUse.get(keyId)!;
    const gwb = this.gwBytes.get(u.gw);
    const first = rest[0]?.seq;
    if (!gwb || first === undefined) return;
    const body = sealUnit(this.sealing, rest, rank, first, keyId, key, gwb);
    let tMin = Infinity;
    for (const r of rest) if (r.gatewayTime < tMin) tMin = r.gatewayTime;
    const relax = this.synchronous === 'full';
    let old: { n: number; key_id: number; bytes: number } | undefined;
    const c = this.cls[rank]!;
    const next = { readings: c.readings, units: c.units, bytes: c.bytes };
    let floor = this.floor[rank]!;
    if (relax) this.db.pragma('synchronous = NORMAL');
    try {
      this.db.transaction(() => {
        old = this.st.del[rank]!.get(u.id) as typeof old;
        if (!old) return;
        this.st.ins[rank]!.run(first, rest.length, u.gw, keyId, Math.floor(tMin / 1000), body);
        next.readings = Math.max(0, next.readings - (old.n - rest.length));
        next.bytes = Math.max(0, next.bytes - old.bytes + body.length);
        this.meta.writeCounters(rank, next);
        const oldUse = this.keyUse.get(old.key_id);
        if (old.key_id === keyId) this.meta.set(metaKey.keySeals(keyId), use.seals + 1);
        else {
          if (oldUse) this.meta.set(metaKey.keyUnits(old.key_id), Math.max(0, oldUse.units - 1));
          this.meta.set(metaKey.keyUnits(keyId), use.units + 1);
          this.meta.set(metaKey.keySeals(keyId), use.seals + 1);
        }
        // The delivered head must not come back: nothing below the oldest remaining unit is legitimate.
        const oldest = this.st.firstId[rank]!.pluck().get() as number | undefined;
        const f = Math.max(floor, oldest ?? first);
        if (f !== floor) {
          this.meta.set(metaKey.floor(rank), f);
          floor = f;
        }
      })();
    } catch (e) {
      this.logLimited('error', { err: errInfo(e) }, 'could not shorten a partly delivered unit; it will be offered again whole');
      return;
    } finally {
      if (relax) this.db.pragma('synchronous = FULL');
    }
    if (!old) return;
    this.floor[rank] = floor;
    if (first < this.cursor[rank]!) this.cursor[rank] = first; // the rest is leasable again, ahead of newer units
    Object.assign(c, next);
    use.seals += 1;
    if (old.key_id !== keyId) {
      const oldUse = this.keyUse.get(old.key_id);
      if (oldUse) oldUse.units = Math.max(0, oldUse.units - 1);
      use.units += 1;
    }
    this.oldestDirty[rank] = true;
  }

  /** Deletes delivered units; on failure (disk full) they stay out of leases and are retried later. */
  private deleteAcked(): void {
    if (this.ackedUndeleted.size === 0) return;
    const byRank = new Map<number, number[]>();
    for (const [id, rank] of this.ackedUndeleted) {
      let a = byRank.get(rank);
      if (!a) byRank.set(rank, (a = []));
      a.push(id);
    }
    // The delete is committed before ack() returns, so a process crash cannot bring the
    // units back. It is not fsynced on its own: the next commit's fsync (synchronous=full)
    // or checkpoint (normal) persists it, so a power cut just after an ack may re-send
    // those units (at-least-once; consumers dedupe on gatewayId + seq). This halves the
    // fsyncs per second of a ward whose forwarder acks after every commit.
    const relax = this.synchronous === 'full';
    if (relax) this.db.pragma('synchronous = NORMAL');
    try {
      for (const [rank, ids] of byRank) {
        try {
          this.removeUnits(rank, ids);
          for (const id of ids) this.ackedUndeleted.delete(id);
        } catch (e) {
          this.logLimited('error', { err: errInfo(e), units: ids.length }, 'could not delete acknowledged units; will retry (they are not sent again)');
        }
      }
    } finally {
      if (relax) this.db.pragma('synchronous = FULL');
    }
  }

  release(leaseId: number): void {
    const l = this.leases.get(leaseId);
    if (!l) return;
    let min = Infinity;
    for (const u of l.units) {
      this.leasedUnits.delete(u.id);
      if (u.id < min) min = u.id;
    }
    if (min < this.cursor[l.rank]!) this.cursor[l.rank] = min;
    this.leases.delete(leaseId);
    this.inFlight -= l.readings;
  }

  // ---------------------------------------------------------------- caps, eviction, gap records

  /** Stored bytes as the byte cap counts them: sealed units plus a fixed per-unit row overhead. */
  totalStoredBytes(): number {
    let b = 0;
    for (const c of this.cls) b += c.bytes + c.units * UNIT_ROW_OVERHEAD;
    return b;
  }

  /**
   * Evicts the lowest class's oldest units until `done()` says stop; alarms only when no
   * other class has evictable units. Leased units are not evicted. One gap record per
   * class. Returns readings evicted.
   */
  private evict(reason: 'max_bytes' | 'disk_full', done: (freed: number) => boolean): number {
    let freed = 0;
    let total = 0;
    for (let rank = NCLASS - 1; rank >= 0 && !done(freed); rank--) {
      const acc = newGap();
      let from = 0;
      try {
        while (!done(freed)) {
          const rows = this.st.sel[rank]!.all(from, LEASE_CHUNK) as UnitRow[];
          if (rows.length === 0) break;
          from = rows[rows.length - 1]!.id + 1;
          const victims: UnitRow[] = [];
          for (const r of rows) {
            if (done(freed)) break;
            if (this.isLeased(r.id)) continue;
            victims.push(r);
            freed += r.body.length + UNIT_ROW_OVERHEAD;
          }
          total += this.evictRows(rank, victims, reason, acc);
        }
      } finally {
        this.gaps.record(rank, reason, acc);
      }
    }
    return total;
  }

  /** Deletes `victims` (one transaction), counts them, and adds what was lost to `acc`. */
  private evictRows(rank: number, victims: UnitRow[], reason: 'max_bytes' | 'max_age' | 'disk_full', acc: GapAcc): number {
    if (victims.length === 0) return 0;
    // Learn what is lost (devices, exact times) before it goes: it is named in the gap record.
    const decoded: Reading[][] = [];
    for (const v of victims) {
      try {
        decoded.push(this.openUnit(v, rank));
      } catch {
        decoded.push([]);
      }
    }
    const removed = this.removeUnits(rank, victims.map((v) => v.id));
    const gone = new Set(removed.map((r) => r.id));
    const n = removed.reduce((a, r) => a + r.n, 0);
    if (n > 0) this.events.emit('reading_evicted', { class: PRIORITIES[rank]!, reason }, n, { units: removed.length });
    victims.forEach((v, i) => {
      if (gone.has(v.id)) addToGap(acc, v, decoded[i]!);
    });
    return n;
  }

  private enforceByteCap(): void {
    const cap = this.maxBytes - this.capHeadroom;
    try {
      const excess = this.totalStoredBytes() - cap;
      if (excess <= 0) return;
      this.evict('max_bytes', (freed) => freed >= excess);
    } catch (e) {
      this.logLimited('error', { err: errInfo(e) }, 'eviction for the byte cap failed');
      if (refusalReason(e) === 'disk_full') this.onDiskFull(0);
    }
  }

  /** Evicts units whose oldest reading is older than maxAgeMs (all classes, oldest first). */
  enforceAgeCap(): number {
    const cutoffS = Math.floor((this.now() - this.maxAgeMs) / 1000);
    let total = 0;
    for (let rank = NCLASS - 1; rank >= 0; rank--) {
      const acc = newGap();
      try {
        for (;;) {
          const oldest = this.st.first[rank]!.pluck().get() as number | undefined;
          if (oldest === undefined || oldest >= cutoffS) break;
          const rows = this.st.sel[rank]!.all(0, LEASE_CHUNK) as UnitRow[];
          const victims: UnitRow[] = [];
          let stop = rows.length < LEASE_CHUNK;
          for (const r of rows) {
            if (r.t >= cutoffS) {
              stop = true;
              break;
            }
            if (!this.isLeased(r.id)) victims.push(r);
          }
          if (victims.length === 0) break;
          total += this.evictRows(rank, victims, 'max_age', acc);
          if (stop) break;
        }
      } finally {
        this.gaps.record(rank, 'max_age', acc);
      }
    }
    return total;
  }

  // ---------------------------------------------------------------- disk full

  private ballastPath(): string {
    return join(this.dir, BALLAST_FILE);
  }

  /** Keeps `ballastBytes` allocated in the data folder (written, not sparse). */
  private ensureBallast(): boolean {
    if (this.ballastBytes === 0) return true;
    const p = this.ballastPath();
    try {
      if (existsSync(p) && statSync(p).size === this.ballastBytes) return true;
      const fd = openSync(p, 'w', 0o600);
      try {
        const chunk = Buffer.alloc(Math.min(this.ballastBytes, 1 << 20));
        let left = this.ballastBytes;
        while (left > 0) {
          const n = writeSync(fd, chunk, 0, Math.min(left, chunk.length));
          left -= n;
        }
        fsyncSync(fd);
      } catch (e) {
        try {
          ftruncateSync(fd, 0);
        } catch {
          /* ignore */
        }
        closeSync(fd);
        unlinkSync(p);
        throw e;
      }
      closeSync(fd);
      return true;
    } catch (e) {
      this.logLimited('warn', { err: errInfo(e) }, 'could not allocate the disk-full reserve');
      return false;
    }
  }

  private freeSpace(): number {
    try {
      const s = statfsSync(this.dir);
      return s.bavail * s.bsize;
    } catch {
      return Infinity;
    }
  }

  /**
   * A commit failed for lack of space: give back the reserve, shed the lowest class's
   * oldest units (gap records), shrink the WAL, and refuse waveforms until space returns.
   */
  private onDiskFull(failedReadings: number): void {
    if (!this.shedding) {
      this.shedding = true;
      this.log.error({ failedReadings }, 'disk full: shedding the lowest priority data until space returns');
    }
    try {
      if (existsSync(this.ballastPath())) unlinkSync(this.ballastPath());
    } catch {
      /* ignore */
    }
    try {
      this.db.pragma('wal_checkpoint(TRUNCATE)');
    } catch {
      /* may fail too */
    }
    const stored = this.totalStoredBytes();
    const target = Math.max(256 * 1024, Math.floor(stored * 0.01), failedReadings * 64, this.ballastBytes * 2);
    try {
      this.evict('disk_full', (freed) => freed >= target);
    } catch (e) {
      this.logLimited('error', { err: errInfo(e) }, 'shedding failed; will retry');
    }
    try {
      this.db.pragma('wal_checkpoint(TRUNCATE)');
    } catch {
      /* ignore */
    }
  }

  private checkRecovered(): void {
    if (!this.shedding) return;
    const free = this.freeSpace();
    if (free < this.ballastBytes * 2 + 256 * 1024) return;
    if (!this.ensureBallast()) return;
    this.shedding = false;
    this.log.info({ freeBytes: free }, 'disk space is back: shedding stopped');
  }

  /** True while the buffer is shedding because the disk is full. */
  get isShedding(): boolean {
    return this.shedding;
  }

  // ---------------------------------------------------------------- maintenance

  /** Runs periodic duties (also called by the timer): recovery, age cap, WAL bound, key file changes. */
  maintain(): void {
    if (this.closed) return;
    const t = this.now();
    try {
      this.checkRecovered();
      if (this.ackedUndeleted.size) this.deleteAcked();
      if (t - this.lastAgeCheck >= 10_000) {
        this.lastAgeCheck = t;
        this.enforceAgeCap();
        if (this.totalStoredBytes() > this.maxBytes) this.enforceByteCap();
        this.boundWal();
      }
      if (t - this.lastKeyCheck >= 5_000) {
        this.lastKeyCheck = t;
        const m = statSync(this.keyFile).mtimeMs;
        if (m !== this.keyFileMtime) {
          this.keyFileMtime = m;
          this.reloadKeys();
        }
      }
    } catch (e) {
      this.logLimited('error', { err: errInfo(e) }, 'buffer maintenance failed');
      if (refusalReason(e) === 'disk_full') this.onDiskFull(0);
    }
  }

  /** Checkpoints and truncates the WAL when it has grown past its bound. */
  boundWal(limit = 16 * 1024 * 1024): void {
    let size = 0;
    try {
      size = statSync(`${this.dbPath}-wal`).size;
    } catch {
      return;
    }
    if (size > limit) this.db.pragma('wal_checkpoint(TRUNCATE)');
  }

  /** Applies the age and byte caps now (also done after commits, by the maintenance timer and at open). */
  enforceCaps(): void {
    this.enforceAgeCap();
    if (this.totalStoredBytes() > this.maxBytes) this.enforceByteCap();
  }

  startMaintenance(intervalMs: number): void {
    this.ensureBallast();
    try {
      this.enforceCaps();
    } catch (e) {
      this.log.error({ err: errInfo(e) }, 'applying the caps at open failed');
    }
    this.maintenance = setInterval(() => this.maintain(), intervalMs);
    this.maintenance.unref();
  }

  // ---------------------------------------------------------------- stats

  stats(): BufferStats {
    const perClass = {} as Record<Priority, ClassStats>;
    let total = 0;
    for (let rank = 0; rank < NCLASS; rank++) {
      const c = this.cls[rank]!;
      if (this.oldestDirty[rank]) {
        const t = this.st.first[rank]!.pluck().get() as number | undefined;
        c.oldestGatewayTime = t === undefined ? null : t * 1000;
        this.oldestDirty[rank] = false;
      }
      perClass[PRIORITIES[rank]!] = { ...c };
      total += c.readings;
    }
    return { perClass, totalReadings: total, diskBytes: this.diskBytes(), inFlight: this.inFlight, lastSeq: this.seq.hwm, quarantined: this.quarantined };
  }

  /** Database + WAL size on disk (cached for one second). */
  diskBytes(): number {
    const t = this.now();
    if (t - this.diskCache.at < 1000) return this.diskCache.bytes;
    let b = 0;
    for (const f of [this.dbPath, `${this.dbPath}-wal`]) {
      try {
        b += statSync(f).size;
      } catch {
        /* absent */
      }
    }
    this.diskCache = { at: t, bytes: b };
    return b;
  }

  /** Key ids that seal buffered units (a retired key may be removed only when absent here and from quarantine). */
  keyIdsInUse(): number[] {
    return [...this.keyUse].filter(([, u]) => u.units > 0).map(([id]) => id).sort((a, b) => a - b);
  }

  onCommit(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    // Commit what is pending, and the gateway records (gap records) that commit may cause.
    for (let i = 0; i < 4 && (this.pending.length || this.internal.length); i++) this.commitNow();
    if (this.internal.length) this.log.error({ records: this.internal.length }, 'gateway records (gap records) could not be committed before close');
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.immediate) clearImmediate(this.immediate);
    if (this.maintenance) clearInterval(this.maintenance);
    for (const p of this.pending) {
      this.refuseCount('closed', p.readings.length);
      p.reject(new BufferRefused('closed', 'the buffer closed before this commit'));
    }
    this.pending = [];
    try {
      this.db.pragma('wal_checkpoint(TRUNCATE)');
    } catch {
      /* best effort */
    }
    this.db.close();
    this.unlock();
  }
}

// -------------------------------------------------------------------- open

/** Moves a database that fails its integrity check aside (never deletes it). Returns the new name. */
function moveAside(dbPath: string, stamp: number): string {
  const target = `${dbPath}.corrupt-${stamp}`;
  for (const suffix of ['', '-wal', '-shm']) {
    if (existsSync(dbPath + suffix)) renameSync(dbPath + suffix, target + suffix);
  }
  return target;
}

/** Best effort: the high-water mark of a damaged database. */
function salvageHwm(path: string): number {
  try {
    const db = new Database(path, { readonly: true, fileMustExist: true });
    try {
      return (readMeta(db, metaKey.hwm) as number | undefined) ?? 0;
    } finally {
      db.close();
    }
  } catch {
    return 0;
  }
}

export async function openSqliteBuffer(opts: OpenBufferOptions): Promise<SqliteBuffer> {
  mkdirSync(opts.dir, { recursive: true, mode: 0o700 });
  const keys = loadKeyRing(opts.keyFile, opts.keyProtection);
  const unlock = lockDataDir(opts.dir);
  try {
    return await openLocked(opts, keys, unlock);
  } catch (e) {
    unlock();
    throw e;
  }
}

async function openLocked(opts: OpenBufferOptions, keys: KeyRing, unlock: () => void): Promise<SqliteBuffer> {
  const dbPath = join(opts.dir, DB_FILE);
  const now = opts.now ?? Date.now;
  const sync = opts.synchronous ?? 'full';
  let movedAside: { to: string; why: string } | undefined;
  let seqFloor = readSeqFile(opts.dir);
  let db: Database.Database | undefined;
  if (existsSync(dbPath)) {
    let why: string | undefined;
    try {
      db = new Database(dbPath);
      applyPragmas(db, sync);
      const msgs = (db.pragma('quick_check', { simple: false }) as { quick_check: string }[]).map((r) => r.quick_check);
      if (!(msgs.length === 1 && msgs[0] === 'ok')) why = `quick_check: ${msgs.slice(0, 3).join('; ')}`;
    } catch (e) {
      why = `${sqliteErrorCode(e) ?? 'error'}: ${(e as Error).message}`;
    }
    if (why !== undefined) {
      try {
        db?.close();
      } catch {
        /* ignore */
      }
      db = undefined;
      const to = moveAside(dbPath, now());
      seqFloor = Math.max(seqFloor, salvageHwm(to));
      movedAside = { to, why };
      opts.log.error({ movedTo: to, reason: why }, 'buffer database failed its integrity check; moved aside (kept) and starting a fresh buffer');
    }
  }
  if (!db) {
    db = new Database(dbPath);
    // Only the service user reads the buffer (its -wal and -shm inherit this mode).
    chmodSync(dbPath, 0o600);
    applyPragmas(db, sync);
  }
  try {
    initSchema(db, opts.pageSize ?? 1024);
    const buf = new SqliteBuffer(db, dbPath, keys, opts, seqFloor, unlock);
    if (movedAside) {
      opts.events.emit('unit_quarantined', { reason: 'database_corrupt' }, 1, { movedTo: basename(movedAside.to) });
      buf.append([corruptionAlarm(opts.gatewayId, now(), basename(movedAside.to), movedAside.why, seqFloor)]).catch(() => undefined);
      await buf.flush().catch(() => undefined);
    }
    buf.startMaintenance(opts.maintenanceIntervalMs ?? 1000);
    return buf;
  } catch (e) {
    db.close();
    throw e;
  }
}
