/**
 * Integrity: `PRAGMA quick_check`, at open or in the background after (./background-check.ts); a database that fails it (or will not open)
 * is moved aside as `buffer.db.corrupt-<ms>` (never deleted) and its high-water mark read;
 * what still authenticates in it is salvaged into the fresh database (./salvage.ts). While running, a unit that fails authentication or decoding, or a deleted
 * unit put back (a replay), is moved to the quarantine table and the rest keeps draining.
 */

import { existsSync, renameSync, rmSync } from 'node:fs';
import Database from 'better-sqlite3';
import type { Events } from '../metrics/events.js';
import { PRIORITY_CLASSES } from '../reading.js';
import { checkFailedFile } from './background-check.js';
import { errInfo, type LogLimited, sqliteErrorCode } from './diagnostics.js';
import { addToGap, type GapRecords, newGap } from './gateway-records.js';
import { applyPragmas, metaKey, readMeta, type UnitRow, unitTable } from './schema.js';
import type { Removed, UnitStore } from './store.js';

/** When the whole file is checked: before the buffer opens, or in the background after (./background-check.ts). */
export type IntegrityCheck = 'at-open' | 'background';

export interface MovedAside {
  to: string;
  why: string;
  /** The damaged database's high-water mark (0 when unreadable). */
  hwm: number;
}

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

/**
 * Opens an existing database at `dbPath` when it passes its check. Otherwise moves it
 * aside (logged) and returns no database: the caller starts a fresh one.
 *
 * `check`: 'at-open' runs quick_check (the whole file) before returning. 'background' checks
 * here only what opening reads (the header, the schema, the meta table) and leaves the whole
 * file to ./background-check.ts, unless an earlier background check failed (its marker file):
 * then quick_check runs here, as 'at-open'.
 */
export function openChecked(
  dbPath: string,
  now: () => number,
  report: LogLimited,
  check: IntegrityCheck = 'at-open',
): { db?: Database.Database; movedAside?: MovedAside } {
  if (!existsSync(dbPath)) return {};
  const marker = checkFailedFile(dbPath);
  const full = check === 'at-open' || existsSync(marker);
  let db: Database.Database | undefined;
  let why: string | undefined;
  try {
    db = new Database(dbPath);
    applyPragmas(db);
    if (full) {
      const msgs = (db.pragma('quick_check', { simple: false }) as { quick_check: string }[]).map((r) => r.quick_check);
      if (!(msgs.length === 1 && msgs[0] === 'ok')) why = `quick_check: ${msgs.slice(0, 3).join('; ')}`;
    } else {
      // A database cut off while it was being created has no schema yet: as quick_check would, this
      // accepts it (initSchema creates the tables); one with a schema must be able to read its meta table.
      const hasMeta = db.prepare("SELECT count(*) FROM sqlite_master WHERE name = 'meta'").pluck().get() as number;
      if (hasMeta > 0) db.prepare("SELECT count(*) FROM meta WHERE k = 'schema_version'").pluck().get();
    }
  } catch (e) {
    const code = sqliteErrorCode(e);
    if (code?.startsWith('SQLITE_BUSY') || code?.startsWith('SQLITE_LOCKED')) {
      // Another process holds the file longer than the busy timeout: not damage. The start fails
      // (and is retried by its service manager); the file is neither moved aside nor salvaged.
      db?.close();
      throw new Error(`the buffer's database ${dbPath} is locked by another process (${code}); nothing was changed`);
    }
    if (cannotUse(code)) {
      // This process may not open or write the file (its owner or mode, a read-only file system), or
      // the disk is full: not damage either. Moving it aside would leave its backlog where this user
      // cannot salvage it and start an empty buffer. The start fails instead (the data folder's
      // error, exit 2 when it is the owner or mode) and the file is left as it is.
      db?.close();
      const uid = process.getuid ? ` (uid ${process.getuid()})` : '';
      throw Object.assign(
        new Error(`the buffer's database ${dbPath} cannot be opened for writing by this user${uid}: ${code}, ${(e as Error).message}; nothing was changed`),
        { code },
      );
    }
    why = `${code ?? 'error'}: ${(e as Error).message}`;
  }
  // Checked now (moved aside below if it failed): the marker has done its job.
  if (full && existsSync(marker)) rmSync(marker, { force: true });
  if (why === undefined) return { db };
  try {
    db?.close();
  } catch {
    /* ignore */
  }
  const to = moveAside(dbPath, now());
  const hwm = salvageHwm(to);
  report(
    'error',
    { movedTo: to, reason: why },
    'buffer database failed its integrity check; moved aside (kept); salvaging what still authenticates into a fresh buffer',
  );
  return { movedAside: { to, why, hwm } };
}

/** SQLite codes that say the file cannot be used by this process now, not that it is damaged. */
function cannotUse(code: string | undefined): boolean {
  if (code === undefined) return false;
  return code.startsWith('SQLITE_CANTOPEN') || code.startsWith('SQLITE_READONLY') || code === 'SQLITE_PERM' || code === 'SQLITE_AUTH' || code === 'SQLITE_FULL';
}

export class Quarantine {
  /** Units in the quarantine table. */
  count: number;
  private readonly toQuarantine: Database.Statement[];

  constructor(
    db: Database.Database,
    private readonly store: UnitStore,
    private readonly gaps: GapRecords,
    private readonly events: Events,
    private readonly logLimited: LogLimited,
    private readonly now: () => number,
  ) {
    this.toQuarantine = PRIORITY_CLASSES.map((_, classIndex) =>
      db.prepare(
        `INSERT INTO quarantine (id, cls, n, gw, key_id, t, body, reason, at) SELECT id, ${classIndex}, n, gw, key_id, t, body, ?, ? FROM ` +
          `${unitTable(classIndex)} WHERE id = ?`,
      ),
    );
    this.count = (db.prepare('SELECT count(*) FROM quarantine').pluck().get() as number) ?? 0;
  }

  /**
   * Moves units that failed authentication or decoding to the quarantine table, with a
   * gap record. Units it cannot move (disk full?) go to `holdBack`: kept out of leases
   * for this process.
   */
  move(classIndex: number, bad: { id: number; reason: string }[], holdBack: (id: number) => void): void {
    const at = this.now();
    const reasons = new Map(bad.map((b) => [b.id, b.reason]));
    const rows = bad.map((b) => this.store.rows(classIndex, b.id, 1)[0]).filter((r): r is UnitRow => r !== undefined && reasons.has(r.id));
    let removed: Removed[];
    try {
      removed = this.store.removeUnits(
        classIndex,
        bad.map((b) => b.id),
        (id) => this.toQuarantine[classIndex]!.run(reasons.get(id), at, id),
      );
    } catch (e) {
      this.logLimited('error', { err: errInfo(e) }, 'could not quarantine units; skipping them until restart');
      for (const b of bad) {
        holdBack(b.id);
        this.events.emit('unit_quarantined', { reason: b.reason }, 1, { class: PRIORITY_CLASSES[classIndex], moved: false });
      }
      return;
    }
    this.count += removed.length;
    for (const b of bad) this.events.emit('unit_quarantined', { reason: b.reason }, 1, { class: PRIORITY_CLASSES[classIndex] });
    // A replayed unit was delivered before: it is not a loss.
    const acc = newGap();
    const gone = new Set(removed.map((r) => r.id));
    for (const r of rows) if (gone.has(r.id) && reasons.get(r.id) !== 'replayed') addToGap(acc, r, []);
    this.gaps.record(classIndex, 'quarantined', acc);
  }
}
