/**
 * The quarantine's reasons other than a failed tag:
 *  - decode_failed: a unit that authenticates under its key but does not decode (a bug in an
 *    older writer, or a key holder's forgery) is quarantined with that reason and announced as
 *    a gap; the other units drain;
 *  - unknown_key: a unit naming a key id the key file lacks is NOT quarantined (a configuration
 *    problem, issue 10 item 4): it is kept in the file and held back, and the rest drains.
 * The damaged units are made by the test in the database file; the expected seqs are its own.
 */

import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DB_FILE } from '../../src/buffer/index.js';
import { unitAad } from '../../src/buffer/seal.js';
import { cipherByIndex, seal } from '../../src/crypto/aead.js';
import { loadKeyRing } from '../../src/crypto/keys.js';
import { PRIORITY_CLASSES } from '../../src/reading.js';
import { drainAll, type TestEnv, testEnv, withPriority } from '../buffer/helpers.js';

let env: TestEnv;
beforeEach(() => {
  env = testEnv('wg-qreasons-');
});
afterEach(() => env.cleanup());

const range = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, i) => a + i);
const VITAL = PRIORITY_CLASSES.indexOf('vital'); // the class index in units_vital's AAD
interface Row {
  id: number;
  n: number;
  gw: number;
  key_id: number;
  body: Buffer;
}

/** 5 units of 10 vital readings (seqs 1-10, 11-20, ...); returns a raw connection to the closed buffer. */
async function fiveUnits(): Promise<Database.Database> {
  const buf = await env.open({ unitMaxReadings: 10 });
  await buf.append(withPriority(50, 'vital'));
  await buf.close();
  return new Database(join(env.dir, DB_FILE));
}

describe('quarantine reasons', () => {
  it('decode_failed: a unit that authenticates but does not decode is quarantined with that reason and announced as a gap; the rest drains', async () => {
    const db = await fiveUnits();
    const row = db.prepare('SELECT id, n, gw, key_id, body FROM units_vital WHERE id = 21').get() as Row;
    const gatewayId = (db.prepare('SELECT gateway_id FROM gateways WHERE gw = ?').get(row.gw) as { gateway_id: string }).gateway_id;
    const key = loadKeyRing(env.keyFile).get(row.key_id)!;
    const format = row.body[0]! & ~1; // same version and cipher, not deflated
    const cipher = cipherByIndex((format >> 1) & 3);
    expect(cipher).toBeDefined();
    // Garbage under a valid tag, bound to the unit's place like a real one.
    const body = seal(
      cipher!,
      key,
      Buffer.from('not a unit encoding at all'),
      unitAad(Buffer.from(gatewayId, 'utf8'), VITAL, row.id, row.n, row.key_id, format),
      Buffer.of(format),
    );
    db.prepare('UPDATE units_vital SET body = ? WHERE id = 21').run(body);
    db.close();

    const buf = await env.open({ unitMaxReadings: 10 });
    const out = drainAll(buf, 10);
    const seqs = out.filter((r) => r.extra?.event !== 'gap').map((r) => r.seq);
    expect(seqs).toEqual([...range(1, 20), ...range(31, 50)]);
    expect(await env.events.count('unit_quarantined', { reason: 'decode_failed' })).toBe(1);
    expect(await env.events.count('unit_quarantined', { reason: 'auth_failed' })).toBe(0);
    await buf.flush();
    const gaps = drainAll(buf, 10).filter((r) => r.extra?.event === 'gap');
    const allGaps = [...out.filter((r) => r.extra?.event === 'gap'), ...gaps];
    expect(allGaps.map((g) => g.extra)).toEqual([expect.objectContaining({ reason: 'quarantined', class: 'vital', firstSeq: 21, lastSeq: 30, count: 10 })]);
    await buf.close();
    const raw = new Database(join(env.dir, DB_FILE), { readonly: true });
    expect(raw.prepare('SELECT id, reason FROM quarantine').all()).toEqual([{ id: 21, reason: 'decode_failed' }]);
    raw.close();
  });

  it('unknown_key: a unit naming a key id the key file lacks is kept and held back, never quarantined; the rest drains', async () => {
    const db = await fiveUnits();
    db.prepare('UPDATE units_vital SET key_id = 99 WHERE id = 31').run();
    db.close();
    const buf = await env.open({ unitMaxReadings: 10 });
    const seqs = drainAll(buf, 10)
      .filter((r) => r.extra?.event !== 'gap')
      .map((r) => r.seq);
    expect(seqs).toEqual([...range(1, 30), ...range(41, 50)]);
    expect(await env.events.count('unit_quarantined')).toBe(0);
    await buf.close();
    const raw = new Database(join(env.dir, DB_FILE), { readonly: true });
    expect(raw.prepare('SELECT COUNT(*) AS n FROM quarantine').get()).toEqual({ n: 0 });
    expect(raw.prepare('SELECT id, key_id FROM units_vital').all()).toEqual([{ id: 31, key_id: 99 }]);
    raw.close();
  });
});
