/**
 * The database layout: pragmas, one unit table per priority class, the quarantine and
 * gateway tables, the schema version, and the meta table (high-water mark, per-class
 * counters and replay floors, per-key fingerprints and counts).
 */
import type Database from 'better-sqlite3';
import { PRIORITY_CLASSES } from '../reading.js';
import { sleepSync } from '../sleep-sync.js';
import { steadyNow } from '../steady-clock.js';
import { sqliteErrorCode } from './diagnostics.js';

export const DB_FILE = 'buffer.db';
const SCHEMA_VERSION = 2;
export const NCLASS = PRIORITY_CLASSES.length;

export const unitTable = (classIndex: number): string => `units_${PRIORITY_CLASSES[classIndex]}`;

/** The oldest gateway time (whole seconds) of a class: the time of its lowest unit. */
export const oldestTimeSql = (classIndex: number): string => `SELECT t FROM ${unitTable(classIndex)} ORDER BY id LIMIT 1`;

/** A unit row as stored. */
export interface UnitRow {
  id: number;
  n: number;
  gw: number;
  key_id: number;
  t: number;
  body: Buffer;
}

export type Counters = { readings: number; units: number; bytes: number };

/** The keys of the meta table. */
export const metaKey = {
  hwm: 'hwm',
  /** The forward wall-clock steps the age cap still applies (JSON, see Eviction). */
  clockShifts: 'clock.shifts',
  counter: (classIndex: number, c: keyof Counters): string => `c${classIndex}.${c}`,
  /** No legitimate unit of the class has an id below this (see UnitStore.floor). */
  floor: (classIndex: number): string => `f${classIndex}`,
  keyFingerprint: (keyId: number): string => `k${keyId}.fp`,
  keySeals: (keyId: number): string => `k${keyId}.seals`,
  keyUnits: (keyId: number): string => `k${keyId}.units`,
  /** The key id of a keyFingerprint key. */
  fingerprintKeyId: (k: string): number => Number(k.slice(1, -3)),
};

function schemaSql(): string {
  const unitTables = PRIORITY_CLASSES.map(
    (_, classIndex) => `CREATE TABLE IF NOT EXISTS ${unitTable(classIndex)} (
  id INTEGER PRIMARY KEY,  -- first sequence number of the unit; the unit holds id .. id+n-1
  n INTEGER NOT NULL,      -- readings in the unit
  gw INTEGER NOT NULL,     -- gateways.gw
  key_id INTEGER NOT NULL,
  t INTEGER NOT NULL,      -- oldest gateway time in the unit, whole seconds
  body BLOB NOT NULL       -- format byte | nonce | ciphertext | tag
);`,
  ).join('\n');
  return `
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v ANY) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS gateways (gw INTEGER PRIMARY KEY, gateway_id TEXT NOT NULL UNIQUE);
${unitTables}
CREATE TABLE IF NOT EXISTS quarantine (
  qid INTEGER PRIMARY KEY AUTOINCREMENT,
  id INTEGER NOT NULL, cls INTEGER NOT NULL, n INTEGER NOT NULL, gw INTEGER NOT NULL,
  key_id INTEGER NOT NULL, t INTEGER NOT NULL, body BLOB NOT NULL, reason TEXT NOT NULL, at INTEGER NOT NULL
);`;
}

/**
 * The connection's settings. The busy timeout comes first, so that every statement after it,
 * the switch to WAL included, waits for another process's lock (`wardgate status` reading the
 * buffer at the instant the service starts) instead of failing at once. For a file with no page
 * yet (being created), `pageSize` is set before the switch to WAL, which writes the first page:
 * after it the page size could only change by leaving WAL again (initSchema).
 */
export function applyPragmas(db: Database.Database, pageSize?: number): void {
  db.pragma('busy_timeout = 5000');
  if (pageSize !== undefined && db.pragma('page_count', { simple: true }) === 0) db.pragma(`page_size = ${pageSize}`);
  setJournalMode(db, 'wal');
  // Commits are not fsynced by SQLite: with buffer.synchronous 'full' the buffer fsyncs the WAL
  // itself, off the event loop, before a commit counts (wal-sync.ts). Checkpoints sync as usual.
  db.pragma('synchronous = NORMAL');
  db.pragma('journal_size_limit = 8388608');
  db.pragma('wal_autocheckpoint = 1000');
  // better-sqlite3 builds SQLite with a 16 MiB page cache per connection. The buffer's work is
  // appends at one end of each table and reads and deletes at the other: 4 MiB holds both ends
  // (and keeps a Raspberry Pi's resident memory down; see the README's performance section).
  db.pragma('cache_size = -4096');
}

