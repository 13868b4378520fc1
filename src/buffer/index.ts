/**
 * The encrypted store-and-forward buffer.
 *
 * Durability contract
 * -------------------
 * `append()` queues readings; a group commit writes everything pending in ONE SQLite
 * transaction at most every `commitIntervalMs` (default 25 ms) or as soon as
 * `commitMaxReadings` (default 4096) are pending. The promise resolves only after that
 * transaction has committed; only then may a device be acknowledged.
 *  - synchronous 'full' (default): SQLite fsyncs the WAL on every commit. A resolved
 *    append survives a process crash AND a power cut. Window of loss: none (readings
 *    whose promise has not resolved were never acknowledged).
 *  - synchronous 'normal': a commit is written to the WAL (in the OS page cache) and
 *    fsynced at the next checkpoint (every ~1000 WAL pages, ~4 MB, and at close).
 *    A resolved append survives a process crash (SIGKILL) but a power cut may lose
 *    the commits since the last checkpoint: at most ~4 MB of WAL, i.e. the readings of
 *    the last few seconds to minutes depending on load. The database itself stays
 *    consistent (it opens and passes quick_check); it just ends at an earlier commit.
 * Sequence numbers are assigned inside the commit transaction: contiguous, strictly
 * increasing, never reused (a high-water mark is kept in the meta table, not derived
 * from the remaining rows). Within one commit the readings are grouped by class
 * (alarm first), so each class's readings get a contiguous range; within a class,
 * append order (and so per-device order) is kept.
 *
 * Storage
 * -------
 * A unit = the readings of one class from one commit (at most `unitMaxReadings`),
 * encoded compactly (./codec.ts), deflated when that helps, and sealed with
 * AES-256-GCM or ChaCha20-Poly1305 (../crypto/aead.ts). The associated data binds
 * it to gateway id, class, first seq, last seq, count, key id and format byte, so a
 * row edited, swapped or copied over another is refused (and quarantined).
 * In clear are only: unit id (= first seq), class, last seq, count, key id, gateway
 * row number, and the oldest/newest gateway time in whole seconds. Device ids, beds,
 * patient ids, metrics and values are only inside the sealed body.
 */
import Database from 'better-sqlite3';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { PRIORITIES, type Priority } from '../reading.js';
import type { ClassStats } from './types.js';
import { describeKeyFile } from '../crypto/keys.js';
import { DB_FILE, SqliteBuffer, openSqliteBuffer, unitTable, type OpenBufferOptions } from './sqlite.js';

export { SqliteBuffer, DB_FILE, SEQ_FILE, BALLAST_FILE, UNIT_ROW_OVERHEAD, type OpenBufferOptions } from './sqlite.js';
export { getOrCreateGatewayId, GATEWAY_ID_FILE } from './gateway-id.js';
export * from './types.js';

/** Opens (creating when needed) the buffer in `opts.dir` with the key file `opts.keyFile`. */
export async function openBuffer(opts: OpenBufferOptions): Promise<SqliteBuffer> {
  return openSqliteBuffer(opts);
}

export interface BufferStatusReport {
  path: string;
  perClass: Record<Priority, ClassStats>;
  totalReadings: number;
  /** Age of the oldest buffered reading in ms (any class), or null when empty. */
  oldestAgeMs: number | null;
  /** Database + WAL + SHM bytes on disk. */
  diskBytes: number;
  lastSeq: number;
  quarantined: number;
  /** Key ids sealing buffered units. */
  keyIdsInUse: number[];
  /** Key ids sealing quarantined units (kept for forensics). */
  quarantineKeyIds: number[];
  /** All key ids the buffer has ever sealed with. */
  keyIdsKnown: number[];
  gatewayIds: string[];
  /** Human-readable remarks for `wardgate status` (key ids in use, keys that may be removed, quarantine). */
  notes: string[];
}

export interface ReadBufferStatsOptions {
  now?: number;
  /** When given and readable, notes name retired keys that no unit uses any more (they may be removed). */
  keyFile?: string;
}

