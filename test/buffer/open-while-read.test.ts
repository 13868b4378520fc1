/**
 * Opening the buffer while another process reads it: `wardgate status` (or a monitoring script
 * calling it) reads the buffer's database read-only, and may do so at the instant the service
 * starts. The start must wait for that reader, not fail with "database is locked" (CI met it
 * once: test/integration/stop-grace.test.ts polls the buffer while the gateway creates it).
 * SQLite takes the lock to leave WAL mode without its busy handler, so a start that left WAL
 * (to set the page size of a new file) failed at once whenever a reader had the file open.
 * The reader here is a real second process holding a read transaction for a moment.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { DB_FILE } from '../../src/buffer/schema.js';
import { reading, type TestEnv, testEnv } from './helpers.js';

/**
 * A process that holds a transaction on `path` for holdMs (a read one, or an exclusive one that
 * also keeps readers out); resolves once it holds it.
 */
function holdLock(path: string, holdMs: number, kind: 'read' | 'exclusive' = 'read'): Promise<{ child: ChildProcess; done: Promise<number | null> }> {
  const script = `
    import Database from 'better-sqlite3';
    const db = new Database(${JSON.stringify(path)}, { readonly: ${kind === 'read'}, fileMustExist: true });
    db.exec(${JSON.stringify(kind === 'read' ? 'BEGIN' : 'BEGIN EXCLUSIVE')});
    db.prepare('SELECT count(*) FROM sqlite_master').pluck().get();
    process.stdout.write('held\\n');
    setTimeout(() => { db.exec('COMMIT'); db.close(); process.exit(0); }, ${holdMs});`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { cwd: process.cwd(), stdio: ['ignore', 'pipe', 'inherit'] });
  const done = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      if (d.toString().includes('held')) resolve({ child, done });
    });
    child.on('exit', (code) => reject(new Error(`the reader exited (${code}) before it held its lock`)));
  });
}

const pragma = (path: string, name: string): unknown => {
  const db = new Database(path, { readonly: true });
  try {
    return db.pragma(name, { simple: true });
  } finally {
    db.close();
  }
};

/** Files beside the database other than its own -wal and -shm: what a move aside leaves. */
const movedAside = (dir: string): string[] => readdirSync(dir).filter((f) => f.startsWith(DB_FILE) && !/^buffer\.db(-wal|-shm)?$/.test(f));

describe('the buffer opens while another process reads it', () => {
  let env: TestEnv | undefined;
  afterEach(() => env?.cleanup());

  const cases = {
    // What the start itself made of a new file before this was fixed, and what a start cut off
    // at that point leaves: WAL, one page in SQLite's default size (4096), no table yet.
    'a file cut off while it was created': async (path: string) => {
      mkdirSync(join(path, '..'), { recursive: true });
      const db = new Database(path);
      db.pragma('journal_mode = WAL');
      db.close();
      return [] as number[];
    },
    'a buffer from an earlier run': async () => {
      const first = await env!.open();
      await first.append([reading(1)]);
      await first.close();
      return [reading(1).value];
    },
  };

  for (const [state, make] of Object.entries(cases)) {
    it(`${state}: the open waits for the reader, keeps the file, and the buffer works in WAL with 1 KiB pages`, async () => {
      env = testEnv('wg-open-read-');
      const path = join(env.dir, DB_FILE);
      const before = await make(path);
      const reader = await holdLock(path, 500);
      const buf = await env.open();
      try {
        await buf.append([reading(2)]);
        const seen = buf.lease({ maxReadings: 10, maxBytes: 1 << 20 })!.readings.map((r) => r.value);
        expect(seen).toEqual([...before, reading(2).value]);
      } finally {
        await buf.close();
      }
      expect(await reader.done).toBe(0);
      expect(pragma(path, 'journal_mode')).toBe('wal');
      expect(pragma(path, 'page_size')).toBe(1024);
      // Not taken for a damaged file: nothing moved aside.
      expect(movedAside(env.dir)).toEqual([]);
    }, 20_000);
  }

  it('a lock held past the busy timeout: the start fails saying so, and the file is neither moved aside nor changed', async () => {
    env = testEnv('wg-open-locked-');
    const path = join(env.dir, DB_FILE);
    const first = await env.open();
    await first.append([reading(1)]);
    await first.close();
    // Rollback-journal mode, where an exclusive transaction keeps readers out too.
    const db = new Database(path);
    db.pragma('journal_mode = DELETE');
    db.close();
    const holder = await holdLock(path, 7000, 'exclusive');
    await expect(env.open()).rejects.toThrow(/locked by another process/);
    expect(await holder.done).toBe(0);
    expect(movedAside(env.dir)).toEqual([]);
    // The next start opens the same file, with its reading.
    const again = await env.open();
    try {
      expect(again.lease({ maxReadings: 10, maxBytes: 1 << 20 })!.readings.map((r) => r.value)).toEqual([reading(1).value]);
    } finally {
      await again.close();
    }
  }, 30_000);
});
