import { utimesSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DB_FILE, readBufferStats } from '../../src/buffer/index.js';
import { generateKeyFile, loadKeyRing, removeKey } from '../../src/crypto/keys.js';
import type { PendingReading, PriorityClass } from '../../src/reading.js';
import { drainAll, reading, type TestEnv, testEnv } from './helpers.js';

let env: TestEnv;
beforeEach(() => {
  env = testEnv();
});
afterEach(() => env.cleanup());

const mixed = (start: number, n: number): PendingReading[] => {
  const ps: PriorityClass[] = ['alarm', 'vital', 'vital', 'status', 'waveform'];
  return Array.from({ length: n }, (_, k) => reading(start + k, { priorityClass: ps[k % ps.length]! }));
};

function keyIdsByTable(dir: string): Record<string, number[]> {
  const db = new Database(join(dir, DB_FILE), { readonly: true });
  try {
    const out: Record<string, number[]> = {};
    for (const t of ['alarm', 'vital', 'status', 'waveform']) {
      out[t] = db.prepare(`SELECT DISTINCT key_id FROM units_${t} ORDER BY key_id`).pluck().all() as number[];
    }
    return out;
  } finally {
    db.close();
  }
}

describe('key rotation', () => {
  it('across a restart with a mixed backlog: new units use the new key, old ones stay readable, the retired key is removable once drained', async () => {
    let buf = await env.open({ unitMaxReadings: 7 });
    const old = mixed(0, 60);
    await buf.append(old);
    const leased = buf.lease({ maxReadings: 5, maxBytes: 1 << 20 })!; // in flight when we stop
    expect(leased.priorityClass).toBe('alarm');
    await buf.close();

    expect(generateKeyFile(env.keyFile, { rotate: true }).activeKeyId).toBe(2);
    buf = await env.open({ unitMaxReadings: 7 });
    expect(buf.activeKeyId).toBe(2);
    const fresh = mixed(1000, 40);
    await buf.append(fresh);
    const kt = keyIdsByTable(env.dir);
    for (const t of ['alarm', 'vital', 'status', 'waveform']) expect(kt[t]).toEqual([1, 2]);
    const st = readBufferStats(env.dir, { keyFile: env.keyFile })!;
    expect(st.keyIdsInUse).toEqual([1, 2]);
    expect(() => removeKey(env.keyFile, 1, st.keyIdsInUse)).toThrow(/still seals/);

    // drain part of the backlog, restart, then the rest
    const first: (typeof leased.readings)[number][] = [];
    for (let i = 0; i < 4; i++) {
      const l = buf.lease({ maxReadings: 9, maxBytes: 1 << 20 })!;
      first.push(...l.readings);
      buf.ack(l.id);
    }
    expect(first[0]!.seq).toBe(leased.readings[0]!.seq); // the lease in flight at the stop was offered again
    await buf.close();
    buf = await env.open({ unitMaxReadings: 7 });
    const all = [...first, ...drainAll(buf, 9)];
    const key = (r: { gatewayTime: number; priorityClass: string }) => `${r.priorityClass}:${r.gatewayTime}`;
    expect(all.map(key).sort()).toEqual([...old, ...fresh].map(key).sort());
    // order: class by class, seq increasing inside a class, old before new
    const ranks = all.map((r) => ['alarm', 'vital', 'status', 'waveform'].indexOf(r.priorityClass));
    expect(ranks).toEqual([...ranks].sort((a, b) => a - b));
    const seqs = all.filter((r) => r.priorityClass === 'vital').map((r) => r.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(new Set(all.map((r) => r.seq)).size).toBe(all.length);
    expect(buf.keyIdsInUse()).toEqual([]);
    await buf.close();

    const after = readBufferStats(env.dir, { keyFile: env.keyFile })!;
    expect(after.keyIdsInUse).toEqual([]);
    expect(after.notes.join('\n')).toMatch(/retired keys\s+1 no longer seal/);
    expect(removeKey(env.keyFile, 1, after.keyIdsInUse).keyIds).toEqual([2]);
    // without key 1 the buffer opens and works
    buf = await env.open();
    await buf.append([reading(5000)]);
    expect(drainAll(buf).length).toBe(1);
    await buf.close();
  });

  it('a running buffer picks up a rotated key file (reloadKeys, or by itself on the next maintenance pass)', async () => {
    let now = Date.now();
    const buf = await env.open({ now: () => now, maintenanceIntervalMs: 60_000 });
    await buf.append(mixed(0, 10));
    generateKeyFile(env.keyFile, { rotate: true });
    expect(buf.reloadKeys().activeKeyId).toBe(2);
    await buf.append(mixed(100, 10));
    generateKeyFile(env.keyFile, { rotate: true });
    utimesSync(env.keyFile, new Date(), new Date(Date.now() + 5000)); // make sure the mtime moves
    now += 6000;
    buf.maintain();
    expect(buf.activeKeyId).toBe(3);
    await buf.append(mixed(200, 10));
    expect(keyIdsByTable(env.dir).vital).toEqual([1, 2, 3]);
    expect(drainAll(buf).length).toBe(30);
    await buf.close();
  });

  it('a key file whose key 1 is a different key is refused by reloadKeys and the old keys stay in use', async () => {
    const buf = await env.open();
    await buf.append(mixed(0, 5));
    const other = testEnv();
    try {
      expect(() => loadKeyRing(other.keyFile)).not.toThrow();
      const good = env.keyFile;
      (buf as unknown as { keyFile: string }).keyFile = other.keyFile;
      expect(() => buf.reloadKeys()).toThrow(/fingerprint/);
      (buf as unknown as { keyFile: string }).keyFile = good;
      expect(drainAll(buf).length).toBe(5);
    } finally {
      other.cleanup();
    }
    await buf.close();
  });
});
