/**
 * The SQLite store-and-forward buffer. See ./index.ts for the durability contract,
 * storage layout and what is stored in clear.
 */
import Database from 'better-sqlite3';
import { mkdirSync, renameSync, statSync, existsSync } from 'node:fs';
import { basename, join } from 'node:path';
import { deflateRawSync, inflateRawSync, constants as zc } from 'node:zlib';
import { PRIORITIES, type PendingReading, type Priority, type Reading } from '../reading.js';
import type { Events } from '../metrics/events.js';
import type { Logger } from '../logger.js';
import { BufferRefused, type BufferStats, type ClassStats, type Lease, type LeaseLimits, type ReadingBuffer } from './types.js';
import { AuthenticationFailed, cipherByIndex, cipherIndex, open as aeadOpen, seal, SEAL_LIMIT_PER_KEY, SEAL_OVERHEAD, SEAL_WARN_PER_KEY, type CipherName } from '../crypto/aead.js';
import { loadKeyRing, type KeyRing } from '../crypto/keys.js';
import { CodecError, decodeUnit, encodeUnit, validateForEncoding } from './codec.js';

export const DB_FILE = 'buffer.db';
const SCHEMA_VERSION = 1;
const NCLASS = PRIORITIES.length;
/** Unit header byte: bit0 deflated, bits1-2 cipher, bits4-7 format version. In the AAD. */
const FORMAT_VERSION = 1;
const F_DEFLATE = 1;
const AAD_LABEL = Buffer.from('wardgate/unit/v1\0', 'utf8');

export interface OpenBufferOptions {
  dir: string;
  keyFile: string;
  gatewayId: string;
  cipher?: CipherName;
  /** Group commit interval (default 25 ms). */
  commitIntervalMs?: number;
  /** Commit as soon as this many readings are pending (default 4096). */
  commitMaxReadings?: number;
  /** 'full' (default): fsync on every commit. 'normal': WAL synced at checkpoints only. */
  synchronous?: 'normal' | 'full';
  /** Cap on stored bytes (default 2 GiB). */
  maxBytes?: number;
  /** Cap on age of buffered readings (default 7 days). */
  maxAgeMs?: number;
  /** At most this many readings per sealed unit (default 1024). */
  unitMaxReadings?: number;
  /** Deflate units before sealing when that makes them smaller (default true). */
  compress?: boolean;
  events: Events;
  log: Logger;
  now?: () => number;
}

interface PendingAppend {
  readings: readonly PendingReading[];
  resolve: () => void;
  reject: (e: Error) => void;
}

interface UnitRow {
  id: number;
  last_seq: number;
  n: number;
  gw: number;
  key_id: number;
  t: number;
  body: Buffer;
}

