import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DB_FILE } from '../../src/buffer/index.js';
import { drainAll, reading, type TestEnv, testEnv, withPriority } from './helpers.js';
import { scribble } from './pages.js';

let env: TestEnv;
beforeEach(() => {
  env = testEnv();
});
afterEach(() => env.cleanup());

describe('integrity and recovery', () => {
  for (const where of ['b-tree pages', 'file header'] as const) {
    it(`a database failing its check (${where}) is moved aside, a fresh one opens with an alarm saying so, seqs continue above the old ones`, async () => {
      let buf = await env.open({ unitMaxReadings: 20 });
      for (let i = 0; i < 30; i++) await buf.append(withPriority(40, 'vital', i * 40));
      const lastSeq = buf.stats().lastSeq;
      expect(lastSeq).toBe(1200);
      await buf.close();
      const path = join(env.dir, DB_FILE);
      const size = statSync(path).size;
      if (where === 'file header') scribble(path, 0, 100);
      else for (let off = 4 * 1024; off < size; off += 8 * 1024) scribble(path, off, 64);

      buf = await env.open({ unitMaxReadings: 20 });
      const aside = readdirSync(env.dir).filter((f) => f.startsWith(`${DB_FILE}.corrupt-`));
      expect(aside.length).toBeGreaterThanOrEqual(1);
      expect(existsSync(join(env.dir, aside.find((f) => !f.endsWith('-wal') && !f.endsWith('-shm'))!))).toBe(true);
      expect(await env.events.count('unit_quarantined', { reason: 'database_corrupt' })).toBe(1);
      const l = buf.lease({ maxReadings: 100, maxBytes: 1 << 20 })!;
      expect(l.priorityClass).toBe('alarm');
      expect(l.readings.length).toBe(1);
      const ev = l.readings[0]!;
      expect(ev.metric).toBe('gateway_event');
      expect(ev.extra).toMatchObject({ event: 'buffer_corrupt' });
      expect(ev.seq).toBeGreaterThan(lastSeq);
      buf.ack(l.id);
      // ingestion continues above every seq used so far
      const later = reading(99_999);
      await buf.append([later]);
      const next = drainAll(buf);
      const fresh = next.filter((r) => r.gatewayTime === later.gatewayTime && r.metric !== 'gateway_event');
      expect(fresh.length).toBe(1);
      expect(fresh[0]!.seq).toBeGreaterThan(ev.seq);
      // What was salvaged kept its old seqs; the alarm's counts add up to what was buffered.
      const salvaged = next.filter((r) => r.metric !== 'gateway_event' && r !== fresh[0]);
      for (const r of salvaged) expect(r.seq).toBeLessThanOrEqual(lastSeq);
      expect(ev.extra!.saved).toBe(salvaged.length);
      if (where === 'file header') expect(ev.extra).toMatchObject({ saved: 0, lost: 'unknown' });
      else {
        // Most units live on pages the scribbles missed; if they hit the meta page too, the loss is only known by its ranges.
        expect(salvaged.length).toBeGreaterThan(lastSeq / 2);
        if (typeof ev.extra!.lost === 'number') expect((ev.extra!.saved as number) + ev.extra!.lost).toBe(lastSeq);
        else expect(ev.extra!.lost).toBe('unknown');
      }
      await buf.close();
      // and the fresh database is healthy
      const db = new Database(path, { readonly: true });
      expect(db.pragma('quick_check', { simple: true })).toBe('ok');
      db.close();
    });
  }

  it('the WAL stays bounded during a long outage', async () => {
    const buf = await env.open({ unitMaxReadings: 512, compress: false });
    let maxWal = 0;
    for (let i = 0; i < 150; i++) {
      await buf.append(withPriority(2000, 'waveform', i * 2000).map((r) => ({ ...r, value: Math.random() * 100 })));
      maxWal = Math.max(maxWal, statSync(join(env.dir, `${DB_FILE}-wal`)).size);
    }
    // ~5 MB of units went through; the WAL is checkpointed every ~1000 pages (1 MiB)
    expect(buf.stats().diskBytes).toBeGreaterThan(4 * 1024 * 1024);
    expect(maxWal).toBeLessThanOrEqual(2 * 1024 * 1024);
    await buf.close();
  });
});
