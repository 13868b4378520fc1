/**
 * One damaged B-tree page does not cost the backlog: the database is moved aside, every unit
 * row that can still be read and authenticates comes back with its original seq, what was on
 * the damaged page is announced as a gap record (seq and time range, count), and the
 * buffer_corrupt alarm says how much was saved and lost. A real SQLite file; the test itself
 * destroys one leaf page of units_vital and knows which units lived there.
 */

import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DB_FILE } from '../../src/buffer/index.js';
import { generateKeyFile } from '../../src/crypto/keys.js';
import type { Reading } from '../../src/reading.js';
import { drainAll, type TestEnv, testEnv, withPriority } from './helpers.js';
import { PAGE, readPage, scribble, vitalUnitPages } from './pages.js';

let env: TestEnv;
beforeEach(() => {
  env = testEnv();
});
afterEach(() => env.cleanup());

const overwritePage = (path: string, pageno: number): void => scribble(path, (pageno - 1) * PAGE, PAGE);

describe('salvage after a damaged page', () => {
  it(
    'forwards every unit that still authenticates with its original seq, announces the lost ones as a gap record, and the alarm says saved and ' + 'lost',
    async () => {
      // 300 vital readings, one per unit, and 6 alarms: ~25 leaf pages of units_vital.
      let buf = await env.open({ unitMaxReadings: 1, compress: false });
      const offered = [...withPriority(6, 'alarm', 0), ...withPriority(300, 'vital', 100)];
      await buf.append(offered);
      // seq -> reading, as the buffer numbered them (leased, not acked: everything stays).
      const bySeq = new Map<number, Reading>();
      for (let l = buf.lease({ maxReadings: 1000, maxBytes: 1 << 30 }); l; l = buf.lease({ maxReadings: 1000, maxBytes: 1 << 30 }))
        for (const r of l.readings) bySeq.set(r.seq, r);
      expect(bySeq.size).toBe(306);
      await buf.close();

      const path = join(env.dir, DB_FILE);
      const { leaves, rows } = vitalUnitPages(path);
      expect(leaves.length).toBeGreaterThan(5);
      // A leaf in the middle: which units live on it is read from the page bytes themselves.
      const victim = leaves[Math.floor(leaves.length / 2)]!;
      const page = readPage(path, victim);
      const lostIds = rows.filter((r) => page.includes(r.body)).map((r) => r.id);
      expect(lostIds.length).toBeGreaterThan(3);
      overwritePage(path, victim);

      buf = await env.open({ unitMaxReadings: 1, compress: false });
      const aside = readdirSync(env.dir).filter((f) => f.startsWith(`${DB_FILE}.corrupt-`) && !/-(wal|shm)$/.test(f));
      expect(aside.length).toBe(1);
      expect(existsSync(join(env.dir, aside[0]!))).toBe(true);
      const out = drainAll(buf);
      await buf.close();

      const lost = new Set(lostIds);
      const expected = [...bySeq.values()].filter((r) => !lost.has(r.seq));
      const device = out.filter((r) => r.metric !== 'gateway_event');
      // Every salvaged reading with its original seq and content, nothing else, nothing twice.
      expect(device.map((r) => r.seq).sort((a, b) => a - b)).toEqual(expected.map((r) => r.seq).sort((a, b) => a - b));
      for (const r of device) {
        const o = bySeq.get(r.seq)!;
        expect([r.priorityClass, r.deviceId, r.metric, r.value, r.gatewayTime]).toEqual([o.priorityClass, o.deviceId, o.metric, o.value, o.gatewayTime]);
      }
      // The gap record: class vital, the seq range between the neighbouring readable units, the count.
      const gaps = out.filter((r) => r.metric === 'gateway_event' && r.extra?.event === 'gap' && r.extra?.reason === 'corrupt');
      expect(gaps.length).toBe(1);
      const g = gaps[0]!.extra!;
      const vitalIds = rows.map((r) => r.id);
      const before = vitalIds.filter((id) => id < Math.min(...lostIds));
      const after = vitalIds.filter((id) => id > Math.max(...lostIds));
      expect(g.class).toBe('vital');
      expect(g.firstSeq).toBe((before.length ? Math.max(...before) : 0) + 1);
      expect(g.lastSeq).toBe(Math.min(...after) - 1);
      expect(g.count).toBe(lostIds.length);
      expect(g.countKnown).toBe(true);
      const lostTimes = lostIds.map((id) => bySeq.get(id)!.gatewayTime);
      expect(g.fromTime as number).toBeLessThanOrEqual(Math.min(...lostTimes));
      expect(g.toTime as number).toBeGreaterThanOrEqual(Math.max(...lostTimes));
      // The alarm: how much was saved and lost.
      const alarm = out.find((r) => r.extra?.event === 'buffer_corrupt')!;
      expect(alarm.priorityClass).toBe('alarm');
      expect(alarm.extra).toMatchObject({ saved: 306 - lostIds.length, lost: lostIds.length, quarantined: 0 });
      expect(alarm.seq).toBeGreaterThan(Math.max(...bySeq.keys()));
      expect(await env.events.count('reading_evicted', { class: 'vital', reason: 'corrupt' })).toBe(lostIds.length);
      // The new database is healthy.
      const fresh = new Database(path, { readonly: true });
      expect(fresh.pragma('quick_check', { simple: true })).toBe('ok');
      fresh.close();
    },
  );

  it('a readable unit that fails authentication in the damaged file is quarantined, not forwarded', async () => {
    let buf = await env.open({ unitMaxReadings: 1, compress: false });
    await buf.append(withPriority(200, 'vital', 0));
    await buf.close();
    const path = join(env.dir, DB_FILE);
    let db = new Database(path);
    const leaves = db.prepare("SELECT pageno FROM dbstat WHERE name = 'units_vital' AND pagetype = 'leaf' ORDER BY pageno").pluck().all() as number[];
    // One body edited in place (still a valid row), then one page destroyed so the file fails its check.
    const tampered = db.prepare('SELECT id, body FROM units_vital ORDER BY id LIMIT 1').get() as { id: number; body: Buffer };
    const edited = Buffer.from(tampered.body);
    edited[edited.length - 1]! ^= 1;
    db.prepare('UPDATE units_vital SET body = ? WHERE id = ?').run(edited, tampered.id);
    db.close();
    db = new Database(path, { readonly: true });
    const rows = db.prepare('SELECT id, body FROM units_vital ORDER BY id').all() as { id: number; body: Buffer }[];
    db.close();
    const victim = leaves[leaves.length - 2]!;
    const lostIds = rows.filter((r) => readPage(path, victim).includes(r.body)).map((r) => r.id);
    expect(lostIds).not.toContain(tampered.id);
    overwritePage(path, victim);

    buf = await env.open({ unitMaxReadings: 1, compress: false });
    expect(buf.stats().quarantined).toBe(1);
    const out = drainAll(buf);
    await buf.close();
    const seqs = new Set(out.filter((r) => r.metric !== 'gateway_event').map((r) => r.seq));
    expect(seqs.has(tampered.id)).toBe(false);
    expect(seqs.size).toBe(200 - 1 - lostIds.length);
    const alarm = out.find((r) => r.extra?.event === 'buffer_corrupt')!;
    expect(alarm.extra).toMatchObject({ saved: 200 - 1 - lostIds.length, lost: lostIds.length, quarantined: 1 });
    const q = out.find((r) => r.extra?.event === 'gap' && r.extra?.reason === 'quarantined')!;
    expect(q.extra).toMatchObject({ firstSeq: tampered.id, lastSeq: tampered.id, count: 1 });
  });

  it('a start refused after the salvage (key file lacking a key) still announces it on the next start', async () => {
    let buf = await env.open({ unitMaxReadings: 1, compress: false });
    await buf.append(withPriority(120, 'vital', 0));
    await buf.close();
    const path = join(env.dir, DB_FILE);
    const { leaves, rows } = vitalUnitPages(path);
    const victim = leaves[1]!;
    const lostIds = rows.filter((r) => readPage(path, victim).includes(r.body)).map((r) => r.id);
    overwritePage(path, victim);
    const good = readFileSync(env.keyFile, 'utf8');
    generateKeyFile(env.keyFile, { rotate: true });
    const doc = JSON.parse(readFileSync(env.keyFile, 'utf8')) as { keys: { id: number }[] };
    doc.keys = doc.keys.filter((k) => k.id !== 1);
    writeFileSync(env.keyFile, JSON.stringify(doc), { mode: 0o600 });
    await expect(env.open({ unitMaxReadings: 1, compress: false })).rejects.toThrow(/lacks key id 1\b/);

    writeFileSync(env.keyFile, good, { mode: 0o600 });
    buf = await env.open({ unitMaxReadings: 1, compress: false });
    const out = drainAll(buf);
    await buf.close();
    const alarms = out.filter((r) => r.extra?.event === 'buffer_corrupt');
    expect(alarms.length).toBe(1);
    expect(alarms[0]!.extra).toMatchObject({ saved: 120 - lostIds.length, lost: lostIds.length });
    expect(out.filter((r) => r.extra?.event === 'gap' && r.extra?.reason === 'corrupt').length).toBe(1);
    expect(out.filter((r) => r.metric !== 'gateway_event').length).toBe(120 - lostIds.length);
    // Announced once: a further start says nothing more.
    buf = await env.open({ unitMaxReadings: 1, compress: false });
    expect(drainAll(buf)).toEqual([]);
    await buf.close();
  });
});
