/**
 * The SQLite store-and-forward buffer. See ./index.ts for the durability contract,
 * storage layout, caps, disk-full behaviour and what is stored in clear.
 *
 * SqliteBuffer is a facade: it composes these parts and implements ReadingBuffer.
 *   schema.ts           tables, pragmas, meta table keys and counters
 *   seq.ts              high-water mark and buffer.seq reservation
 *   seal.ts             a unit's sealed body and its associated data
 *   key-ledger.ts       key ring, fingerprints, per-key counts, rotation
 *   store.ts            unit rows with their counters, floors, replace-by-rest
 *   commit.ts           group commit (append, flush, gateway-made readings)
 *   lease.ts            lease / ack / release
 *   eviction.ts         byte and age caps
 *   gateway-records.ts  gap records, corruption alarm
 *   shedding.ts         disk full, reserve file
 *   integrity.ts        quick_check and move aside at open, quarantine
 *   salvage.ts          what still authenticates in a damaged database, back with its seqs
 *   maintenance.ts      periodic duties, WAL bound, disk size
 */

import { chmodSync, mkdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import Database from 'better-sqlite3';
import type { CipherName } from '../crypto/aead.js';
import { type KeyProtection, type KeyRing, loadKeyRing } from '../crypto/keys.js';
import type { Logger } from '../logger.js';
import type { Events } from '../metrics/events.js';
import { type PendingReading, PRIORITY_CLASSES, type PriorityClass } from '../reading.js';
import { BackgroundCheck, markCheckFailed } from './background-check.js';
import { GroupCommit } from './commit.js';
import { errInfo, eventReporter, isCorruption, type LogLimited, sqliteErrorCode } from './diagnostics.js';
import { Eviction, parseShifts } from './eviction.js';
import { corruptionAlarm, GapRecords, newGap } from './gateway-records.js';
import { type IntegrityCheck, type MovedAside, openChecked, Quarantine } from './integrity.js';
import { KeyLedger } from './key-ledger.js';
import { Leases } from './lease.js';
import { lockDataDir } from './lock.js';
import { Maintenance, tryCheckpoint } from './maintenance.js';
import { type CommitMaxDelays, commitDelays, commitFillReadings, WAITING_COMMIT_DELAY_MS, WAITING_TURNAROUND_MS } from './pacing.js';
import { type SalvageReport, salvageInto } from './salvage.js';
import { applyPragmas, DB_FILE, initSchema, Meta, metaKey, NCLASS } from './schema.js';
import { readSeqFile, Sequence } from './seq.js';
import { DEFAULT_BALLAST_BYTES, releaseBallastIfShort, Shedding } from './shedding.js';
import { UnitStore } from './store.js';
import type { BufferStats, ClassStats, Lease, LeaseLimits, ReadingBuffer } from './types.js';
import { type SyncFs, WalSync } from './wal-sync.js';

export interface OpenBufferOptions {
  dir: string;
  keyFile: string;
  /** Passphrase / secret file for a protected key file (else env WARDGATE_KEY_PASSPHRASE / WARDGATE_KEY_SECRET_FILE). */
  keyProtection?: KeyProtection;
  gatewayId: string;
  cipher?: CipherName;
  /** Group commit interval: when set, the delay of each class not in commitMaxDelayMs (unset by default). */
  commitIntervalMs?: number;
  /**
   * The longest a reading of each class waits for its commit (defaults: vital 500, status 500, waveform 1000 ms; alarms: alarmCommitIntervalMs); see
   * ./pacing.ts.
   */
  commitMaxDelayMs?: CommitMaxDelays;
  /** Commit as soon as this many readings are pending (default 4096). */
  commitMaxReadings?: number;
  /** Commit as soon as this many readings are pending, before any class delay runs out (pages filled; 0: off). */
  commitFillReadings?: number;
  /** The longest an alarm waits for its commit (default 0: the next event-loop turn, with what is pending). */
  alarmCommitIntervalMs?: number;
  /** 'full' (default): the WAL is fsynced after every commit (on the thread pool) before its appends resolve. 'normal': WAL synced at checkpoints only. */
  synchronous?: 'normal' | 'full';
  /** The file operations of the WAL fsync rounds (default node:fs; tests hold rounds back). */
  walSyncFs?: SyncFs;
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
  /** The caller gave the reserve back at this start (releaseBallastIfShort, before writing to the folder): open shedding. */
  reserveGivenBack?: boolean;
  /**
   * When the byte cap is exceeded, evict down to maxBytes minus this much, so the gap
   * records that follow fit (default min(5% of maxBytes, 1 MiB)).
   */
  capHeadroomBytes?: number;
  /** Maintenance period: age cap, WAL bound, disk-full recovery, key file reload (default 1000 ms). */
  maintenanceIntervalMs?: number;
  /**
   * When quick_check reads the whole file: 'at-open' (before the buffer opens; the default here, while the gateway's configuration defaults to
   * 'background') or 'background' (a worker thread after it opens; a failure stops leasing and the next start checks before opening; see
   * ./background-check.ts).
   */
  integrityCheck?: IntegrityCheck;
  /** SQLite page size for a new database (default 1024: fewer bytes written per small commit). */
  pageSize?: number;
  events: Events;
  log: Logger;
  now?: () => number;
  /** The monotonic clock wall-clock steps are measured against (default performance.now). */
  monotonic?: () => number;
}

export class SqliteBuffer implements ReadingBuffer {
  readonly gatewayId: string;
  readonly dir: string;
  readonly dbPath: string;
  readonly maxBytes: number;
  readonly maxAgeMs: number;
  private readonly db: Database.Database;
  /** The key file, read again at each reload. */
  private keyFile: string;
  private readonly seq: Sequence;
  private readonly keys: KeyLedger;
  private readonly store: UnitStore;
  private readonly commit: GroupCommit;
  private readonly quarantine: Quarantine;
  private readonly leases: Leases;
  private readonly eviction: Eviction;
  private readonly shedding: Shedding;
  private readonly maintenance: Maintenance;
  private readonly gaps: GapRecords;
  private readonly events: Events;
  private readonly report: LogLimited;
  /** Set when the database turned out damaged while running. */
  private damage: string | null = null;
  private readonly damagedListeners = new Set<(reason: string) => void>();

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
    this.gatewayId = opts.gatewayId;
    this.keyFile = opts.keyFile;
    this.maxBytes = opts.maxBytes ?? 2 * 1024 ** 3;
    this.maxAgeMs = opts.maxAgeMs ?? 7 * 86_400_000;
    const { events, log } = opts;
    const now = opts.now ?? Date.now;
    const logLimited = eventReporter(events);
    this.report = logLimited;
    const synchronous = opts.synchronous ?? 'full';
    const onDiskFull = (failedReadings: number) => this.shedding.onDiskFull(failedReadings);

    const meta = new Meta(db);
    this.keys = new KeyLedger(db, meta, keys, { keyFile: () => this.keyFile, keyProtection: opts.keyProtection ?? {}, dbPath }, log, logLimited);
    this.seq = new Sequence(opts.dir, meta, seqFloor);
    const sealing = { cipher: opts.cipher ?? 'aes-256-gcm', compress: opts.compress ?? true } as const;
    this.store = new UnitStore(db, meta, this.keys, this.seq, { ...sealing, gatewayId: opts.gatewayId }, logLimited);
    // 'full': the connection runs synchronous=NORMAL and the WAL is fsynced on the thread pool after
    // each commit, before its appends resolve. What a previous process left unsynced is synced now.
    const walSync = synchronous === 'full' ? new WalSync(`${dbPath}-wal`, opts.walSyncFs) : undefined;
    walSync?.syncNow();
    this.commit = new GroupCommit(
      this.store,
      this.keys,
      this.seq,
      {
        maxDelayMs: commitDelays(opts),
        maxReadings: Math.max(1, opts.commitMaxReadings ?? 4096),
        fillReadings: commitFillReadings(opts),
        waiting: opts.commitIntervalMs === undefined ? { turnaroundMs: WAITING_TURNAROUND_MS, delayMs: WAITING_COMMIT_DELAY_MS } : undefined,
        unitMaxReadings: Math.max(1, Math.min(opts.unitMaxReadings ?? 1024, 65_535)),
      },
      { isShedding: () => this.shedding.active, onDiskFull, afterCommit: () => this.eviction.enforceByteCap(), onFailure: (e) => this.checkDamage(e) },
      events,
      logLimited,
      walSync,
    );
    const gaps = new GapRecords(opts.gatewayId, now, logLimited, (r) => this.commit.queueInternal(r));
    this.gaps = gaps;
    this.events = events;
    this.quarantine = new Quarantine(db, this.store, gaps, events, logLimited, now);
    this.leases = new Leases(this.store, this.quarantine, logLimited, this.seq);
    const capHeadroom = Math.max(0, opts.capHeadroomBytes ?? Math.min(Math.floor(this.maxBytes * 0.05), 1024 * 1024));
    this.eviction = new Eviction(
      this.store,
      this.leases,
      gaps,
      { maxBytes: this.maxBytes, maxAgeMs: this.maxAgeMs, capHeadroom },
      onDiskFull,
      events,
      logLimited,
      now,
      opts.monotonic,
      {
        load: () => parseShifts(meta.get(metaKey.clockShifts)),
        save: (shifts) => meta.set(metaKey.clockShifts, JSON.stringify(shifts)),
      },
    );
    this.shedding = new Shedding(db, opts.dir, ballastBytes(opts), this.store, this.eviction, log, logLimited);
    const parts = {
      db,
      dbPath,
      shedding: this.shedding,
      leases: this.leases,
      eviction: this.eviction,
      keys: this.keys,
      isClosed: () => this.commit.closed,
      onFailure: (e: unknown) => this.maintenanceFailed(e),
    };
    this.maintenance = new Maintenance(parts, logLimited, now);
    this.keys.checkRing();
  }

  append(readings: readonly PendingReading[]): Promise<void> {
    return this.commit.append(readings);
  }

  flush(): Promise<void> {
    return this.commit.flush();
  }

  onCommit(listener: () => void): () => void {
    return this.commit.onCommit(listener);
  }

  lease(limits: LeaseLimits): Lease | null {
    if (this.commit.closed || this.damage !== null) return null;
    try {
      return this.leases.lease(limits);
    } catch (e) {
      if (this.checkDamage(e)) return null;
      throw e;
    }
  }

  /**
   * Calls `listener` once if the database turns out to be damaged while running (a page fails
   * SQLite's checks). Nothing more is leased: the gateway stops, and the next start moves the
   * file aside and salvages what still authenticates (./salvage.ts). Returns an unsubscribe function.
   */
  onDamaged(listener: (reason: string) => void): () => void {
    if (this.damage !== null) {
      listener(this.damage);
      return () => undefined;
    }
    this.damagedListeners.add(listener);
    return () => this.damagedListeners.delete(listener);
  }

  /** The whole-file check running in the background, if any (see ./background-check.ts). */
  backgroundCheck: BackgroundCheck | undefined;

  checkInBackground(): void {
    this.backgroundCheck = new BackgroundCheck(this.dbPath, (why) => {
      if (!this.commit.closed) this.damaged(`background ${why}`);
    });
  }

  /** The database is damaged; the first time, tells the listeners (leasing stops). */
  private damaged(reason: string): void {
    if (this.damage !== null) return;
    this.damage = reason;
    markCheckFailed(this.dbPath, reason);
    this.report('error', { reason }, 'the buffer database is damaged; leasing stopped (the next start salvages it)');
    for (const l of this.damagedListeners) l(this.damage);
    this.damagedListeners.clear();
  }

  /** Whether `e` says the database is damaged; the first time, tells the listeners. */
  private checkDamage(e: unknown): boolean {
    if (!isCorruption(e)) return false;
    if (this.damage === null) {
      this.damage = `${sqliteErrorCode(e)}: ${(e as Error).message}`;
      markCheckFailed(this.dbPath, this.damage);
      this.report('error', { err: errInfo(e) }, 'the buffer database is damaged; leasing stopped (the next start salvages it)');
      for (const l of this.damagedListeners) l(this.damage);
      this.damagedListeners.clear();
    }
    return true;
  }

  ack(leaseId: number): void {
    this.leases.ack(leaseId);
  }

  release(leaseId: number): void {
    this.leases.release(leaseId);
  }

  stats(): BufferStats {
    const perClass = {} as Record<PriorityClass, ClassStats>;
    const inFlightPerClass = {} as Record<PriorityClass, number>;
    let total = 0;
    for (let classIndex = 0; classIndex < NCLASS; classIndex++) {
      const c = this.store.classStats(classIndex);
      perClass[PRIORITY_CLASSES[classIndex]!] = c;
      inFlightPerClass[PRIORITY_CLASSES[classIndex]!] = this.leases.inFlightOf(classIndex);
      total += c.readings;
    }
    return {
      perClass,
      totalReadings: total,
      diskBytes: this.diskBytes(),
      inFlight: this.leases.inFlight,
      inFlightPerClass,
      lastSeq: this.seq.hwm,
      quarantined: this.quarantine.count,
    };
  }

  /** Database + WAL size on disk (cached for one second). */
  diskBytes(): number {
    return this.maintenance.diskBytes();
  }

  /** Stored bytes as the byte cap counts them: sealed units plus a fixed per-unit row overhead. */
  totalStoredBytes(): number {
    return this.store.totalStoredBytes();
  }

  /**
   * Re-reads the key file (after `wardgate keygen --rotate`): new units use the new active
   * key, old ones stay readable. Also done automatically when the file's mtime changes.
   * Throws (and keeps the current keys) when the new file is unusable.
   */
  reloadKeys(): { activeKeyId: number; keyIds: readonly number[] } {
    return this.keys.reload();
  }

  get activeKeyId(): number {
    return this.keys.activeKeyId;
  }

  /** Key ids that seal buffered units (a retired key may be removed only when absent here and from quarantine). */
  keyIdsInUse(): number[] {
    return this.keys.inUse();
  }

  /** Why commits fail (a card remounted read-only, an I/O error), until one is durable again; null while they succeed. */
  get commitFailure(): string | null {
    return this.commit.failing;
  }

  /** True while the buffer is shedding because the disk is full. */
  get isShedding(): boolean {
    return this.shedding.active;
  }

  /** Evicts units whose oldest reading is older than maxAgeMs (all classes, oldest first). */
  enforceAgeCap(): number {
    return this.eviction.enforceAgeCap();
  }

  /** Applies the age and byte caps now (also done after commits, by the maintenance timer and at open). */
  enforceCaps(): void {
    this.eviction.enforceCaps();
  }

  /** Runs periodic duties (also called by the timer): recovery, age cap, WAL bound, key file changes. */
  maintain(): void {
    this.maintenance.run();
  }

  /** The maintenance timer's failures, checked for a damaged database. */
  private maintenanceFailed(e: unknown): void {
    this.checkDamage(e);
  }

  /** Checkpoints and truncates the WAL when it has grown past its bound. */
  boundWal(limit?: number): void {
    this.maintenance.boundWal(limit);
  }

  /** `reserveGivenBack`: the disk-full reserve was given back at this start (releaseBallastIfShort). */
  startMaintenance(intervalMs: number, reserveGivenBack = false): void {
    this.maintenance.start(intervalMs, reserveGivenBack);
  }

  /**
   * After a damaged database was salvaged into this one: a gap record per class for what could
   * not be read (seq and time ranges, readings lost) and for what failed authentication, each
   * counted, and the `buffer_corrupt` alarm saying how much was saved and lost.
   */
  announceSalvage(movedTo: string, why: string, seqFloor: number, s: SalvageReport, now: number): void {
    s.classes.forEach((c, classIndex) => {
      if (c.lost.length > 0) {
        const acc = newGap();
        acc.firstSeq = Math.min(...c.lost.map((l) => l.firstSeq));
        acc.lastSeq = Math.max(...c.lost.map((l) => l.lastSeq));
        acc.fromTime = Math.min(...c.lost.map((l) => l.fromTime));
        acc.toTime = Math.max(...c.lost.map((l) => l.toTime));
        // When the damaged file's counters were unreadable the count is unknown: the record names the ranges (countKnown: false).
        acc.count = c.lostReadings ?? 0;
        acc.unknown = true;
        acc.onlyGaps = false;
        const ranges = c.lost.map((l) => `${l.firstSeq}-${l.lastSeq}`).join(',');
        this.gaps.record(classIndex, 'corrupt', acc, { ranges: ranges.slice(0, 1000), countKnown: c.lostReadings !== null });
        if (c.lostReadings) this.events.emit('reading_evicted', { class: PRIORITY_CLASSES[classIndex]!, reason: 'corrupt' }, c.lostReadings);
      }
      if (c.quarantined) {
        const q = c.quarantined;
        this.gaps.record(classIndex, 'quarantined', { ...newGap(), ...q, count: c.quarantinedReadings, unknown: true, onlyGaps: false });
        this.events.emit('unit_quarantined', { reason: 'auth_failed' }, c.quarantinedUnits, { class: PRIORITY_CLASSES[classIndex] });
      }
    });
    this.commit.queueInternal(
      corruptionAlarm(this.gatewayId, now, movedTo, why, seqFloor, {
        saved: s.savedReadings,
        lost: s.lostReadings,
        quarantined: s.classes.reduce((a, c) => a + c.quarantinedReadings, 0),
      }),
    );
  }

  async close(): Promise<void> {
    if (this.commit.closed) return;
    this.commit.close();
    this.maintenance.stop();
    await this.backgroundCheck?.stop();
    tryCheckpoint(this.db);
    this.db.close();
    this.unlock();
  }
}