interface LeasedUnit {
  id: number;
  n: number;
  bytes: number;
  keyId: number;
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

interface NewUnit {
  id: number;
  rank: number;
  last: number;
  n: number;
  keyId: number;
  t: number;
  tEnd: number;
  body: Buffer;
}

const emptyClass = (): ClassStats => ({ readings: 0, units: 0, bytes: 0, oldestGatewayTime: null });

export function sqliteErrorCode(e: unknown): string | undefined {
  const c = (e as { code?: unknown } | null)?.code;
  return typeof c === 'string' ? c : undefined;
}

function refusalReason(e: unknown): 'disk_full' | 'io_error' {
  const c = sqliteErrorCode(e);
  if (c && (c.startsWith('SQLITE_FULL') || c === 'ENOSPC')) return 'disk_full';
  return 'io_error';
}

export function unitAad(gatewayId: Buffer, rank: number, first: number, last: number, n: number, keyId: number, format: number): Buffer {
  const a = Buffer.allocUnsafe(AAD_LABEL.length + 2 + gatewayId.length + 1 + 8 + 8 + 4 + 4 + 1);
  let p = AAD_LABEL.copy(a, 0);
  a.writeUInt16BE(gatewayId.length, p);
  p += 2;
  p += gatewayId.copy(a, p);
  a[p++] = rank;
  a.writeBigUInt64BE(BigInt(first), p);
  p += 8;
  a.writeBigUInt64BE(BigInt(last), p);
  p += 8;
  a.writeUInt32BE(n, p);
  p += 4;
  a.writeUInt32BE(keyId, p);
  p += 4;
  a[p++] = format;
  return a;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v ANY) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS gateways (gw INTEGER PRIMARY KEY, gateway_id TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS keys (key_id INTEGER PRIMARY KEY, fingerprint TEXT NOT NULL, seals INTEGER NOT NULL DEFAULT 0, units INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS class_stats (cls INTEGER PRIMARY KEY, readings INTEGER NOT NULL, units INTEGER NOT NULL, bytes INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS units (
  id INTEGER PRIMARY KEY,        -- first sequence number of the unit
  cls INTEGER NOT NULL,          -- priority rank (0 = alarm)
  last_seq INTEGER NOT NULL,
  n INTEGER NOT NULL,            -- readings in the unit (= last_seq - id + 1)
  gw INTEGER NOT NULL,           -- gateways.gw
  key_id INTEGER NOT NULL,
  t INTEGER NOT NULL,            -- oldest gateway time in the unit, whole seconds
  t_end INTEGER NOT NULL,        -- newest gateway time in the unit, whole seconds
  body BLOB NOT NULL             -- format byte | nonce | AEAD(ciphertext) | tag
);
CREATE INDEX IF NOT EXISTS units_by_class ON units(cls);
CREATE TABLE IF NOT EXISTS quarantine (
  qid INTEGER PRIMARY KEY AUTOINCREMENT,
  id INTEGER NOT NULL, cls INTEGER NOT NULL, last_seq INTEGER NOT NULL, n INTEGER NOT NULL,
  gw INTEGER NOT NULL, key_id INTEGER NOT NULL, t INTEGER NOT NULL, t_end INTEGER NOT NULL,
  body BLOB NOT NULL, reason TEXT NOT NULL, at INTEGER NOT NULL
);
`;

export class SqliteBuffer implements ReadingBuffer {
  readonly gatewayId: string;
  readonly dbPath: string;
  private readonly db: Database.Database;
  private readonly keys: KeyRing;
  private readonly cipher: CipherName;
  private readonly events: Events;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly commitIntervalMs: number;
  private readonly commitMaxReadings: number;
  private readonly unitMaxReadings: number;
  private readonly compress: boolean;
  readonly maxBytes: number;
  readonly maxAgeMs: number;

  private pending: PendingAppend[] = [];
  private pendingCount = 0;
  private timer: NodeJS.Timeout | undefined;
  private immediate: NodeJS.Immediate | undefined;
  private closed = false;
  private readonly listeners = new Set<() => void>();

  private hwm = 0;
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
  private inFlight = 0;
  private readonly cursor: number[] = new Array<number>(NCLASS).fill(0);
  private diskCache = { at: -Infinity, bytes: 0 };

  private readonly st: {
    insUnit: Database.Statement;
    setMeta: Database.Statement;
    updClass: Database.Statement;
    updKey: Database.Statement;
    selLeasable: Database.Statement;
    delUnit: Database.Statement;
    toQuarantine: Database.Statement;
    oldest: Database.Statement;
  };

  /** Use openBuffer(). */
  constructor(db: Database.Database, dbPath: string, keys: KeyRing, opts: OpenBufferOptions) {
    this.db = db;
    this.dbPath = dbPath;
    this.keys = keys;
    this.gatewayId = opts.gatewayId;
    this.cipher = opts.cipher ?? 'aes-256-gcm';
    this.events = opts.events;
    this.log = opts.log;
    this.now = opts.now ?? Date.now;
    this.commitIntervalMs = Math.max(0, opts.commitIntervalMs ?? 25);
    this.commitMaxReadings = Math.max(1, opts.commitMaxReadings ?? 4096);
    this.unitMaxReadings = Math.max(1, Math.min(opts.unitMaxReadings ?? 1024, 65_535));
    this.compress = opts.compress ?? true;
    this.maxBytes = opts.maxBytes ?? 2 * 1024 ** 3;
    this.maxAgeMs = opts.maxAgeMs ?? 7 * 86_400_000;

    this.st = {
      insUnit: db.prepare('INSERT INTO units (id, cls, last_seq, n, gw, key_id, t, t_end, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)'),
      setMeta: db.prepare('INSERT INTO meta (k, v) VALUES (?, ?) ON CONFLICT(k) DO UPDATE SET v = excluded.v'),
      updClass: db.prepare('UPDATE class_stats SET readings = ?, units = ?, bytes = ? WHERE cls = ?'),
      updKey: db.prepare(
        'INSERT INTO keys (key_id, fingerprint, seals, units) VALUES (?, ?, ?, ?) ON CONFLICT(key_id) DO UPDATE SET seals = excluded.seals, units = excluded.units',
      ),
      selLeasable: db.prepare('SELECT id, last_seq, n, gw, key_id, t, body FROM units WHERE cls = ? AND id >= ? ORDER BY id LIMIT ?'),
      delUnit: db.prepare('DELETE FROM units WHERE id = ? RETURNING cls, n, key_id, length(body) AS bytes'),
      toQuarantine: db.prepare(
        'INSERT INTO quarantine (id, cls, last_seq, n, gw, key_id, t, t_end, body, reason, at) SELECT id, cls, last_seq, n, gw, key_id, t, t_end, body, ?, ? FROM units WHERE id = ?',
      ),
      oldest: db.prepare('SELECT t FROM units WHERE cls = ? ORDER BY id LIMIT 1'),
    };
    this.loadState();
  }

  private loadState(): void {
    const db = this.db;
    const hwm = db.prepare("SELECT v FROM meta WHERE k = 'hwm'").pluck().get() as number | undefined;
    this.hwm = hwm ?? 0;
    for (const row of db.prepare('SELECT cls, readings, units, bytes FROM class_stats').all() as { cls: number; readings: number; units: number; bytes: number }[]) {
      const c = this.cls[row.cls];
      if (c) {
        c.readings = row.readings;
        c.units = row.units;
        c.bytes = row.bytes;
      }
    }
    for (const row of db.prepare('SELECT key_id, fingerprint, seals, units FROM keys').all() as { key_id: number; fingerprint: string; seals: number; units: number }[]) {
      this.keyUse.set(row.key_id, { fingerprint: row.fingerprint, seals: row.seals, units: row.units });
    }
    db.prepare('INSERT OR IGNORE INTO gateways (gateway_id) VALUES (?)').run(this.gatewayId);
    for (const row of db.prepare('SELECT gw, gateway_id FROM gateways').all() as { gw: number; gateway_id: string }[]) {
      this.gwIds.set(row.gw, row.gateway_id);
      this.gwBytes.set(row.gw, Buffer.from(row.gateway_id, 'utf8'));
      if (row.gateway_id === this.gatewayId) this.gwSelf = row.gw;
    }
    this.quarantined = (db.prepare('SELECT count(*) FROM quarantine').pluck().get() as number) ?? 0;
    // Keys: a key id the database knows must have the same fingerprint in the key file.
    for (const [id, use] of this.keyUse) {
      const fp = this.keys.fingerprint(id);
      if (fp !== undefined && fp !== use.fingerprint) {
        throw new BufferRefused(
          'io_error',
          `key ${id} in ${this.keys.path} is not the key this buffer was sealed with (fingerprint mismatch); refusing to open ${this.dbPath} with the wrong key file`,
        );
      }
      if (fp === undefined && use.units > 0) {
        this.log.error({ keyId: id, units: use.units }, 'buffered units are sealed with a key that is missing from the key file; they will be quarantined when reached');
      }
    }
    const active = this.keys.activeKeyId;
    if (!this.keyUse.has(active)) {
      const use = { fingerprint: this.keys.fingerprint(active)!, seals: 0, units: 0 };
      this.st.updKey.run(active, use.fingerprint, 0, 0);
      this.keyUse.set(active, use);
    }
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
    if (readings.length === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ readings, resolve, reject });
      this.pendingCount += readings.length;
      this.schedule();
    });
  }

  flush(): Promise<void> {
    if (this.pending.length === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ readings: [], resolve, reject });
      this.commitNow();
    });
  }

  private schedule(): void {
    if (this.pendingCount >= this.commitMaxReadings) {
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
    this.pending = [];
    this.pendingCount = 0;
    if (batch.length === 0) return;
    try {
      this.writeCommit(batch, count);
    } catch (e) {
      const reason = refusalReason(e);
      this.refuseCount(reason, count);
      this.log.error({ err: { code: sqliteErrorCode(e), message: (e as Error).message }, readings: undefined, count }, 'buffer commit failed; readings refused');
      const err = new BufferRefused(reason, `buffer commit failed: ${(e as Error).message}`);
      for (const p of batch) p.reject(err);
      return;
    }
    for (const p of batch) p.resolve();
    for (const l of this.listeners) {
      try {
        l();
      } catch (e) {
        this.log.error({ err: e }, 'onCommit listener threw');
      }
    }
  }

  /** Encodes, seals and writes one group commit in one transaction. Throws on failure; memory state changes only on success. */
  private writeCommit(batch: PendingAppend[], count: number): void {
    if (count === 0) return;
    const byClass: PendingReading[][] = Array.from({ length: NCLASS }, () => []);
    for (const p of batch) for (const r of p.readings) byClass[PRIORITIES.indexOf(r.priority)]!.push(r);
    const keyId = this.keys.activeKeyId;
    const key = this.keys.get(keyId)!;
    const use = this.keyUse.get(keyId)!;
    const units: NewUnit[] = [];
    let seq = this.hwm;
    const cipherBits = cipherIndex(this.cipher) << 1;
    for (let rank = 0; rank < NCLASS; rank++) {
      const rs = byClass[rank]!;
      for (let off = 0; off < rs.length; off += this.unitMaxReadings) {
        const chunk = rs.slice(off, off + this.unitMaxReadings);
        const first = seq + 1;
        const last = seq + chunk.length;
        seq = last;
        let plain = encodeUnit(chunk);
        let format = (FORMAT_VERSION << 4) | cipherBits;
        if (this.compress && plain.length > 64) {
          const z = deflateRawSync(plain, { level: 6, strategy: zc.Z_DEFAULT_STRATEGY });
          if (z.length < plain.length) {
            plain = z;
            format |= F_DEFLATE;
          }
        }
        const aad = unitAad(this.gwBytes.get(this.gwSelf)!, rank, first, last, chunk.length, keyId, format);
        const body = seal(this.cipher, key, plain, aad, Buffer.of(format));
        let tMin = Infinity;
        let tMax = -Infinity;
        for (const r of chunk) {
          if (r.gatewayTime < tMin) tMin = r.gatewayTime;
          if (r.gatewayTime > tMax) tMax = r.gatewayTime;
        }
        units.push({ id: first, rank, last, n: chunk.length, keyId, t: Math.floor(tMin / 1000), tEnd: Math.floor(tMax / 1000), body });
      }
    }
    if (use.seals + units.length > SEAL_LIMIT_PER_KEY) {
      throw new Error(`key ${keyId} reached its seal limit (${SEAL_LIMIT_PER_KEY}); rotate the key (wardgate keygen --rotate)`);
    }
    const delta = Array.from({ length: NCLASS }, () => ({ readings: 0, units: 0, bytes: 0 }));
    for (const u of units) {
      const d = delta[u.rank]!;
      d.readings += u.n;
      d.units += 1;
      d.bytes += u.body.length;
    }
    const fp = use.fingerprint;
    this.db.transaction(() => {
      for (const u of units) this.st.insUnit.run(u.id, u.rank, u.last, u.n, this.gwSelf, u.keyId, u.t, u.tEnd, u.body);
      this.st.setMeta.run('hwm', seq);
      for (let rank = 0; rank < NCLASS; rank++) {
        const d = delta[rank]!;
        if (d.units === 0) continue;
        const c = this.cls[rank]!;
        this.st.updClass.run(c.readings + d.readings, c.units + d.units, c.bytes + d.bytes, rank);
      }
      this.st.updKey.run(keyId, fp, use.seals + units.length, use.units + units.length);
    })();
    // Committed: now the in-memory state follows.
    const warnBefore = use.seals < SEAL_WARN_PER_KEY;
    this.hwm = seq;
    use.seals += units.length;
    use.units += units.length;
    if (warnBefore && use.seals >= SEAL_WARN_PER_KEY) this.log.warn({ keyId, seals: use.seals }, 'key has sealed more than 2^31 units; rotate it (wardgate keygen --rotate)');
    for (let rank = 0; rank < NCLASS; rank++) {
      const d = delta[rank]!;
      if (d.units === 0) continue;
      const c = this.cls[rank]!;
      if (c.units === 0) this.oldestDirty[rank] = true;
      c.readings += d.readings;
      c.units += d.units;
      c.bytes += d.bytes;
    }
  }

  // ---------------------------------------------------------------- lease / ack / release

  lease(limits: LeaseLimits): Lease | null {
    if (this.closed) return null;
    // The class counters are exact unless the file was edited behind our back, so the
    // decision is taken on the rows themselves (one index seek per empty class).
    for (let rank = 0; rank < NCLASS; rank++) {
      const l = this.leaseClass(rank, limits);
      if (l) return l;
    }
    return null;
  }

  private leaseClass(rank: number, limits: LeaseLimits): Lease | null {
    const taken: LeasedUnit[] = [];
    const readings: Reading[] = [];
    const bad: { id: number; reason: string }[] = [];
    let bytes = 0;
    let from = this.cursor[rank]!;
    let leadingLeased = true;
    let done = false;
    const chunk = 64;
    while (!done) {
      const rows = this.st.selLeasable.all(rank, from, chunk) as UnitRow[];
      if (rows.length === 0) break;
      for (const row of rows) {
        from = row.id + 1;
        if (this.leasedUnits.has(row.id)) {
          if (leadingLeased) this.cursor[rank] = row.id + 1;
          continue;
        }
        leadingLeased = false;
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
        taken.push({ id: row.id, n: row.n, bytes: size, keyId: row.key_id });
        for (const r of decoded) readings.push(r);
        bytes += size;
        if (readings.length >= limits.maxReadings || bytes >= limits.maxBytes) {
          done = true;
          break;
        }
      }
      if (rows.length < chunk) break;
    }
    if (bad.length) this.quarantine(bad);
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
    if (this.st.oldest.pluck().get(rank) !== undefined) return;
    try {
      this.st.updClass.run(0, 0, 0, rank);
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
    const key = this.keys.get(row.key_id);
    if (!key) throw new Error('unknown key');
    const gwb = this.gwBytes.get(row.gw);
    const gatewayId = this.gwIds.get(row.gw);
    if (!gwb || gatewayId === undefined) throw new AuthenticationFailed('unknown gateway');
    const body = row.body;
    if (body.length < 1 + SEAL_OVERHEAD) throw new AuthenticationFailed('unit too short');
    const format = body[0]!;
    const cipher = cipherByIndex((format >> 1) & 3);
    if (!cipher || format >> 4 !== FORMAT_VERSION) throw new AuthenticationFailed('unknown unit format');
    const aad = unitAad(gwb, rank, row.id, row.last_seq, row.n, row.key_id, format);
    let plain = aeadOpen(cipher, key, body.subarray(1), aad);
    if (format & F_DEFLATE) {
      try {
        plain = inflateRawSync(plain);
      } catch {
        throw new CodecError('inflate failed');
      }
    }
    if (row.last_seq - row.id + 1 !== row.n) throw new CodecError('sequence range does not match count');
    return decodeUnit(plain, { gatewayId, priority: PRIORITIES[rank]!, firstSeq: row.id }, row.n);
  }

  /** Moves units that failed authentication or decoding to the quarantine table. */
  private quarantine(bad: { id: number; reason: string }[]): void {
    const at = this.now();
    const removed: { reason: string; cls: number; n: number; key_id: number; bytes: number }[] = [];
    try {
      this.db.transaction(() => {
        for (const b of bad) {
          this.st.toQuarantine.run(b.reason, at, b.id);
          const r = this.st.delUnit.get(b.id) as { cls: number; n: number; key_id: number; bytes: number } | undefined;
          if (r) removed.push({ reason: b.reason, ...r });
        }
        this.applyRemovalToDb(removed);
      })();
    } catch (e) {
      // Could not move them (disk full?): keep them out of leases for this process.
      this.log.error({ err: { code: sqliteErrorCode(e), message: (e as Error).message } }, 'could not quarantine units; skipping them until restart');
      for (const b of bad) this.leasedUnits.add(b.id);
      for (const b of bad) this.events.emit('unit_quarantined', { reason: b.reason }, 1);
      return;
    }
    this.applyRemovalToMemory(removed);
    this.quarantined += removed.length;
    for (const r of removed) this.events.emit('unit_quarantined', { reason: r.reason }, 1, { class: PRIORITIES[r.cls], readings: r.n, keyId: r.key_id });
  }

  private applyRemovalToDb(removed: readonly { cls: number; n: number; key_id: number; bytes: number }[]): void {
    const cls = this.cls.map((c) => ({ readings: c.readings, units: c.units, bytes: c.bytes }));
    const keys = new Map<number, number>();
    for (const r of removed) {
      const c = cls[r.cls];
      if (!c) continue;
      c.readings = Math.max(0, c.readings - r.n);
      c.units = Math.max(0, c.units - 1);
      c.bytes = Math.max(0, c.bytes - r.bytes);
      keys.set(r.key_id, (keys.get(r.key_id) ?? 0) + 1);
    }
    const touched = new Set(removed.map((r) => r.cls));
    for (const rank of touched) {
      const c = cls[rank]!;
      this.st.updClass.run(c.readings, c.units, c.bytes, rank);
    }
    for (const [keyId, k] of keys) {
      const use = this.keyUse.get(keyId);
      if (use) this.st.updKey.run(keyId, use.fingerprint, use.seals, Math.max(0, use.units - k));
    }
  }

  private applyRemovalToMemory(removed: readonly { cls: number; n: number; key_id: number; bytes: number }[]): void {
    for (const r of removed) {
      const c = this.cls[r.cls];
      if (!c) continue;
      c.readings = Math.max(0, c.readings - r.n);
      c.units = Math.max(0, c.units - 1);
      c.bytes = Math.max(0, c.bytes - r.bytes);
      this.oldestDirty[r.cls] = true;
      const use = this.keyUse.get(r.key_id);
      if (use) use.units = Math.max(0, use.units - 1);
    }
  }

  ack(leaseId: number): void {
    const l = this.leases.get(leaseId);
    if (!l) {
      this.log.warn({ leaseId }, 'ack of an unknown lease ignored');
      return;
    }
    const removed: { cls: number; n: number; key_id: number; bytes: number }[] = [];
    try {
      this.db.transaction(() => {
        for (const u of l.units) {
          const r = this.st.delUnit.get(u.id) as { cls: number; n: number; key_id: number; bytes: number } | undefined;
          if (r) removed.push(r);
        }
        this.applyRemovalToDb(removed);
      })();
    } catch (e) {
      // The units were delivered; they stay marked as leased so they are not sent again
      // by this process. After a restart they would be re-sent (consumers dedupe on gatewayId+seq).
      this.log.error({ err: { code: sqliteErrorCode(e), message: (e as Error).message }, leaseId }, 'could not delete acknowledged units');
      this.leases.delete(leaseId);
      this.inFlight -= l.readings;
      return;
    }
    this.applyRemovalToMemory(removed);
    for (const u of l.units) this.leasedUnits.delete(u.id);
    this.leases.delete(leaseId);
    this.inFlight -= l.readings;
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

  // ---------------------------------------------------------------- stats

  stats(): BufferStats {
    const perClass = {} as Record<Priority, ClassStats>;
    let total = 0;
    for (let rank = 0; rank < NCLASS; rank++) {
      const c = this.cls[rank]!;
      if (this.oldestDirty[rank]) {
        if (c.units === 0) c.oldestGatewayTime = null;
        else {
          const t = this.st.oldest.pluck().get(rank) as number | undefined;
          c.oldestGatewayTime = t === undefined ? null : t * 1000;
        }
        this.oldestDirty[rank] = false;
      }
      perClass[PRIORITIES[rank]!] = { ...c };
      total += c.readings;
    }
    return { perClass, totalReadings: total, diskBytes: this.diskBytes(), inFlight: this.inFlight, lastSeq: this.hwm, quarantined: this.quarantined };
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

  /** Key ids that seal buffered units (in use: a retired key may only be removed when absent here). */
  keyIdsInUse(): number[] {
    return [...this.keyUse].filter(([, u]) => u.units > 0).map(([id]) => id).sort((a, b) => a - b);
  }

  onCommit(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    if (this.pending.length) this.commitNow();
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.immediate) clearImmediate(this.immediate);
    try {
      this.db.pragma('wal_checkpoint(TRUNCATE)');
    } catch {
      /* best effort */
    }
    this.db.close();
  }
}

// -------------------------------------------------------------------- open

function applyPragmas(db: Database.Database, synchronous: 'normal' | 'full'): void {
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
  db.pragma('journal_size_limit = 16777216');
  db.pragma('wal_autocheckpoint = 1000');
  db.pragma('busy_timeout = 5000');
}

function initSchema(db: Database.Database): void {
  db.exec(SCHEMA);
  const v = db.prepare("SELECT v FROM meta WHERE k = 'schema_version'").pluck().get() as number | undefined;
  if (v === undefined) {
    db.transaction(() => {
      db.prepare("INSERT INTO meta (k, v) VALUES ('schema_version', ?)").run(SCHEMA_VERSION);
      const ins = db.prepare('INSERT OR IGNORE INTO class_stats (cls, readings, units, bytes) VALUES (?, 0, 0, 0)');
      for (let rank = 0; rank < NCLASS; rank++) ins.run(rank);
    })();
  } else if (v !== SCHEMA_VERSION) {
    throw new Error(`buffer schema version ${v} is not supported (expected ${SCHEMA_VERSION})`);
  }
}

/** Moves a database that fails its integrity check aside (never deletes it). Returns the new name. */
function moveAside(dbPath: string, stamp: number): string {
  const target = `${dbPath}.corrupt-${stamp}`;
  for (const suffix of ['', '-wal', '-shm']) {
    if (existsSync(dbPath + suffix)) renameSync(dbPath + suffix, target + suffix);
  }
  return target;
}

export async function openSqliteBuffer(opts: OpenBufferOptions): Promise<SqliteBuffer> {
  mkdirSync(opts.dir, { recursive: true, mode: 0o700 });
  const keys = loadKeyRing(opts.keyFile);
  const dbPath = join(opts.dir, DB_FILE);
  const now = opts.now ?? Date.now;
  let movedAside: { to: string; why: string } | undefined;
  let db: Database.Database | undefined;
  if (existsSync(dbPath)) {
    let why: string | undefined;
    try {
      db = new Database(dbPath);
      applyPragmas(db, opts.synchronous ?? 'full');
      const res = db.pragma('quick_check', { simple: false }) as { quick_check: string }[];
      const msgs = res.map((r) => r.quick_check);
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
      movedAside = { to, why };
      opts.log.error({ movedTo: to, reason: why }, 'buffer database failed its integrity check; moved aside and starting a fresh buffer');
    }
  }
  if (!db) {
    db = new Database(dbPath);
    applyPragmas(db, opts.synchronous ?? 'full');
  }
  try {
    initSchema(db);
    const buf = new SqliteBuffer(db, dbPath, keys, opts);
    if (movedAside) {
      const t = now();
      buf
        .append([
          {
            deviceId: opts.gatewayId,
            deviceKind: 'gateway',
            bed: 'gateway',
            metric: 'gateway_event',
            value: 1,
            unit: '1',
            gatewayTime: t,
            priority: 'alarm',
            quality: [],
            extra: { event: 'buffer_corrupt', movedTo: basename(movedAside.to), reason: movedAside.why.slice(0, 200) },
          },
        ])
        .catch(() => undefined);
      await buf.flush().catch(() => undefined);
    }
    return buf;
  } catch (e) {
    db.close();
    throw e;
  }
}
