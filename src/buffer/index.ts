/**
 * The encrypted store-and-forward buffer (issue 3).
 *
 * Durability contract
 * -------------------
 * `append()` queues readings; a group commit writes everything pending in ONE SQLite
 * transaction (WAL mode) at most every `commitIntervalMs` (default 25 ms) or as soon as
 * `commitMaxReadings` (default 4096) are pending. The promise resolves only after that
 * transaction has committed; only then may a device be acknowledged. If the commit fails
 * (SQLITE_FULL, I/O error) the promises reject with BufferRefused and the gateway runs on.
 *  - synchronous 'full' (default): the WAL is fsynced after every commit, on libuv's thread
 *    pool (./wal-sync.ts), so the event loop never waits for the disk; the commit's appends
 *    resolve, and its units become leasable, only when that fsync has completed. A resolved
 *    append survives a process crash AND a power cut. Loss window: none. Readings whose
 *    promise has not resolved (one commit interval plus one fsync) were never acknowledged,
 *    and were not sent: a power cut cannot take back a seq that reached Kafka.
 *  - synchronous 'normal': a commit reaches the WAL in the OS page cache; the WAL is
 *    fsynced at checkpoints (about every 1000 WAL pages, i.e. ~1 MiB with 1 KiB pages,
 *    and at close). A resolved append survives a process crash (SIGKILL); a power cut may
 *    lose the commits since the last checkpoint: at a 30-bed ward's pace (a commit every
 *    25 ms plus an ack, ~4 pages) that is about the last 6 s of readings. The database stays
 *    consistent: it opens, passes quick_check, and simply ends at an earlier commit.
 *  - ack(): the delete is committed before ack() returns, so a process crash never brings
 *    delivered units back. It is not fsynced on its own: the next commit's fsync (or the
 *    next checkpoint) makes it durable, so after a power cut within that window a few
 *    delivered units may be sent again (at-least-once; consumers dedupe on gatewayId+seq).
 *    This halves the fsyncs of a ward whose forwarder acks after every commit. (The
 *    connection always runs SQLite's synchronous=NORMAL; 'full' is the buffer's own fsync.)
 *
 * Sequence numbers: assigned inside the commit transaction; contiguous, strictly increasing,
 * never reused. The high-water mark lives in the meta table (not max(seq) of what is left),
 * and blocks of 2^20 are reserved in `buffer.seq` beside the database before use, so even
 * a database moved aside after corruption cannot make a seq repeat (the fresh one starts
 * above the reservation). Within one commit readings are grouped by class (alarm first),
 * so each class gets a contiguous range; inside a class append order, and so per-device
 * order, is kept.
 *
 * Storage and what is in clear
 * ----------------------------
 * One table per class (`units_alarm`, ...), rowid = first seq of the unit. A unit = the
 * readings of one class from one commit (at most `unitMaxReadings`, default 1024), encoded
 * compactly (./codec.ts: metric codes, per-unit source dictionary, varint deltas, decimal
 * values as scaled integers; no seq stored), raw-deflated when that is smaller, and sealed
 * with AES-256-GCM or ChaCha20-Poly1305 (../crypto/aead.ts). The associated data binds it
 * to gateway id, class, first and last seq, count, key id and format byte, so a row edited,
 * moved to another class or sequence position, or copied over another, fails
 * authentication and is quarantined. In clear: unit id (= first seq), count, key id,
 * gateway row number, and the oldest gateway time of the unit in whole seconds (for the
 * age cap and `oldestGatewayTime`). Device ids, beds, patient ids, metrics, values and gap
 * records are only inside sealed bodies. Page size 1 KiB (fewer bytes per small commit).
 * Measured (bench/buffer.ts): ~5 B on disk per reading in large batches, ~29 B at a
 * 30-bed ward's commit pattern (6 readings per commit).
 *
 * Nonces and keys
 * ---------------
 * A fresh random 96-bit nonce per unit; seals are counted per key id in the meta table and
 * refused past 2^32 per key (warning from 2^31): rotate before. Each unit stores its key id.
 * The first use of a key id records a check value (HMAC) of the key, so a wrong key file is
 * refused at open instead of quarantining the backlog. `generateKeyFile(path, {rotate})`
 * adds a new active key; a running buffer picks it up (mtime check every 5 s, or
 * `reloadKeys()`); old units stay readable. `keyIdsInUse()` / `readBufferStats().keyIdsInUse`
 * list keys still sealing units; `removeKey` refuses those. Optionally the key file's keys
 * are wrapped under a passphrase (scrypt) or a hardware secret file (HKDF): see ../crypto/keys.ts.
 * A unit deleted after delivery and put back from an old copy of the file (a replay) is
 * refused: per class, no legitimate unit lies below the oldest one left after a removal.
 *
 * Draining, caps, eviction, disk full
 * -----------------------------------
 * lease(): highest non-empty class first, oldest first, whole units, never a leased unit
 * twice; release() re-offers ahead of newer units; after a restart all units are leasable.
 * A unit alone larger than `maxReadings` is leased in part (its first readings); when that
 * lease is acked the unit is replaced, in one transaction, by its rest re-sealed at its new
 * position, so delivered readings never come back.
 * Byte cap (`maxBytes`, counted as sealed bytes + UNIT_ROW_OVERHEAD per unit) and age cap
 * (`maxAgeMs`): the lowest class's oldest units go first, alarms only when nothing else is
 * left, leased units never. Each eviction is counted (`reading_evicted` {class, reason}),
 * logged (rate-limited) and becomes a gap record: a `gateway_event` status reading with
 * extra {event:'gap', reason, class, firstSeq, lastSeq, fromTime, toTime, count, devices}
 * appended like any reading. Disk full (SQLITE_FULL/ENOSPC): the commit's readings are
 * refused (`reading_refused` {reason:'disk_full'}), a 4 MiB reserve file is given back,
 * the lowest class is shed (gap records), the WAL truncated; while shedding, waveform
 * appends are refused at the door ('shedding'). When free space returns the reserve is
 * re-made and shedding stops, by itself.
 *
 * One writer per data folder: `buffer.lock` (owner pid + start time; a dead owner's lock is
 * taken over), so two gateways never hand out the same seqs.
 *
 * Integrity: `PRAGMA quick_check` at open (it reads every page: as long as reading the file once); a failing database (or one that will not open)
 * is moved aside as `buffer.db.corrupt-<ms>` (never deleted) and a fresh one is opened, into which
 * every unit row that can still be read and authenticates is salvaged with its original seq
 * (./salvage.ts); rows that fail authentication are quarantined. What could not be read becomes a
 * gap record per class (reason 'corrupt': seq ranges, time range, readings lost when the damaged
 * file's counters were readable, `countKnown`), counted as `reading_evicted` {reason:'corrupt'},
 * and an alarm-class `gateway_event` {event:'buffer_corrupt', saved, lost, quarantined} says so. A unit that fails
 * authentication or decoding is moved to the `quarantine` table (counted as
 * `unit_quarantined`, gap record), and the rest keeps draining. The WAL is checkpointed
 * every ~1000 pages, limited to 8 MiB after checkpoints and truncated when it passes 16 MiB.
 */
