/**
 * Salvage: a database that failed its integrity check is moved aside (integrity.ts), and
 * what can still be read of it comes back into the fresh one. Every unit row that can be
 * read is authenticated under the key it names (its AEAD tag, and that it decodes): those
 * that pass are copied with their original seqs, key id and gateway, so they are forwarded
 * as if nothing had happened; those that fail go to the quarantine table. What could not be
 * read at all is described per class as seq and time ranges, with the number of readings
 * lost when the damaged file's counters could be read: the caller turns that into gap
 * records and the `buffer_corrupt` alarm.
 *
 * How rows are found past a damaged page: unit rows are keyed by their first seq (the
 * rowid), so the reader seeks by id. A seek that fails lands on a damaged page; the smallest
 * id whose seek succeeds again (exponential then binary search) is where the readable rows
 * resume. Rows whose body alone is unreadable (an overflow page) are lost one by one, with
 * their id, count and time known. Memory stays bounded: rows are copied in small batches.
 */
import Database from 'better-sqlite3';
import { AuthenticationFailed } from '../crypto/aead.js';
import type { KeyRing } from '../crypto/keys.js';
import { PRIORITY_CLASSES } from '../reading.js';
import { CodecError } from './codec.js';
import { type LogLimited, sqliteErrorCode } from './diagnostics.js';
import { metaKey, NCLASS, type UnitRow, unitTable } from './schema.js';
import { openUnit } from './seal.js';

/** Seqs that could not be read, between two readable units of a class (bounds exclusive of those units). */
export interface LostRange {
  /** First and last seq the lost rows can hold. */
  firstSeq: number;
  lastSeq: number;
  /** Gateway times (ms) the lost readings lie between. */
  fromTime: number;
  toTime: number;
  /** Readings lost in this range when known (a row whose body alone was unreadable), else null. */
  readings: number | null;
}

export interface ClassSalvage {
  savedUnits: number;
  savedReadings: number;
  /** Readable rows that failed authentication or decoding: moved to the quarantine table. */
  quarantinedUnits: number;
  quarantinedReadings: number;
  /** Readings that could not be read, from the damaged file's counters; null when those were unreadable too. */
  lostReadings: number | null;
  lost: LostRange[];
  /** Quarantined rows, for their gap record: seq and time range. */
  quarantined: { firstSeq: number; lastSeq: number; fromTime: number; toTime: number } | null;
}

export interface SalvageReport {
  /** Whether the damaged file could be opened at all. */
  opened: boolean;
  classes: ClassSalvage[];
  savedReadings: number;
  /** Sum of the classes' lost readings; null when any class's count is unknown. */
  lostReadings: number | null;
  /** The damaged file's high-water mark, or the highest seq salvaged (0 when neither is known). */
  hwm: number;
  /** Short notes on what could not be read (table names and error codes, no content). */
  problems: string[];
}

const BATCH = 256;
/** Ids are seqs: below 2^53. */
const MAX_ID = Number.MAX_SAFE_INTEGER;

const emptyClass = (): ClassSalvage => ({
  savedUnits: 0,
  savedReadings: 0,
  quarantinedUnits: 0,
  quarantinedReadings: 0,
  lostReadings: null,
  lost: [],
  quarantined: null,
});

function tryRun<T>(f: () => T): { ok: true; value: T } | { ok: false; code: string } {
  try {
    return { ok: true, value: f() };
  } catch (e) {
    return { ok: false, code: sqliteErrorCode(e) ?? (e as Error).name };
  }
}

/**
 * Copies what authenticates from the damaged database at `damagedPath` into `fresh` (schema
 * initialised, empty). Never throws for what it reads; the caller's transaction errors on
 * `fresh` propagate.
 */
