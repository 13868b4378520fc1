import { unlinkSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DB_FILE } from '../../src/buffer/index.js';
import { generateKeyFile } from '../../src/crypto/keys.js';
import { drainAll, type TestEnv, testEnv, withPriority } from './helpers.js';

let env: TestEnv;
beforeEach(() => {
  env = testEnv();
});
afterEach(() => env.cleanup());

/** Fills 5 units of 10 vital readings (seqs 1-10, 11-20, ...), closes, and returns a raw connection. */
async function fiveUnits(): Promise<Database.Database> {
  const buf = await env.open({ unitMaxReadings: 10 });
  await buf.append(withPriority(50, 'vital'));
  await buf.close();
  return new Database(join(env.dir, DB_FILE));
}

async function drainAfter(): Promise<{ seqs: number[]; quarantined: number }> {
  const buf = await env.open({ unitMaxReadings: 10 });
  const seqs = drainAll(buf, 10).map((r) => r.seq);
  const quarantined = buf.stats().quarantined;
  expect(buf.stats().totalReadings).toBe(0);
  await buf.close();
  return { seqs, quarantined };
}

const range = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, i) => a + i);

describe('tamper detection', () => {
  it('a byte flipped in a stored unit: refused, quarantined, the rest drains', async () => {
    const db = await fiveUnits();
    const body = db.prepare('SELECT body FROM units_vital WHERE id = 21').pluck().get() as Buffer;
    body[20] = body[20]! ^ 0x40;
    db.prepare('UPDATE units_vital SET body = ? WHERE id = 21').run(body);
    db.close();
    const r = await drainAfter();
    expect(r.seqs).toEqual([...range(1, 20), ...range(31, 50)]);
    expect(r.quarantined).toBe(1);
    expect(await env.events.count('unit_quarantined', { reason: 'auth_failed' })).toBe(1);
    const raw = new Database(join(env.dir, DB_FILE), { readonly: true });
    expect(raw.prepare('SELECT id, reason FROM quarantine').all()).toEqual([{ id: 21, reason: 'auth_failed' }]);
    raw.close();
    // the loss is announced with a gap record naming the sequence range
    const buf = await env.open({ unitMaxReadings: 10 });
    const rest = drainAll(buf, 100);
    expect(rest.length).toBe(1);
    expect(rest[0]!.extra).toMatchObject({ event: 'gap', reason: 'quarantined', class: 'vital', firstSeq: 21, lastSeq: 30, count: 10, devicesKnown: false });
    await buf.close();
  });

  it('a unit copied over another (body swapped in) is refused', async () => {
    const db = await fiveUnits();
    db.prepare('UPDATE units_vital SET body = (SELECT body FROM units_vital WHERE id = 1) WHERE id = 31').run();
    db.close();
    const r = await drainAfter();
    expect(r.seqs).toEqual([...range(1, 30), ...range(41, 50)]);
    expect(r.quarantined).toBe(1);
  });

  it('edited clear columns (class, sequence range) are refused', async () => {
    const db = await fiveUnits();
    // promote a unit to the alarm class
    db.prepare('INSERT INTO units_alarm SELECT * FROM units_vital WHERE id = 11').run();
    db.prepare('DELETE FROM units_vital WHERE id = 11').run();
    db.prepare('UPDATE units_vital SET id = 1000 WHERE id = 41').run(); // move in sequence
    db.prepare('UPDATE units_vital SET n = 9 WHERE id = 31').run(); // shorten
    db.close();
    const r = await drainAfter();
    expect(r.seqs).toEqual([...range(1, 10), ...range(21, 30)]);
    expect(r.quarantined).toBe(3);
  });

  it('a unit sealed under a different key with the same id is refused; a wrong key file is refused at open', async () => {
    // Seal units with another key file that also calls its key "1".
    const other = testEnv();
    try {
      const ob = await other.open({ unitMaxReadings: 10 });
      await ob.append(withPriority(10, 'vital'));
      await ob.close();
      const foreign = new Database(join(other.dir, DB_FILE), { readonly: true });
      const fbody = foreign.prepare('SELECT body FROM units_vital WHERE id = 1').pluck().get() as Buffer;
      foreign.close();
      const db = await fiveUnits();
      db.prepare('UPDATE units_vital SET body = ? WHERE id = 11').run(fbody);
      db.close();
      const r = await drainAfter();
      expect(r.seqs).toEqual([...range(1, 10), ...range(21, 50)]);
      expect(r.quarantined).toBe(1);

      // The whole key file replaced by another one: refuse to open rather than quarantine the backlog.
      const buf = await env.open();
      await buf.append(withPriority(3, 'vital'));
      await buf.close();
      unlinkSync(env.keyFile);
      generateKeyFile(env.keyFile);
      await expect(env.open()).rejects.toThrow(/wrong key file|fingerprint/);
    } finally {
      other.cleanup();
    }
  });

  it('a delivered unit put back (replayed from an old copy) is refused, without a gap record', async () => {
    const db = await fiveUnits();
    const old = db.prepare('SELECT * FROM units_vital WHERE id IN (1, 11) ORDER BY id').all() as Record<string, unknown>[];
    db.close();
    let buf = await env.open({ unitMaxReadings: 10 });
    const l = buf.lease({ maxReadings: 20, maxBytes: 1 << 20 })!;
    expect(l.readings.map((r) => r.seq)).toEqual(range(1, 20));
    buf.ack(l.id);
    await buf.close();
    const raw = new Database(join(env.dir, DB_FILE));
    const ins = raw.prepare('INSERT INTO units_vital (id, n, gw, key_id, t, body) VALUES (@id, @n, @gw, @key_id, @t, @body)');
    for (const row of old) ins.run(row);
    raw.close();
    buf = await env.open({ unitMaxReadings: 10 });
    const seqs = drainAll(buf, 10).map((r) => r.seq);
    expect(seqs).toEqual(range(21, 50));
    expect(buf.stats().quarantined).toBe(2);
    expect(await env.events.count('unit_quarantined', { reason: 'replayed' })).toBe(2);
    await buf.flush();
    expect(buf.lease({ maxReadings: 100, maxBytes: 1 << 20 })).toBeNull(); // no gap record for a replay
    await buf.close();
  });
});
