/**
 * A unit that fails authentication but cannot be moved to the quarantine table (the insert
 * fails: disk full, or here a trigger) is kept out of leases and kept in the file: never
 * deleted as if it had been delivered.
 */

import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DB_FILE } from '../../src/buffer/index.js';
import { drainAll, type TestEnv, testEnv, withPriority } from './helpers.js';

let env: TestEnv;
beforeEach(() => {
  env = testEnv();
});
afterEach(() => env.cleanup());

describe('quarantine that fails', () => {
  it('holds the unit back and keeps it; the rest drains; nothing is deleted unsent', async () => {
    let buf = await env.open({ unitMaxReadings: 10 });
    await buf.append(withPriority(50, 'vital'));
    await buf.close();
    const db = new Database(join(env.dir, DB_FILE));
    const body = db.prepare('SELECT body FROM units_vital WHERE id = 21').pluck().get() as Buffer;
    body[20] = body[20]! ^ 0x40;
    db.prepare('UPDATE units_vital SET body = ? WHERE id = 21').run(body);
    db.exec("CREATE TRIGGER q_fail BEFORE INSERT ON quarantine BEGIN SELECT RAISE(ABORT, 'quarantine refused'); END;");
    db.close();

    buf = await env.open({ unitMaxReadings: 10 });
    const seqs = drainAll(buf, 10).map((r) => r.seq);
    expect(seqs).toEqual([...Array.from({ length: 20 }, (_, i) => i + 1), ...Array.from({ length: 20 }, (_, i) => i + 31)]);
    buf.maintain();
    await buf.close();
    const raw = new Database(join(env.dir, DB_FILE), { readonly: true });
    expect(raw.prepare('SELECT id FROM units_vital').pluck().all()).toEqual([21]);
    raw.close();
  });
});
