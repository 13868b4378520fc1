/**
 * The data key's limits while the gateway runs: a key seals at most SEAL_LIMIT_PER_KEY units
 * (random 96-bit nonces: the bound keeps the collision chance negligible), with a warning from
 * SEAL_WARN_PER_KEY on; a key file caught truncated (half-written, or emptied by mistake) while
 * the buffer runs is refused on the next reload and the keys in use stay in use.
 * The seal counts are set by the test in the database file (2^32 real seals would take days);
 * what was acknowledged and what comes out are the test's own.
 */

import { readFileSync, truncateSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DB_FILE } from '../../src/buffer/index.js';
import { SEAL_LIMIT_PER_KEY, SEAL_WARN_PER_KEY } from '../../src/crypto/aead.js';
import { generateKeyFile } from '../../src/crypto/keys.js';
import { createLogger } from '../../src/logger.js';
import { Events } from '../../src/metrics/events.js';
import { drainAll, reading, type TestEnv, testEnv } from '../buffer/helpers.js';

let env: TestEnv;
beforeEach(() => {
  env = testEnv('wg-keylimits-');
});
afterEach(() => env.cleanup());

/** A logger and events whose output the test reads. */
function capture() {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString('utf8').split('\n')) if (l.trim()) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  const log = createLogger({ level: 'debug', destination: sink });
  return { log, events: new Events(log), lines, text: () => lines.map((l) => JSON.stringify(l)).join('\n') };
}

/** Sets the seal count of a key in the closed buffer's database. */
function setSeals(keyId: number, seals: number): void {
  const db = new Database(join(env.dir, DB_FILE));
  db.prepare('UPDATE meta SET v = ? WHERE k = ?').run(seals, `k${keyId}.seals`);
  const changed = (db.prepare('SELECT changes() AS n').get() as { n: number }).n;
  db.close();
  expect(changed).toBe(1);
}

describe('per-key seal counter limits', () => {
  it('a key that reached SEAL_LIMIT_PER_KEY seals nothing more (the append is refused, nothing lost); after a rotation sealing goes on', async () => {
    let buf = await env.open();
    await buf.append([reading(0)]);
    await buf.close();
    setSeals(1, SEAL_LIMIT_PER_KEY - 2);
    buf = await env.open();
    const acked: number[] = [];
    const refused: string[] = [];
    for (const i of [1, 2, 3, 4]) {
      try {
        await buf.append([reading(i, { value: 1000 + i })]); // one reading, one unit, one seal per commit
        acked.push(1000 + i);
      } catch (e) {
        refused.push((e as Error).message);
      }
    }
    // Two seals were left under the limit: the third and fourth appends are refused, naming the remedy.
    expect(acked).toEqual([1001, 1002]);
    expect(refused).toHaveLength(2);
    for (const m of refused) expect(m).toMatch(/key 1 reached its seal limit .*keygen --rotate/);
    generateKeyFile(env.keyFile, { rotate: true });
    expect(buf.reloadKeys().activeKeyId).toBe(2);
    await buf.append([reading(5, { value: 1005 })]);
    acked.push(1005);
    const out = drainAll(buf).map((r) => r.value);
    expect(out.sort()).toEqual([reading(0).value, ...acked].sort());
    await buf.close();
  });

  it('warns once when a key passes SEAL_WARN_PER_KEY, naming the key and the remedy', async () => {
    let buf = await env.open();
    await buf.append([reading(0)]);
    await buf.close();
    setSeals(1, SEAL_WARN_PER_KEY - 2);
    const c = capture();
    buf = await env.open({ log: c.log, events: c.events });
    // Reported through the events table (buffer_warning{op=key_worn}): the remedy is the line's `what`.
    const worn = () => c.lines.filter((l) => `${l.msg} ${l.what}`.includes('rotate it') && l.keyId === 1);
    await buf.append([reading(1)]); // seal 2^31 - 1: under
    expect(worn()).toHaveLength(0);
    await buf.append([reading(2)]); // seal 2^31: passes
    expect(worn()).toHaveLength(1);
    await buf.append([reading(3)]);
    expect(worn()).toHaveLength(1);
    await buf.close();
  });
});

describe('a key file truncated while running', () => {
  it.each([
    ['emptied', (f: string) => writeFileSync(f, '')],
    ['cut in half', (f: string) => truncateSync(f, 40)],
  ])(
    '%s: the reload is refused (logged, no key byte), the keys in use stay, and the fixed file is picked up on a later pass even with the same mtime',
    async (_name, damage) => {
      let now = Date.now();
      const c = capture();
      const buf = await env.open({ now: () => now, maintenanceIntervalMs: 3_600_000, log: c.log, events: c.events });
      await buf.append([reading(0, { value: 2000 })]);
      generateKeyFile(env.keyFile, { rotate: true }); // key 2 is in the file but not yet loaded
      const good = readFileSync(env.keyFile);
      damage(env.keyFile);
      const damagedAt = new Date(Date.now() + 5000);
      utimesSync(env.keyFile, damagedAt, damagedAt);
      now += 6000;
      buf.maintain(); // must not throw, must not close the buffer
      expect(c.text()).toMatch(/buffer maintenance failed/);
      // Not a byte of the key file in the log (what was left of it after the cut included).
      const kept = good.subarray(0, 40).toString('utf8');
      const keyMaterial = (JSON.parse(good.toString('utf8')) as { keys: { key: string }[] }).keys.map((k) => k.key);
      for (const k of keyMaterial) expect(c.text()).not.toContain(k.slice(0, 10));
      expect(c.text()).not.toContain(kept.slice(20));
      expect(buf.activeKeyId).toBe(1);
      await buf.append([reading(1, { value: 2001 })]); // still sealing, under key 1
      // The file is written back whole, within the same mtime (a writer that finished within the
      // file system's time granularity): the failed reload did not record that mtime, so the next pass loads it.
      writeFileSync(env.keyFile, good, { mode: 0o600 });
      utimesSync(env.keyFile, damagedAt, damagedAt);
      now += 6000;
      buf.maintain();
      expect(buf.activeKeyId).toBe(2);
      await buf.append([reading(2, { value: 2002 })]);
      expect(
        drainAll(buf)
          .map((r) => r.value)
          .sort(),
      ).toEqual([2000, 2001, 2002]);
      await buf.close();
    },
  );
});
