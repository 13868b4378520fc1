/**
 * The buffer's keys: the key ring loaded from the key file, and per key id (meta table)
 * the key's fingerprint, how many units it has sealed and how many buffered units it
 * still seals. A wrong key file is refused at open; a rotated one is picked up while
 * running (mtime check or reload()), and old units stay readable.
 */

import { statSync } from 'node:fs';
import type Database from 'better-sqlite3';
import { SEAL_LIMIT_PER_KEY, SEAL_WARN_PER_KEY } from '../crypto/aead.js';
import { KeyFileError, type KeyProtection, type KeyRing, loadKeyRing } from '../crypto/keys.js';
import type { Logger } from '../logger.js';
import type { LogLimited } from './diagnostics.js';
import { type Meta, metaKey } from './schema.js';

interface KeyUse {
  /** The fingerprint as the meta table holds it (see fingerprintMatches). */
  fingerprint: unknown;
  seals: number;
  units: number;
}

/** A text SQLite reads as a number, for a string of hex digits: decimal digits, maybe an 'e' and more. */
const NUMERIC = /^[0-9]+(e[0-9]+)?$/;

/**
 * A key fingerprint (16 hex digits) as the meta table stores it. The table's `v ANY` column has
 * NUMERIC affinity (it is not a STRICT table), so SQLite turns a text that reads as a number into
 * one: until this was found, a fingerprint of decimal digits only ('0123456789012345', stored as
 * 123456789012345) or of digits around one 'e' ('12e4567890123456', stored as Infinity), about one
 * key in 770, was saved as a number, and the next open refused the right key file ("fingerprint
 * mismatch"). Such a fingerprint is now stored as its 8 bytes in a BLOB, which no affinity
 * converts; any other stays the text it always was (an older wardgate still reads it).
 */
export function storedFingerprint(fp: string): string | Buffer {
  return NUMERIC.test(fp) ? Buffer.from(fp, 'hex') : fp;
}

/**
 * Whether the meta table's value is the fingerprint `fp`: a BLOB or a text must be it exactly; a
 * number only a fingerprint SQLite reads as a number can be: an integer (a bigint) exactly the
 * value of `fp`'s digits (and exponent), a real (digits lost) or an integer read as a JavaScript
 * number (salvage) the number `fp` reads as.
 */
export function fingerprintMatches(stored: unknown, fp: string): boolean {
  if (Buffer.isBuffer(stored)) return stored.toString('hex') === fp;
  if (typeof stored === 'string') return stored === fp;
  if (!NUMERIC.test(fp)) return false;
  // Digits only: the exact integer. With an 'e' ('12345678901234e4' too is stored as an integer
  // when it fits 64 bits) SQLite went through a double: the same number, to its last bit or so.
  if (typeof stored === 'bigint' && !fp.includes('e')) return BigInt(fp) === stored;
  if (typeof stored !== 'bigint' && typeof stored !== 'number') return false;
  const n = Number(fp);
  const s = Number(stored);
  return n === s || Math.abs(n - s) <= Math.abs(s) * 1e-15;
}

/** The key new units are sealed with. */
export interface ActiveKey {
  keyId: number;
  key: Buffer;
  use: KeyUse;
}

/** Per key id: change in units sealed (seals) and in buffered units it seals (units). */
export type KeyCounts = Map<number, { seals: number; units: number }>;

export function addKeyCounts(counts: KeyCounts, keyId: number, seals: number, units: number): void {
  const c = counts.get(keyId);
  if (c) {
    c.seals += seals;
    c.units += units;
  } else counts.set(keyId, { seals, units });
}

export class KeyLedger {
  private ring: KeyRing;
  private fileMtime = 0;
  private readonly use = new Map<number, KeyUse>();

  constructor(
    private readonly db: Database.Database,
    private readonly meta: Meta,
    ring: KeyRing,
    /** `keyFile()` is read at each reload (SqliteBuffer owns the path). */
    private readonly file: { keyFile: () => string; keyProtection: KeyProtection; dbPath: string },
    private readonly log: Logger,
    private readonly report: LogLimited,
  ) {
    this.ring = ring;
    try {
      this.fileMtime = statSync(file.keyFile()).mtimeMs;
    } catch {
      /* checked by loadKeyRing already */
    }
    // Integers as bigints: a fingerprint stored as an integer (see storedFingerprint) compares exactly.
    const fps = db.prepare("SELECT k, v FROM meta WHERE k LIKE 'k%.fp'").safeIntegers(true);
    for (const row of fps.all() as { k: string; v: unknown }[]) {
      const id = metaKey.fingerprintKeyId(row.k);
      this.use.set(id, { fingerprint: row.v, seals: meta.num(metaKey.keySeals(id)) ?? 0, units: meta.num(metaKey.keyUnits(id)) ?? 0 });
    }
  }

  /** Checks the key ring against the database (see check(ring)); done once at open. */
  checkRing(): void {
    this.check(this.ring);
  }

