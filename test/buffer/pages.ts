/** Damage on disk, as the buffer's damage tests make it: bytes of a database file overwritten in place. */
import { closeSync, openSync, readSync, writeSync } from 'node:fs';
import Database from 'better-sqlite3';

/** The buffer's SQLite page size (a new database's default). */
export const PAGE = 1024;

/** Overwrites `len` bytes at `offset` with 0xa5. */
export function scribble(path: string, offset: number, len: number): void {
  const fd = openSync(path, 'r+');
  try {
    writeSync(fd, Buffer.alloc(len, 0xa5), 0, len, offset);
  } finally {
    closeSync(fd);
  }
}

/** Page `pageno` (1-based) as it is on disk. */
export function readPage(path: string, pageno: number): Buffer {
  const fd = openSync(path, 'r');
  try {
    const b = Buffer.alloc(PAGE);
    readSync(fd, b, 0, PAGE, (pageno - 1) * PAGE);
    return b;
  } finally {
    closeSync(fd);
  }
}

/** Overwrites page `pageno` and returns the ids of the rows whose bodies it held. */
export function destroyPage(path: string, pageno: number, rows: readonly { id: number; body: Buffer }[]): Set<number> {
  const page = readPage(path, pageno);
  scribble(path, (pageno - 1) * PAGE, PAGE);
  return new Set(rows.filter((r) => page.includes(r.body)).map((r) => r.id));
}

/** The vital class's units in a closed database file: its table's leaf pages in order, and its rows (id, sealed body). */
export function vitalUnitPages(path: string): { leaves: number[]; rows: { id: number; body: Buffer }[] } {
  const db = new Database(path, { readonly: true });
  try {
    const leaves = db.prepare("SELECT pageno FROM dbstat WHERE name = 'units_vital' AND pagetype = 'leaf' ORDER BY pageno").pluck().all() as number[];
    const rows = db.prepare('SELECT id, body FROM units_vital ORDER BY id').all() as { id: number; body: Buffer }[];
    return { leaves, rows };
  } finally {
    db.close();
  }
}