/** How long a switch of journal mode retries while another connection has the file open. */
const JOURNAL_SWITCH_WAIT_MS = 5000;
const JOURNAL_SWITCH_RETRY_MS = 20;

/**
 * Sets the journal mode and checks that it took: SQLite answers with the old mode, no error,
 * when it cannot switch. Leaving WAL takes an exclusive lock without SQLite's busy handler (it
 * fails at once while a reader has the file open), so a busy switch is retried here for up to
 * JOURNAL_SWITCH_WAIT_MS, as the busy timeout would.
 */
function setJournalMode(db: Database.Database, mode: 'wal' | 'delete'): void {
  const until = steadyNow() + JOURNAL_SWITCH_WAIT_MS;
  for (;;) {
    try {
      const now = db.pragma(`journal_mode = ${mode}`, { simple: true });
      if (now !== mode) throw new Error(`the buffer's database stayed in journal mode ${String(now)}, not ${mode}`);
      return;
    } catch (e) {
      if (!sqliteErrorCode(e)?.startsWith('SQLITE_BUSY') || steadyNow() >= until) throw e;
      sleepSync(JOURNAL_SWITCH_RETRY_MS);
    }
  }
}

const SELECT_META = 'SELECT v FROM meta WHERE k = ?';

/** One meta value (also usable on a read-only or damaged database). */
export const readMeta = (db: Database.Database, k: string): unknown => db.prepare(SELECT_META).pluck().get(k);

export function initSchema(db: Database.Database, pageSize: number): void {
  const fresh = (db.prepare("SELECT count(*) FROM sqlite_master WHERE name = 'meta'").pluck().get() as number) === 0;
  // A new file has its page size already (applyPragmas). One cut off while it was being created
  // may have its first page in another size: VACUUM applies the size, outside WAL only.
  if (fresh && db.pragma('page_size', { simple: true }) !== pageSize) {
    setJournalMode(db, 'delete');
    db.pragma(`page_size = ${pageSize}`);
    db.exec('VACUUM');
    setJournalMode(db, 'wal');
  }
  db.exec(schemaSql());
  const v = readMeta(db, 'schema_version') as number | undefined;
  if (v === undefined) db.prepare("INSERT INTO meta (k, v) VALUES ('schema_version', ?)").run(SCHEMA_VERSION);
  else if (v !== SCHEMA_VERSION) throw new Error(`buffer schema version ${v} is not supported (expected ${SCHEMA_VERSION})`);
}

/** The meta table of an open, initialised database. */
export class Meta {
  private readonly getSt: Database.Statement;
  private readonly setSt: Database.Statement;

  constructor(db: Database.Database) {
    this.getSt = db.prepare(SELECT_META).pluck();
    this.setSt = db.prepare('INSERT INTO meta (k, v) VALUES (?, ?) ON CONFLICT(k) DO UPDATE SET v = excluded.v');
  }

  get(k: string): unknown {
    return this.getSt.get(k);
  }

  num(k: string): number | undefined {
    return this.get(k) as number | undefined;
  }

  set(k: string, v: unknown): void {
    this.setSt.run(k, v);
  }

  readCounters(classIndex: number): Counters {
    return {
      readings: this.num(metaKey.counter(classIndex, 'readings')) ?? 0,
      units: this.num(metaKey.counter(classIndex, 'units')) ?? 0,
      bytes: this.num(metaKey.counter(classIndex, 'bytes')) ?? 0,
    };
  }

  writeCounters(classIndex: number, c: Counters): void {
    this.set(metaKey.counter(classIndex, 'readings'), c.readings);
    this.set(metaKey.counter(classIndex, 'units'), c.units);
    this.set(metaKey.counter(classIndex, 'bytes'), c.bytes);
  }
}
