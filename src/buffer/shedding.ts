/**
 * Disk full (SQLITE_FULL/ENOSPC): a reserve file (`buffer.ballast`) is given back, the
 * lowest class is shed (gap records), the WAL truncated; while shedding, waveform appends
 * are refused at the door. When free space returns the reserve is re-made and shedding
 * stops, by itself.
 */
import { closeSync, existsSync, fsyncSync, ftruncateSync, openSync, statfsSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import type { Logger } from '../logger.js';
import { errInfo, type LogLimited } from './diagnostics.js';
import type { Eviction } from './eviction.js';
import { tryCheckpoint } from './maintenance.js';
import type { UnitStore } from './store.js';

/** Space kept in reserve so the buffer can still shed data when the disk is full. */
const BALLAST_FILE = 'buffer.ballast';

export class Shedding {
  private shedding = false;
  private readonly ballastPath: string;

  constructor(
    private readonly db: Database.Database,
    private readonly dir: string,
    /** Bytes kept in reserve (0 disables). */
    private readonly ballastBytes: number,
    private readonly store: UnitStore,
    private readonly eviction: Eviction,
    private readonly log: Logger,
    private readonly logLimited: LogLimited,
  ) {
    this.ballastPath = join(dir, BALLAST_FILE);
  }

  /** True while the buffer is shedding because the disk is full. */
  get active(): boolean {
    return this.shedding;
  }

  /** Keeps `ballastBytes` allocated in the data folder (written, not sparse). */
  ensureBallast(): boolean {
    if (this.ballastBytes === 0) return true;
    const p = this.ballastPath;
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
  onDiskFull(failedReadings: number): void {
    if (!this.shedding) {
      this.shedding = true;
      this.logLimited('error', { failedReadings }, 'disk full: shedding the lowest priority data until space returns');
    }
    try {
      if (existsSync(this.ballastPath)) unlinkSync(this.ballastPath);
    } catch {
      /* ignore */
    }
    tryCheckpoint(this.db);
    const stored = this.store.totalStoredBytes();
    const target = Math.max(256 * 1024, Math.floor(stored * 0.01), failedReadings * 64, this.ballastBytes * 2);
    try {
      this.eviction.evict('disk_full', (freed) => freed >= target);
    } catch (e) {
      this.logLimited('error', { err: errInfo(e) }, 'shedding failed; will retry');
    }
    tryCheckpoint(this.db);
  }

  /** While shedding: stops once free space is back and the reserve is re-made. */
  checkRecovered(): void {
    if (!this.shedding) return;
    const free = this.freeSpace();
    if (free < this.ballastBytes * 2 + 256 * 1024) return;
    if (!this.ensureBallast()) return;
    this.shedding = false;
    this.log.info({ freeBytes: free }, 'disk space is back: shedding stopped');
  }
}