export function salvageInto(
  damagedPath: string,
  fresh: Database.Database,
  ring: KeyRing,
  ownGatewayId: string,
  now: () => number,
  reportTo: LogLimited,
): SalvageReport {
  const report: SalvageReport = {
    opened: false,
    classes: Array.from({ length: NCLASS }, emptyClass),
    savedReadings: 0,
    lostReadings: null,
    hwm: 0,
    problems: [],
  };
  let old: Database.Database;
  try {
    old = new Database(damagedPath, { readonly: true, fileMustExist: true });
    old.pragma('cell_size_check = ON');
  } catch (e) {
    // Nothing can be read: every class is announced as lost, count unknown.
    report.problems.push(`cannot open the damaged database (${sqliteErrorCode(e) ?? 'error'})`);
    for (const classReport of report.classes) classReport.lost.push({ firstSeq: 1, lastSeq: 1, fromTime: 0, toTime: now(), readings: null });
    return report;
  }
  report.opened = true;
  try {
    // What the damaged file's bookkeeping still says (each part may be unreadable).
    const meta = new Map<string, unknown>();
    const m = tryRun(() => old.prepare('SELECT k, v FROM meta').all() as { k: string; v: unknown }[]);
    if (m.ok) for (const r of m.value) meta.set(r.k, r.v);
    else report.problems.push(`meta: ${m.code}`);
    const num = (k: string): number | undefined => (typeof meta.get(k) === 'number' ? (meta.get(k) as number) : undefined);
    const gateways = new Map<number, string>();
    const g = tryRun(() => old.prepare('SELECT gw, gateway_id FROM gateways').all() as { gw: number; gateway_id: string }[]);
    if (g.ok) for (const r of g.value) gateways.set(r.gw, r.gateway_id);
    else report.problems.push(`gateways: ${g.code}`);
    // Without the gateways table a row can only be this gateway's (and authentication says whether it is).
    const gatewayOf = (gw: number): string => gateways.get(gw) ?? ownGatewayId;
    const gwBytes = new Map<string, Buffer>();
    const bytesOf = (id: string): Buffer => {
      let bytes = gwBytes.get(id);
      if (!bytes) {
        bytes = Buffer.from(id, 'utf8');
        gwBytes.set(id, bytes);
      }
      return bytes;
    };

    const usedGw = new Map<number, string>();
    const keyUnits = new Map<number, number>();
    let maxEnd = 0;
    const insGw = fresh.prepare('INSERT OR IGNORE INTO gateways (gw, gateway_id) VALUES (?, ?)');
    const insQ = fresh.prepare('INSERT INTO quarantine (id, cls, n, gw, key_id, t, body, reason, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)');

    for (let classIndex = 0; classIndex < NCLASS; classIndex++) {
      const classReport = report.classes[classIndex]!;
      const table = unitTable(classIndex);
      const ins = fresh.prepare(`INSERT INTO ${table} (id, n, gw, key_id, t, body) VALUES (?, ?, ?, ?, ?, ?)`);
      // Preparing reads the schema: a damaged schema page makes the whole table unreadable.
      const stmts = tryRun(() => ({
        sel: old.prepare(`SELECT id, n, gw, key_id, t, body FROM ${table} WHERE id >= ? ORDER BY id LIMIT ?`),
        head: old.prepare(`SELECT id, n, t FROM ${table} WHERE id >= ? ORDER BY id LIMIT 1`),
        probe: old.prepare(`SELECT id FROM ${table} WHERE id >= ? ORDER BY id LIMIT 1`).pluck(),
      }));
      if (!stmts.ok) {
        report.problems.push(`${table}: ${stmts.code}`);
        const counted = num(metaKey.counter(classIndex, 'readings'));
        if (counted === 0) {
          classReport.lostReadings = 0;
          continue;
        }
        classReport.lost.push({ firstSeq: 1, lastSeq: Math.max(1, num(metaKey.hwm) ?? 1), fromTime: 0, toTime: now(), readings: counted ?? null });
        classReport.lostReadings = counted ?? null;
        continue;
      }
      const { sel, head, probe } = stmts.value;
      const seeks = (id: number): boolean => tryRun(() => probe.get(id)).ok;

      /** Last seq and time of the last readable unit (the start of a lost range). */
      let prevEnd = 0;
      let prevTime = 0;
      /** Set while rows are missing: the range opens at prevEnd and closes at the next readable row. */
      let open: { readings: number | null } | null = null;
      const qAcc = { firstSeq: Infinity, lastSeq: -Infinity, fromTime: Infinity, toTime: -Infinity };
      const closeLost = (nextId: number | null, nextTime: number | null): void => {
        if (!open) return;
        classReport.lost.push({
          firstSeq: prevEnd + 1,
          lastSeq: nextId === null ? Math.max(prevEnd + 1, num(metaKey.hwm) ?? prevEnd + 1) : nextId - 1,
          fromTime: prevTime,
          // A unit's t is its oldest reading's whole second: the next unit's readings end within it.
          toTime: nextTime === null ? now() : nextTime + 999,
          readings: open.readings,
        });
        open = null;
      };
      const lose = (readings: number | null): void => {
        if (!open) open = { readings };
        else open.readings = open.readings === null || readings === null ? null : open.readings + readings;
      };

      let pending: UnitRow[] = [];
      const flush = (): void => {
        if (pending.length === 0) return;
        const rows = pending;
        pending = [];
        fresh.transaction(() => {
          for (const row of rows) {
            const gwId = gatewayOf(row.gw);
            const key = ring.get(row.key_id);
            let ok = true;
            let reason = '';
            if (key) {
              try {
                openUnit(row, classIndex, key, bytesOf(gwId), gwId);
              } catch (e) {
                ok = false;
                reason = e instanceof AuthenticationFailed ? 'auth_failed' : e instanceof CodecError ? 'decode_failed' : 'open_failed';
              }
            }
            // A key the key file lacks is not a reason to quarantine: the row is kept, and the
            // key ledger refuses to start without that key (it is counted under its id below).
            if (!usedGw.has(row.gw)) {
              usedGw.set(row.gw, gwId);
              insGw.run(row.gw, gwId);
            }
            if (ok) {
              ins.run(row.id, row.n, row.gw, row.key_id, row.t, row.body);
              classReport.savedUnits += 1;
              classReport.savedReadings += row.n;
              keyUnits.set(row.key_id, (keyUnits.get(row.key_id) ?? 0) + 1);
            } else {
              insQ.run(row.id, classIndex, row.n, row.gw, row.key_id, row.t, row.body, `salvage_${reason}`, now());
              classReport.quarantinedUnits += 1;
              classReport.quarantinedReadings += row.n;
              qAcc.firstSeq = Math.min(qAcc.firstSeq, row.id);
              qAcc.lastSeq = Math.max(qAcc.lastSeq, row.id + row.n - 1);
              qAcc.fromTime = Math.min(qAcc.fromTime, row.t * 1000);
              qAcc.toTime = Math.max(qAcc.toTime, row.t * 1000 + 999);
            }
            maxEnd = Math.max(maxEnd, row.id + row.n - 1);
          }
        })();
      };
      const take = (row: UnitRow): void => {
        closeLost(row.id, row.t * 1000);
        pending.push(row);
        prevEnd = row.id + row.n - 1;
        prevTime = row.t * 1000;
        if (pending.length >= BATCH) flush();
      };

      let cursor = 0;
      if (!seeks(0) && !seeks(MAX_ID)) {
        // Nothing of the table can be reached (its root page is damaged).
        report.problems.push(`${table}: unreadable`);
        lose(null);
        closeLost(null, null);
      } else {
        for (;;) {
          const chunk = tryRun(() => sel.all(cursor, BATCH) as UnitRow[]);
          if (chunk.ok) {
            for (const row of chunk.value) take(row);
            if (chunk.value.length < BATCH) break;
            cursor = chunk.value[chunk.value.length - 1]!.id + 1;
            continue;
          }
          // Somewhere in this chunk a row cannot be read: go row by row.
          const one = tryRun(() => sel.get(cursor, 1) as UnitRow | undefined);
          if (one.ok) {
            if (!one.value) break;
            take(one.value);
            cursor = one.value.id + 1;
            continue;
          }
          const h = tryRun(() => head.get(cursor) as { id: number; n: number; t: number } | undefined);
          if (h.ok && h.value) {
            // The row is there but its body is not readable: lost, and known.
            report.problems.push(`${table}: unit ${h.value.id} (${chunk.code})`);
            lose(h.value.n);
            cursor = h.value.id + 1;
            continue;
          }
          // A damaged page: find the smallest id from which seeking works again.
          report.problems.push(`${table}: rows from id ${cursor} (${chunk.code})`);
          lose(null);
          let bad = cursor;
          let step = 1;
          let good = -1;
          while (bad + step <= MAX_ID) {
            if (seeks(bad + step)) {
              good = bad + step;
              break;
            }
            bad += step;
            step *= 2;
          }
          if (good < 0) {
            if (seeks(MAX_ID)) good = MAX_ID;
            else break;
          }
          while (good - bad > 1) {
            const mid = bad + Math.floor((good - bad) / 2);
            if (seeks(mid)) good = mid;
            else bad = mid;
          }
          cursor = good;
        }
        flush();
        closeLost(null, null);
      }
      flush();
      if (qAcc.lastSeq >= qAcc.firstSeq) classReport.quarantined = { ...qAcc };
      // How many readings the lost ranges held: the damaged file's count minus what was read.
      const counted = num(metaKey.counter(classIndex, 'readings'));
      const read = classReport.savedReadings + classReport.quarantinedReadings;
      if (classReport.lost.length === 0) classReport.lostReadings = 0;
      else if (counted !== undefined) classReport.lostReadings = Math.max(0, counted - read);
      else {
        const known = classReport.lost.every((l) => l.readings !== null);
        classReport.lostReadings = known ? classReport.lost.reduce((a, l) => a + (l.readings ?? 0), 0) : null;
      }
    }

    // The fresh database's bookkeeping, as the buffer keeps it.
    report.hwm = Math.max(num(metaKey.hwm) ?? 0, maxEnd);
    fresh.transaction(() => {
      const set = fresh.prepare('INSERT INTO meta (k, v) VALUES (?, ?) ON CONFLICT(k) DO UPDATE SET v = excluded.v');
      // No hwm here: the buffer starts the fresh database above every seq ever reserved (buffer.seq) and report.hwm.
      for (let classIndex = 0; classIndex < NCLASS; classIndex++) {
        const classReport = report.classes[classIndex]!;
        const bytes =
          (fresh
            .prepare(`SELECT coalesce(sum(length(body)), 0) FROM ${unitTable(classIndex)}`)
            .pluck()
            .get() as number) ?? 0;
        set.run(metaKey.counter(classIndex, 'readings'), classReport.savedReadings);
        set.run(metaKey.counter(classIndex, 'units'), classReport.savedUnits);
        set.run(metaKey.counter(classIndex, 'bytes'), bytes);
        const oldest = fresh
          .prepare(`SELECT min(id) FROM ${unitTable(classIndex)}`)
          .pluck()
          .get() as number | null;
        // The replay floor may only stay below every salvaged unit.
        const floor = Math.min(num(metaKey.floor(classIndex)) ?? 0, oldest ?? Infinity);
        set.run(metaKey.floor(classIndex), Number.isFinite(floor) ? floor : 0);
      }
      const keyIds = new Set<number>([...keyUnits.keys(), ...ring.keyIds]);
      for (const [k] of meta) if (/^k\d+\.fp$/.test(k)) keyIds.add(metaKey.fingerprintKeyId(k));
      for (const id of keyIds) {
        // As the damaged file held it (a text, a BLOB, or a number the next open stores again: key-ledger.ts).
        const fp = meta.get(metaKey.keyFingerprint(id)) ?? ring.fingerprint(id);
        if (fp === undefined) continue;
        const units = keyUnits.get(id) ?? 0;
        if (units === 0 && !meta.has(metaKey.keyFingerprint(id))) continue;
        set.run(metaKey.keyFingerprint(id), fp);
        // Seals count toward the key's nonce limit: never fewer than the damaged file said.
        set.run(metaKey.keySeals(id), Math.max(num(metaKey.keySeals(id)) ?? 0, units));
        set.run(metaKey.keyUnits(id), units);
      }
    })();
    report.savedReadings = report.classes.reduce((a, c) => a + c.savedReadings, 0);
    report.lostReadings = report.classes.some((c) => c.lostReadings === null) ? null : report.classes.reduce((a, c) => a + (c.lostReadings ?? 0), 0);
    reportTo(
      'warn',
      {
        saved: report.savedReadings,
        lost: report.lostReadings ?? 'unknown',
        problems: report.problems.slice(0, 10),
        perClass: report.classes.map((c, classIndex) => ({
          class: PRIORITY_CLASSES[classIndex],
          saved: c.savedReadings,
          lost: c.lostReadings,
          quarantined: c.quarantinedReadings,
        })),
      },
      'salvaged the readable units of the damaged buffer database',
    );
    return report;
  } finally {
    old.close();
  }
}
