/**
 * Reads a buffer's counters, key ids and quarantine straight from the database, read-only and
 * without the key, so `wardgate status` and `keygen --remove` work while the gateway runs.
 */

import { statSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describeKeyFile } from '../crypto/keys.js';
import { ConfigurationError } from '../errors.js';
import { PRIORITY_CLASSES, type PriorityClass } from '../reading.js';
import { DB_FILE, metaKey, oldestTimeSql } from './schema.js';
import type { ClassStats } from './types.js';

export interface BufferStatusReport {
  path: string;
  perClass: Record<PriorityClass, ClassStats>;
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
  // Not existsSync: a folder this user cannot read is not "no buffer" (keygen --remove would
  // then think no key is in use).
  try {
    statSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return null;
    throw new ConfigurationError(`cannot read the buffer in ${dir} (${code ?? 'error'}): run as the service user`);
  }
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    db.pragma('busy_timeout = 2000');
    // A file with no table yet is a buffer being created this instant (the gateway starting): no buffer yet.
    if (db.prepare('SELECT count(*) FROM sqlite_master').pluck().get() === 0) return null;
    const meta = new Map<string, unknown>((db.prepare('SELECT k, v FROM meta').all() as { k: string; v: unknown }[]).map((r) => [r.k, r.v]));
    const num = (k: string): number => (typeof meta.get(k) === 'number' ? (meta.get(k) as number) : 0);
    const perClass = {} as Record<PriorityClass, ClassStats>;
    let total = 0;
    let oldestAll: number | null = null;
    PRIORITY_CLASSES.forEach((p, classIndex) => {
      const t = db.prepare(oldestTimeSql(classIndex)).pluck().get() as number | undefined;
      const ot = t === undefined ? null : t * 1000;
      perClass[p] = {
        readings: num(metaKey.counter(classIndex, 'readings')),
        units: num(metaKey.counter(classIndex, 'units')),
        bytes: num(metaKey.counter(classIndex, 'bytes')),
        oldestGatewayTime: ot,
      };
      total += perClass[p].readings;
      if (ot !== null && (oldestAll === null || ot < oldestAll)) oldestAll = ot;
    });
    const keyRows = [...meta.keys()]
      .filter((k) => /^k\d+\.fp$/.test(k))
      .map(metaKey.fingerprintKeyId)
      .sort((a, b) => a - b)
      .map((id) => ({ key_id: id, units: num(metaKey.keyUnits(id)) }));
    const qKeys = db.prepare('SELECT DISTINCT key_id FROM quarantine ORDER BY key_id').pluck().all() as number[];
    const hwm = num(metaKey.hwm);
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
