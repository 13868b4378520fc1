/**
 * A key file that lacks a key id the backlog uses is a configuration error: the buffer refuses
 * to open (naming the key ids it needs) and quarantines nothing; with the key back, every
 * reading is there. A running buffer refuses such a key file on reload and keeps its keys.
 */

import { readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DB_FILE } from '../../src/buffer/index.js';
import { generateKeyFile, KeyFileError } from '../../src/crypto/keys.js';
import { ConfigurationError } from '../../src/errors.js';
import { drainAll, type TestEnv, testEnv, withPriority } from './helpers.js';

let env: TestEnv;
beforeEach(() => {
  env = testEnv();
});
afterEach(() => env.cleanup());

/** Rewrites the key file without the key `id` (as a careless restore would), keeping mode 0600. */
function dropKey(keyFile: string, id: number): string {
  const before = readFileSync(keyFile, 'utf8');
  const doc = JSON.parse(before) as { keys: { id: number }[] };
  doc.keys = doc.keys.filter((k) => k.id !== id);
  writeFileSync(keyFile, JSON.stringify(doc), { mode: 0o600 });
  return before;
}

const quarantined = (dir: string): number => {
  const db = new Database(join(dir, DB_FILE), { readonly: true });
  try {
    return db.prepare('SELECT count(*) FROM quarantine').pluck().get() as number;
  } finally {
    db.close();
  }
};

describe('a key file missing a key id in use', () => {
  it('is refused at open naming the key ids; nothing is quarantined; with the key restored all 305 readings drain', async () => {
    let buf = await env.open({ unitMaxReadings: 20 });
    await buf.append(withPriority(305, 'vital'));
    await buf.close();
    generateKeyFile(env.keyFile, { rotate: true }); // key 2 active; key 1 seals the backlog
    const good = dropKey(env.keyFile, 1);

    let err: unknown;
    try {
      buf = await env.open({ unitMaxReadings: 20 });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(KeyFileError);
    expect(err).toBeInstanceOf(ConfigurationError);
    expect((err as Error).message).toMatch(/lacks key id 1\b/);
    expect((err as Error).message).toMatch(/needs key ids 1\b/);
    expect(quarantined(env.dir)).toBe(0);

    writeFileSync(env.keyFile, good, { mode: 0o600 });
    buf = await env.open({ unitMaxReadings: 20 });
    const out = drainAll(buf);
    expect(out.length).toBe(305);
    expect(buf.stats().quarantined).toBe(0);
    await buf.close();
  });

  it('a running buffer refuses to reload such a key file and keeps draining with the keys it has', async () => {
    const buf = await env.open({ unitMaxReadings: 20 });
    await buf.append(withPriority(40, 'vital'));
    generateKeyFile(env.keyFile, { rotate: true });
    dropKey(env.keyFile, 1);
    expect(() => buf.reloadKeys()).toThrow(/lacks key id 1\b/);
    expect(drainAll(buf).length).toBe(40);
    expect(buf.stats().quarantined).toBe(0);
    await buf.close();
  });
});

describe('reloadIfChanged', () => {
  it('retries a reload that failed: the mtime is recorded only after a reload succeeds', async () => {
    let now = Date.now();
    const buf = await env.open({ now: () => now, maintenanceIntervalMs: 60_000 });
    const good = readFileSync(env.keyFile, 'utf8');
    generateKeyFile(env.keyFile, { rotate: true });
    const rotated = readFileSync(env.keyFile, 'utf8');
    // The rotated file is caught half-written: not valid JSON, with a new mtime.
    writeFileSync(env.keyFile, rotated.slice(0, 40), { mode: 0o600 });
    const t = new Date(statSync(env.keyFile).mtimeMs + 10_000);
    utimesSync(env.keyFile, t, t);
    now += 6000;
    buf.maintain();
    expect(buf.activeKeyId).toBe(1);
    // The write completes; the mtime stays what the failed pass saw.
    writeFileSync(env.keyFile, rotated, { mode: 0o600 });
    utimesSync(env.keyFile, t, t);
    now += 6000;
    buf.maintain();
    expect(buf.activeKeyId).toBe(2);
    expect(good).not.toBe(rotated);
    await buf.close();
  });
});
