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
export const BALLAST_FILE = 'buffer.ballast';

/** Free bytes for this user on the filesystem of `dir` (Infinity when it cannot be told). */
function freeSpace(dir: string): number {
  try {
    const s = statfsSync(dir);
    return s.bavail * s.bsize;
  } catch {
    return Infinity;
  }
}

/** The reserve's size unless the buffer is told otherwise (OpenBufferOptions.ballastBytes). */
export const DEFAULT_BALLAST_BYTES = 4 * 1024 * 1024;

/**
 * At start, before anything is written to the data folder (the gateway calls it before its audit
 * log, the buffer again before its lock file): on a disk with less free space than the reserve
 * (at least 1 MiB), the reserve is given back, so that the gateway can start, take the buffer's
 * lock, open its database and drain its backlog (deleting what Kafka acknowledged writes to the
 * WAL first). Without it a gateway restarted on a full disk could not start, and its backlog
 * waited for someone to free space by hand. Returns the bytes given back (0: none); the buffer
 * then opens shedding (Shedding.atOpen) and re-makes the reserve once space is back.
 */
export function releaseBallastIfShort(dir: string, log: Logger, ballastBytes = DEFAULT_BALLAST_BYTES): number {
  const p = join(dir, BALLAST_FILE);
  try {
    if (!existsSync(p) || freeSpace(dir) >= Math.max(ballastBytes, 1 << 20)) return 0;
    const size = statSync(p).size;
    unlinkSync(p);
    log.error({ releasedBytes: size }, 'disk full at start: gave back the disk-full reserve so that the gateway can start and drain its buffer');
    return size;
  } catch {
    return 0; // not ours to remove (its owner, say): the start goes on and says what fails
  }
}

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

  /**
   * At open: makes the reserve; or, when it was given back at this start (releaseBallastIfShort),
   * starts shedding instead: making it again now would take the space the backlog's drain needs.
   * checkRecovered makes it once there is room for it and some.
   */
  atOpen(reserveGivenBack: boolean): void {
    if (!reserveGivenBack) {
      this.ensureBallast();
      return;
    }
    this.shedding = true;
    this.logLimited('error', { freeBytes: freeSpace(this.dir) }, 'disk nearly full at open: shedding the lowest priority data until space returns');
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
    const free = freeSpace(this.dir);
    if (free < this.ballastBytes * 2 + 256 * 1024) return;
    if (!this.ensureBallast()) return;
    this.shedding = false;
    this.log.info({ freeBytes: free }, 'disk space is back: shedding stopped');
  }
}