import Database from 'better-sqlite3';
import { statSync } from 'node:fs';
import { ConfigurationError } from '../errors.js';
import { join } from 'node:path';
import { PRIORITIES, type Priority } from '../reading.js';
import type { ClassStats } from './types.js';
import { describeKeyFile } from '../crypto/keys.js';
import { SqliteBuffer, openSqliteBuffer, type OpenBufferOptions } from './sqlite.js';
import { DB_FILE, metaKey, oldestTimeSql } from './schema.js';

export { SqliteBuffer, type OpenBufferOptions } from './sqlite.js';
export { DB_FILE } from './schema.js';
export { SEQ_FILE } from './seq.js';
export { BALLAST_FILE } from './shedding.js';
export { UNIT_ROW_OVERHEAD } from './store.js';
export { getOrCreateGatewayId, GATEWAY_ID_FILE } from './gateway-id.js';
export { LOCK_FILE } from './lock.js';
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
    const meta = new Map<string, unknown>((db.prepare('SELECT k, v FROM meta').all() as { k: string; v: unknown }[]).map((r) => [r.k, r.v]));
    const num = (k: string): number => (typeof meta.get(k) === 'number' ? (meta.get(k) as number) : 0);
    const perClass = {} as Record<Priority, ClassStats>;
    let total = 0;
    let oldestAll: number | null = null;
    PRIORITIES.forEach((p, rank) => {
      const t = db.prepare(oldestTimeSql(rank)).pluck().get() as number | undefined;
      const ot = t === undefined ? null : t * 1000;
      perClass[p] = { readings: num(metaKey.counter(rank, 'readings')), units: num(metaKey.counter(rank, 'units')), bytes: num(metaKey.counter(rank, 'bytes')), oldestGatewayTime: ot };
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
