/**
 * integrityCheck 'background': a buffer with damaged b-tree pages opens
 * (ready at once), the check on its worker thread finds the damage, leasing stops and the
 * damage is reported; the next start checks before opening, moves the file aside and salvages.
 * A healthy buffer passes, and nothing is reported.
 */

import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { checkFailedFile } from '../../src/buffer/background-check.js';
import { DB_FILE } from '../../src/buffer/index.js';
import { type TestEnv, testEnv, withPriority } from './helpers.js';
import { scribble } from './pages.js';

let env: TestEnv;
beforeEach(() => {
  env = testEnv('wg-bgcheck-');
});
afterEach(() => env.cleanup());

const aside = () => readdirSync(env.dir).filter((f) => f.startsWith(`${DB_FILE}.corrupt-`) && !/-(wal|shm)$/.test(f));

describe('integrity check in the background', () => {
  it('a healthy buffer passes; nothing is reported and leasing goes on', async () => {
    let buf = await env.open({ integrityCheck: 'background' });
    await buf.append(withPriority(200, 'vital'));
    await buf.close();
    buf = await env.open({ integrityCheck: 'background' });
    const damaged: string[] = [];
    buf.onDamaged((r) => damaged.push(r));
    expect(buf.backgroundCheck).toBeDefined();
    expect(await buf.backgroundCheck!.done).toEqual({ ok: true });
    expect(damaged).toEqual([]);
    expect(buf.lease({ maxReadings: 1000, maxBytes: 1 << 20 })?.readings.length).toBe(200);
    await buf.close();
    expect(existsSync(checkFailedFile(join(env.dir, DB_FILE)))).toBe(false);
  });

  it('a database cut off while it was being created (no tables yet) opens as at-open does: nothing moved aside, nothing quarantined', async () => {
    // What a power cut in the first start's schema creation leaves (found by the power-loss harness).
    const path = join(env.dir, DB_FILE);
    mkdirSync(env.dir, { recursive: true, mode: 0o700 });
    const raw = new Database(path);
    raw.pragma('journal_mode = WAL');
    raw.close();
    for (const integrityCheck of ['background', 'at-open'] as const) {
      const buf = await env.open({ integrityCheck });
      await buf.append(withPriority(3, 'vital'));
      expect(aside(), integrityCheck).toEqual([]);
      expect(await env.events.count('unit_quarantined'), integrityCheck).toBe(0);
      expect(buf.lease({ maxReadings: 10, maxBytes: 1 << 20 })?.readings.length, integrityCheck).toBe(3 * (integrityCheck === 'background' ? 1 : 2));
      await buf.close();
    }
  });

  it(
    'damaged b-tree pages: the buffer opens, the background check reports the damage, leasing stops; the next start moves the file aside and ' + 'salvages',
    async () => {
      let buf = await env.open({ unitMaxReadings: 20, integrityCheck: 'background' });
      for (let i = 0; i < 30; i++) await buf.append(withPriority(40, 'vital', i * 40));
      await buf.close();
      const path = join(env.dir, DB_FILE);
      const size = statSync(path).size;
      for (let off = 4 * 1024; off < size; off += 8 * 1024) scribble(path, off, 64);

      buf = await env.open({ unitMaxReadings: 20, integrityCheck: 'background' });
      expect(aside()).toEqual([]); // not checked whole before opening
      const damaged: string[] = [];
      buf.onDamaged((r) => damaged.push(r));
      const result = await buf.backgroundCheck!.done;
      expect(result.ok).toBe(false);
      expect(damaged.length).toBe(1);
      expect(damaged[0]).toMatch(/quick_check|CORRUPT/);
      expect(buf.lease({ maxReadings: 1000, maxBytes: 1 << 20 })).toBeNull();
      expect(existsSync(checkFailedFile(path))).toBe(true);
      await buf.close();

      buf = await env.open({ unitMaxReadings: 20, integrityCheck: 'background' });
      expect(aside().length).toBe(1);
      expect(existsSync(checkFailedFile(path))).toBe(false);
      expect(await env.events.count('unit_quarantined', { reason: 'database_corrupt' })).toBe(1);
      const l = buf.lease({ maxReadings: 100, maxBytes: 1 << 20 })!;
      expect(l.readings[0]!.extra).toMatchObject({ event: 'buffer_corrupt' });
      await buf.close();
    },
  );
});