  /**
   * A key id the database knows must have the same fingerprint in the key file, and every key
   * that seals buffered units must be there: a key file that lacks one is a configuration
   * error (refused, naming the ids), never a reason to quarantine the backlog. The active key
   * gets registered.
   */
  private check(ring: KeyRing): void {
    const missing: { id: number; units: number }[] = [];
    for (const [id, use] of this.use) {
      const fp = ring.fingerprint(id);
      if (fp !== undefined && !fingerprintMatches(use.fingerprint, fp)) {
        throw new KeyFileError(
          `key ${id} in ${ring.path} is not the key this buffer was sealed with (fingerprint mismatch); refusing to use the wrong key file for ` +
            `${this.file.dbPath}. ` +
            'Restore the right key file, or move the buffer database aside to start empty (its units cannot be read without that key).',
        );
      }
      if (fp === undefined && use.units > 0) missing.push({ id, units: use.units });
      // The right key, its fingerprint saved as a number by SQLite: saved again as a BLOB.
      if (fp !== undefined && (typeof use.fingerprint === 'number' || typeof use.fingerprint === 'bigint')) {
        use.fingerprint = storedFingerprint(fp);
        this.meta.set(metaKey.keyFingerprint(id), use.fingerprint);
      }
    }
    if (missing.length > 0) {
      const ids = missing.map((m) => m.id).join(', ');
      const units = missing.reduce((a, m) => a + m.units, 0);
      throw new KeyFileError(
        `key file ${ring.path} lacks key ${missing.length > 1 ? 'ids' : 'id'} ${ids}, which ${missing.length > 1 ? 'seal' : 'seals'} ${units} buffered ` +
          `unit(s) in ${this.file.dbPath}; ` +
          `the buffer needs key ids ${this.inUse().join(', ')}. Restore the key file that holds them (nothing was quarantined).`,
      );
    }
    const active = ring.activeKeyId;
    if (!this.use.has(active)) {
      const use = { fingerprint: storedFingerprint(ring.fingerprint(active)!), seals: 0, units: 0 };
      this.db.transaction(() => {
        this.meta.set(metaKey.keyFingerprint(active), use.fingerprint);
        this.meta.set(metaKey.keySeals(active), 0);
        this.meta.set(metaKey.keyUnits(active), 0);
      })();
      this.use.set(active, use);
    }
  }

  /**
   * Re-reads the key file (after `wardgate keygen --rotate`): new units use the new active
   * key, old ones stay readable. Also done automatically when the file's mtime changes.
   * Throws (and keeps the current keys) when the new file is unusable.
   */
  reload(): { activeKeyId: number; keyIds: readonly number[] } {
    const ring = loadKeyRing(this.file.keyFile(), this.file.keyProtection);
    this.check(ring);
    const before = this.ring.activeKeyId;
    this.ring = ring;
    if (ring.activeKeyId !== before) this.log.info({ activeKeyId: ring.activeKeyId, previous: before }, 'key file reloaded: new units use the new active key');
    return { activeKeyId: ring.activeKeyId, keyIds: ring.keyIds };
  }

  /** Reloads the key file when its mtime changed (throws when it cannot be read). */
  reloadIfChanged(): void {
    const m = statSync(this.file.keyFile()).mtimeMs;
    if (m !== this.fileMtime) {
      // Recorded only once the reload succeeded: a file caught half-written, or refused, is tried again next time.
      this.reload();
      this.fileMtime = m;
    }
  }

  get activeKeyId(): number {
    return this.ring.activeKeyId;
  }

  active(): ActiveKey {
    const keyId = this.ring.activeKeyId;
    return { keyId, key: this.ring.get(keyId)!, use: this.use.get(keyId)! };
  }

  /** The key with this id, or undefined when the key file lacks it. */
  key(keyId: number): Buffer | undefined {
    return this.ring.get(keyId);
  }

  /** Throws when sealing `units` more units would pass the key's seal limit. */
  assertCanSeal(activeKey: ActiveKey, units: number): void {
    if (activeKey.use.seals + units > SEAL_LIMIT_PER_KEY) {
      throw new Error(`key ${activeKey.keyId} reached its seal limit (${SEAL_LIMIT_PER_KEY}); rotate the key (wardgate keygen --rotate)`);
    }
  }

  /** Inside the transaction that changes them: writes the counts of known keys to the meta table. */
  writeCounts(counts: KeyCounts): void {
    for (const [keyId, d] of counts) {
      const use = this.use.get(keyId);
      if (!use) continue;
      if (d.seals !== 0) this.meta.set(metaKey.keySeals(keyId), use.seals + d.seals);
      if (d.units !== 0) this.meta.set(metaKey.keyUnits(keyId), Math.max(0, use.units + d.units));
    }
  }

  /** After that transaction committed: memory follows. */
  applyCounts(counts: KeyCounts): void {
    for (const [keyId, d] of counts) {
      const use = this.use.get(keyId);
      if (!use) continue;
      use.seals += d.seals;
      use.units = Math.max(0, use.units + d.units);
    }
  }

  /** Warns once when a commit takes the key past 2^31 seals. */
  warnIfWorn(activeKey: ActiveKey, sealsBefore: number): void {
    if (sealsBefore < SEAL_WARN_PER_KEY && activeKey.use.seals >= SEAL_WARN_PER_KEY)
      this.report('warn', { keyId: activeKey.keyId, seals: activeKey.use.seals }, 'key has sealed more than 2^31 units; rotate it (wardgate keygen --rotate)');
  }

  /** Key ids that seal buffered units (a retired key may be removed only when absent here and from quarantine). */
  inUse(): number[] {
    return [...this.use]
      .filter(([, u]) => u.units > 0)
      .map(([id]) => id)
      .sort((a, b) => a - b);
  }
}
