/**
 * A key whose fingerprint SQLite reads as a number. The meta table's `v ANY` column has NUMERIC
 * affinity, so the fingerprint text '0123456789012345' was stored as the integer 123456789012345
 * and '12e4567890123456' as Infinity; the next open then refused the right key file as "not the
 * key this buffer was sealed with" (about one key in 770: a gateway that would not start again).
 * The keys here are searched for such fingerprints; the readings appended must come back after a
 * reopen, and after a salvage; a buffer written before the fix (the number in the table) must open
 * with its own key and still refuse another.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DB_FILE } from '../../src/buffer/index.js';
import type { Reading } from '../../src/reading.js';
import { drainAll, type TestEnv, testEnv, withPriority } from './helpers.js';
import { destroyPage, vitalUnitPages } from './pages.js';

/** The fingerprint keys.ts gives a key (the first 8 bytes of HMAC-SHA256(key, label), hex), computed here on its own. */
const fingerprintOf = (key: Buffer): string => createHmac('sha256', key).update('wardgate key check v1').digest().subarray(0, 8).toString('hex');

/** A random key whose fingerprint matches `form`. */
function keyWhose(form: RegExp): { key: Buffer; fp: string } {
  for (;;) {
    const key = randomBytes(32);
    const fp = fingerprintOf(key);
    if (form.test(fp)) return { key, fp };
  }
}

function writeKeyFile(path: string, key: Buffer): void {
  const doc = { format: 'wardgate-keys', version: 1, active: 1, keys: [{ id: 1, created: new Date().toISOString(), key: key.toString('base64') }] };
  writeFileSync(path, JSON.stringify(doc));
  chmodSync(path, 0o600);
}

/** What SQLite holds for the fingerprint, as SQL sees it. */
function storedFp(env: TestEnv): { t: string; v: unknown } {
  const db = new Database(join(env.dir, DB_FILE), { readonly: true });
  try {
    return db.prepare("SELECT typeof(v) AS t, v FROM meta WHERE k = 'k1.fp'").get() as { t: string; v: unknown };
  } finally {
    db.close();
  }
}

const seqs = (rs: Reading[]) => rs.filter((r) => r.metric !== 'gateway_event').map((r) => r.seq);

const FORMS: [string, RegExp, string][] = [
  ['decimal digits only (stored as an integer)', /^[0-9]{16}$/, 'integer'],
  ['digits, an e, a long exponent (stored as Infinity)', /^[0-9]{1,12}e[0-9]{3,}$/, 'real'],
  ['digits, an e, an exponent past 64 bits (stored as a finite real)', /^[0-9]{13}e[1-9][0-9]$/, 'real'],
  ['digits, an e, a small exponent (stored as an integer)', /^[0-9]{14}e[0-4]$/, 'integer'],
];

let env: TestEnv;
beforeEach(() => {
  env = testEnv();
});
afterEach(() => env.cleanup());

describe('a key whose fingerprint reads as a number', () => {
  it.each(FORMS)('%s: the buffer opens again with its key and gives back every reading', async (_name, form) => {
    const { key } = keyWhose(form);
    writeKeyFile(env.keyFile, key);
    let buf = await env.open();
    await buf.append(withPriority(50, 'vital'));
    await buf.close();
    expect(storedFp(env).t).toBe('blob');
    buf = await env.open();
    const back = drainAll(buf, 1000);
    await buf.close();
    expect(seqs(back)).toHaveLength(50);
  });

  it.each(FORMS)(
    '%s, stored as a number by an earlier version: opens with its key, refuses another, and is stored again exactly',
    async (_name, form, sqlType) => {
      const { key, fp } = keyWhose(form);
      writeKeyFile(env.keyFile, key);
      let buf = await env.open();
      await buf.append(withPriority(20, 'vital'));
      await buf.close();
      // What the earlier version wrote: the fingerprint's text, which SQLite converts.
      const db = new Database(join(env.dir, DB_FILE));
      db.prepare("UPDATE meta SET v = ? WHERE k = 'k1.fp'").run(fp);
      db.close();
      expect(storedFp(env).t).toBe(sqlType);

      // Another key (whose fingerprint is not a number) is still refused.
      writeKeyFile(env.keyFile, keyWhose(/[a-f]/).key);
      await expect(env.open()).rejects.toThrow(/fingerprint mismatch/);

      writeKeyFile(env.keyFile, key);
      buf = await env.open();
      expect(seqs(drainAll(buf, 1000))).toHaveLength(20);
      await buf.close();
      const after = storedFp(env);
      expect(after.t).toBe('blob');
      expect((after.v as Buffer).toString('hex')).toBe(fp);
    },
  );

  it('a salvaged buffer keeps the key usable', async () => {
    const { key } = keyWhose(FORMS[0]![1]);
    writeKeyFile(env.keyFile, key);
    let buf = await env.open({ unitMaxReadings: 1, compress: false });
    await buf.append(withPriority(300, 'vital'));
    await buf.close();
    const path = join(env.dir, DB_FILE);
    const { leaves, rows } = vitalUnitPages(path);
    const lost = destroyPage(path, leaves[Math.floor(leaves.length / 2)]!, rows);
    expect(lost.size).toBeGreaterThan(3);

    buf = await env.open({ unitMaxReadings: 1, compress: false }); // salvages
    const first = drainAll(buf, 1000);
    await buf.close();
    expect(storedFp(env).t).toBe('blob'); // the salvaged file's fingerprint, in the form no affinity converts
    buf = await env.open({ unitMaxReadings: 1, compress: false }); // the salvaged file, opened again
    const second = drainAll(buf, 1000);
    await buf.close();
    expect([...seqs(first), ...seqs(second)].sort((a, b) => a - b)).toEqual(rows.map((r) => r.id).filter((id) => !lost.has(id)));
  });
});