// -------------------------------------------------------------------- open

/** Meta key of a salvage not yet announced (JSON PendingSalvage). */
const SALVAGE_META = 'salvage.pending';

interface PendingSalvage {
  movedTo: string;
  why: string;
  seqFloor: number;
  report: SalvageReport;
}

const ballastBytes = (opts: OpenBufferOptions): number => Math.max(0, opts.ballastBytes ?? DEFAULT_BALLAST_BYTES);

export async function openSqliteBuffer(opts: OpenBufferOptions): Promise<SqliteBuffer> {
  mkdirSync(opts.dir, { recursive: true, mode: 0o700 });
  const keys = loadKeyRing(opts.keyFile, opts.keyProtection);
  // Before the lock file (it is written too): see releaseBallastIfShort.
  const givenBack = releaseBallastIfShort(opts.dir, opts.log, ballastBytes(opts)) > 0 || opts.reserveGivenBack === true;
  const unlock = lockDataDir(opts.dir);
  try {
    return await openLocked(opts, keys, unlock, givenBack);
  } catch (e) {
    unlock();
    throw e;
  }
}

async function openLocked(opts: OpenBufferOptions, keys: KeyRing, unlock: () => void, reserveGivenBack: boolean): Promise<SqliteBuffer> {
  const dbPath = join(opts.dir, DB_FILE);
  const now = opts.now ?? Date.now;
  let seqFloor = readSeqFile(opts.dir);
  const check = opts.integrityCheck ?? 'at-open';
  const pageSize = opts.pageSize ?? 1024;
  const report = eventReporter(opts.events);
  const checked = openChecked(dbPath, now, report, check);
  const movedAside: MovedAside | undefined = checked.movedAside;
  if (movedAside) seqFloor = Math.max(seqFloor, movedAside.hwm);
  let db = checked.db;
  if (!db) {
    db = new Database(dbPath);
    // Only the service user reads the buffer (its -wal and -shm inherit this mode).
    chmodSync(dbPath, 0o600);
    applyPragmas(db, pageSize);
  }
  try {
    initSchema(db, pageSize);
    // What still authenticates in the damaged file comes back with its original seqs.
    const salvage = movedAside ? salvageInto(movedAside.to, db, keys, opts.gatewayId, now, report) : undefined;
    if (movedAside && salvage) {
      seqFloor = Math.max(seqFloor, salvage.hwm);
      // Kept in the fresh database until announced: should this start be refused (a key file
      // lacking a key, say), the next one still sends the gap records and the alarm.
      const pending: PendingSalvage = { movedTo: basename(movedAside.to), why: movedAside.why, seqFloor, report: salvage };
      db.prepare('INSERT INTO meta (k, v) VALUES (?, ?) ON CONFLICT(k) DO UPDATE SET v = excluded.v').run(SALVAGE_META, JSON.stringify(pending));
    }
    const buf = new SqliteBuffer(db, dbPath, keys, opts, seqFloor, unlock);
    const pendingText = db.prepare('SELECT v FROM meta WHERE k = ?').pluck().get(SALVAGE_META) as string | undefined;
    if (pendingText !== undefined) {
      const p = JSON.parse(pendingText) as PendingSalvage;
      opts.events.emit('unit_quarantined', { reason: 'database_corrupt' }, 1, { movedTo: p.movedTo });
      buf.announceSalvage(p.movedTo, p.why, p.seqFloor, p.report, now());
      // Once committed, announced; if not (disk full), the group commit retries them and the next start would announce again.
      if (
        await buf.flush().then(
          () => true,
          () => false,
        )
      )
        db.prepare('DELETE FROM meta WHERE k = ?').run(SALVAGE_META);
    }
    buf.startMaintenance(opts.maintenanceIntervalMs ?? 1000, reserveGivenBack);
    // An existing file not checked whole at open: quick_check now, on a worker thread.
    if (check === 'background' && checked.db) buf.checkInBackground();
    return buf;
  } catch (e) {
    db.close();
    throw e;
  }
}