/**
 * Reads the buffer's statistics without the key, opening the database read-only
 * (for `wardgate status`, also while the gateway runs). Returns null when the folder
 * holds no buffer database.
 */
export function readBufferStats(dir: string, opts: ReadBufferStatsOptions = {}): BufferStatusReport | null {
  const now = opts.now ?? Date.now();
  const path = join(dir, DB_FILE);
  if (!existsSync(path)) return null;
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    db.pragma('busy_timeout = 2000');
    const meta = new Map<string, unknown>((db.prepare('SELECT k, v FROM meta').all() as { k: string; v: unknown }[]).map((r) => [r.k, r.v]));
    const num = (k: string): number => (typeof meta.get(k) === 'number' ? (meta.get(k) as number) : 0);
    const perClass = {} as Record<Priority, ClassStats>;
    let total = 0;
    let oldestAll: number | null = null;
    PRIORITIES.forEach((p, rank) => {
      const t = db.prepare(`SELECT t FROM ${unitTable(rank)} ORDER BY id LIMIT 1`).pluck().get() as number | undefined;
      const ot = t === undefined ? null : t * 1000;
      perClass[p] = { readings: num(`c${rank}.readings`), units: num(`c${rank}.units`), bytes: num(`c${rank}.bytes`), oldestGatewayTime: ot };
      total += perClass[p].readings;
      if (ot !== null && (oldestAll === null || ot < oldestAll)) oldestAll = ot;
    });
    const keyRows = [...meta.keys()]
      .filter((k) => /^k\d+\.fp$/.test(k))
      .map((k) => Number(k.slice(1, -3)))
      .sort((a, b) => a - b)
      .map((id) => ({ key_id: id, units: num(`k${id}.units`) }));
    const qKeys = db.prepare('SELECT DISTINCT key_id FROM quarantine ORDER BY key_id').pluck().all() as number[];
    const hwm = num('hwm');
    const quarantined = db.prepare('SELECT count(*) FROM quarantine').pluck().get() as number;
    const gatewayIds = db.prepare('SELECT gateway_id FROM gateways ORDER BY gw').pluck().all() as string[];
    let diskBytes = 0;
    for (const s of ['', '-wal', '-shm']) {
      try {
        diskBytes += statSync(path + s).size;
      } catch {
        /* absent */
      }
    }
    const keyIdsInUse = keyRows.filter((k) => k.units > 0).map((k) => k.key_id);
    const notes: string[] = [];
    notes.push(`keys in use      ${keyIdsInUse.length ? keyIdsInUse.join(', ') : 'none (buffer empty)'}`);
    if (quarantined > 0) notes.push(`quarantine       ${quarantined} unit(s) failed authentication and are kept for forensics (keys ${qKeys.join(', ')})`);
    if (opts.keyFile) {
      try {
        const kf = describeKeyFile(opts.keyFile);
        const removable = kf.keyIds.filter((id) => id !== kf.activeKeyId && !keyIdsInUse.includes(id) && !qKeys.includes(id));
        if (removable.length) notes.push(`retired keys     ${removable.join(', ')} no longer seal any buffered unit and may be removed`);
        const missing = keyIdsInUse.filter((id) => !kf.keyIds.includes(id));
        if (missing.length) notes.push(`MISSING KEYS     ${missing.join(', ')} seal buffered units but are not in ${opts.keyFile}`);
      } catch (e) {
        notes.push(`key file         ${(e as Error).message}`);
      }
    }
    return {
      notes,
      path,
      perClass,
      totalReadings: total,
      oldestAgeMs: oldestAll === null ? null : Math.max(0, now - oldestAll),
      diskBytes,
      lastSeq: hwm,
      quarantined,
      keyIdsInUse,
      quarantineKeyIds: qKeys,
      keyIdsKnown: keyRows.map((k) => k.key_id),
      gatewayIds,
    };
  } finally {
    db.close();
  }
}
