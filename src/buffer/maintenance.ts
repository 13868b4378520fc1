/**
 * Periodic duties (a timer, default every second): disk-full recovery, deleting delivered
 * units whose delete failed, the age and byte caps and the WAL bound (every 10 s), and
 * picking up a rotated key file (every 5 s). Also the size of the database files.
 */

import { statSync } from 'node:fs';
import type Database from 'better-sqlite3';
import { errInfo, type LogLimited, refusalReason } from './diagnostics.js';
import type { Eviction } from './eviction.js';
import type { KeyLedger } from './key-ledger.js';
import type { Leases } from './lease.js';
import type { Shedding } from './shedding.js';

/** Checkpoints the WAL and truncates it to zero bytes (best effort). */
export function tryCheckpoint(db: Database.Database): void {
  try {
    db.pragma('wal_checkpoint(TRUNCATE)');
  } catch {
    /* may fail too (disk full); ignored */
  }
}

export interface MaintenanceParts {
  db: Database.Database;
  dbPath: string;
  shedding: Shedding;
  leases: Leases;
  eviction: Eviction;
  keys: KeyLedger;
  isClosed: () => boolean;
  /** A failure of a duty (the buffer looks for a damaged database). */
  onFailure?: (e: unknown) => void;
}

export class Maintenance {
  private timer: NodeJS.Timeout | undefined;
  private lastAgeCheck = -Infinity;
  private lastKeyCheck = -Infinity;
  private diskCache = { at: -Infinity, bytes: 0 };

  constructor(
    private readonly parts: MaintenanceParts,
    private readonly logLimited: LogLimited,
    private readonly now: () => number,
  ) {}

  /** At open: makes the disk-full reserve (or starts shedding: Shedding.atOpen), applies the caps, and starts the timer. */
  start(intervalMs: number, reserveGivenBack = false): void {
    this.parts.shedding.atOpen(reserveGivenBack);
    try {
      this.parts.eviction.enforceCaps();
    } catch (e) {
      this.logLimited('error', { err: errInfo(e) }, 'applying the caps at open failed');
    }
    this.timer = setInterval(() => this.run(), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** Runs the periodic duties now (also called by the timer). */
  run(): void {
    const { shedding, leases, eviction, keys } = this.parts;
    if (this.parts.isClosed()) return;
    const t = this.now();
    try {
      shedding.checkRecovered();
      leases.deleteAcked();
      if (t - this.lastAgeCheck >= 10_000) {
        this.lastAgeCheck = t;
        eviction.enforceCaps();
        this.boundWal();
      }
      if (t - this.lastKeyCheck >= 5_000) {
        this.lastKeyCheck = t;
        keys.reloadIfChanged();
      }
    } catch (e) {
      this.logLimited('error', { err: errInfo(e) }, 'buffer maintenance failed');
      if (refusalReason(e) === 'disk_full') shedding.onDiskFull(0);
      this.parts.onFailure?.(e);
    }
  }

  /** Checkpoints and truncates the WAL when it has grown past its bound. */
  boundWal(limit = 16 * 1024 * 1024): void {
    let size = 0;
    try {
      size = statSync(`${this.parts.dbPath}-wal`).size;
    } catch {
      return;
    }
    if (size > limit) this.parts.db.pragma('wal_checkpoint(TRUNCATE)');
  }

  /** Database + WAL size on disk (cached for one second). */
  diskBytes(): number {
    const t = this.now();
    if (t - this.diskCache.at < 1000) return this.diskCache.bytes;
    let b = 0;
    for (const f of [this.parts.dbPath, `${this.parts.dbPath}-wal`]) {
      try {
        b += statSync(f).size;
      } catch {
        /* absent */
      }
    }
    this.diskCache = { at: t, bytes: b };
    return b;
  }
}
