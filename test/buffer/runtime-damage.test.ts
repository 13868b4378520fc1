/**
 * A page that goes bad while the gateway runs: leasing stops at it (instead of failing forever
 * while the backlog behind it waits), the buffer says it is damaged (the gateway then stops and
 * exits 1), and the next start salvages everything behind the bad page.
 */

import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DB_FILE } from '../../src/buffer/index.js';
import type { Reading } from '../../src/reading.js';
import { drainAll, type TestEnv, testEnv, withPriority } from './helpers.js';
import { destroyPage, vitalUnitPages } from './pages.js';

let env: TestEnv;
beforeEach(() => {
  env = testEnv();
});
afterEach(() => env.cleanup());

describe('a page damaged while running', () => {
  it('stops leasing at the bad page, reports the damage once, and the next start salvages the rest', async () => {
    let buf = await env.open({ unitMaxReadings: 1, compress: false });
    await buf.append(withPriority(300, 'vital', 0));
    await buf.close();
    const path = join(env.dir, DB_FILE);
    const { leaves, rows } = vitalUnitPages(path);

    buf = await env.open({ unitMaxReadings: 1, compress: false }); // passes its check
    const reasons: string[] = [];
    buf.onDamaged((r) => reasons.push(r));
    // Now a page goes bad on disk...
    const victim = leaves[Math.floor(leaves.length / 2)]!;
    const lost = destroyPage(path, victim, rows);
    expect(lost.size).toBeGreaterThan(3);
    // ...and another connection writes, so the buffer's connection reads pages from the file again.
    const rw = new Database(path);
    rw.prepare("INSERT INTO meta (k, v) VALUES ('test.bump', 1)").run();
    rw.close();

    const first = drainAll(buf, 10);
    expect(reasons.length).toBe(1);
    expect(reasons[0]).toMatch(/^SQLITE_CORRUPT/);
    expect(buf.lease({ maxReadings: 10, maxBytes: 1 << 20 })).toBeNull();
    await buf.close();

    buf = await env.open({ unitMaxReadings: 1, compress: false });
    const second = drainAll(buf, 1000);
    await buf.close();
    const seqs = (rs: Reading[]) => rs.filter((r) => r.metric !== 'gateway_event').map((r) => r.seq);
    const all = [...seqs(first), ...seqs(second)].sort((a, b) => a - b);
    expect(all).toEqual(rows.map((r) => r.id).filter((id) => !lost.has(id)));
    const alarm = second.find((r) => r.extra?.event === 'buffer_corrupt')!;
    expect(alarm.extra).toMatchObject({ lost: lost.size });
  });
});
