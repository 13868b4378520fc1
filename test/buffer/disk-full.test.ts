/**
 * Disk full on a real, tiny filesystem (a 2 MiB tmpfs; the tests run as root).
 * The buffer must stay up, shed the lowest class with gap records, count everything,
 * and recover by itself when space returns.
 */

import { unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BufferRefused, openBuffer } from '../../src/buffer/index.js';
import { generateKeyFile } from '../../src/crypto/keys.js';
import { silentLogger } from '../../src/logger.js';
import { Events } from '../../src/metrics/events.js';
import type { PendingReading, PriorityClass } from '../../src/reading.js';
import { mountTmpfs, type Tmpfs } from '../helpers/tmpfs.js';
import { reading } from './helpers.js';

let fs: Tmpfs;
let root: string;
let mnt: string;

beforeAll(() => {
  fs = mountTmpfs('wg-diskfull-', '2m');
  ({ root, mnt } = fs);
});

afterAll(() => fs?.unmount());

let n = 0;
const batch = (p: PriorityClass, k: number): PendingReading[] =>
  Array.from({ length: k }, () => reading(n++, { priorityClass: p, value: Math.random() * 1000 }));

describe('disk full', () => {
  it('no crash, lowest class shed with gap records and counted, recovery when space returns', async () => {
    const log = silentLogger();
    const events = new Events(log);
    const keyFile = join(root, 'key.json');
    generateKeyFile(keyFile);
    const filler = join(mnt, 'filler');
    writeFileSync(filler, Buffer.alloc(512 * 1024, 1));
    const buf = await openBuffer({
      dir: join(mnt, 'data'),
      keyFile,
      gatewayId: 'gw-full',
      events,
      log,
      commitIntervalMs: 1,
      unitMaxReadings: 100,
      compress: false,
      ballastBytes: 128 * 1024,
      maintenanceIntervalMs: 3_600_000,
    });
    const acked: Record<PriorityClass, number> = { alarm: 0, vital: 0, status: 0, waveform: 0 };
    const tryAppend = async (rs: PendingReading[]): Promise<string | null> => {
      try {
        await buf.append(rs);
        for (const r of rs) acked[r.priorityClass]++;
        return null;
      } catch (e) {
        expect(e).toBeInstanceOf(BufferRefused);
        return (e as BufferRefused).reason;
      }
    };

    // 1. Fill until the disk is full.
    let first: string | null = null;
    for (let i = 0; i < 5000 && first === null; i++) {
      first = await tryAppend([...batch('waveform', 150), ...batch('vital', 50), ...batch('alarm', 2)]);
    }
    expect(first).toBe('disk_full');
    expect(buf.isShedding).toBe(true);
    // The failed commit is what readiness reports (/readyz) until a commit succeeds again.
    expect(buf.commitFailure).not.toBeNull();
    expect(await events.count('reading_refused', { reason: 'disk_full' })).toBeGreaterThan(0);
    expect(await events.count('reading_evicted', { class: 'waveform', reason: 'disk_full' })).toBeGreaterThan(0);

    // 2. While shedding: waveforms are refused at the door, higher classes still get in.
    expect(await tryAppend(batch('waveform', 10))).toBe('shedding');
    expect(await events.count('reading_refused', { reason: 'shedding' })).toBe(10);
    let vitalsIn = 0;
    for (let i = 0; i < 20; i++) if ((await tryAppend([...batch('vital', 20), ...batch('alarm', 1)])) === null) vitalsIn++;
    expect(vitalsIn).toBeGreaterThan(0);
    const s = buf.stats();
    expect(s.perClass.alarm.readings).toBe(acked.alarm); // no alarm lost

    // 3. Space returns: the buffer notices by itself (maintenance pass) and takes waveforms again.
    unlinkSync(filler);
    buf.maintain();
    expect(buf.isShedding).toBe(false);
    expect(await tryAppend(batch('waveform', 10))).toBeNull();
    expect(buf.commitFailure).toBeNull();

    // 4. Exact accounting: what was acknowledged is either still here or counted as evicted and named in a gap record.
    await buf.flush();
    const got: Record<PriorityClass, number> = { alarm: 0, vital: 0, status: 0, waveform: 0 };
    const gapCount: Record<string, number> = {};
    for (;;) {
      const l = buf.lease({ maxReadings: 5000, maxBytes: 1 << 30 });
      if (!l) break;
      for (const r of l.readings) {
        if (r.metric === 'gateway_event' && r.extra?.event === 'gap') {
          expect(r.extra.reason).toBe('disk_full');
          gapCount[r.extra.class as string] = (gapCount[r.extra.class as string] ?? 0) + (r.extra.count as number);
        } else got[r.priorityClass]++;
      }
      buf.ack(l.id);
      await buf.flush(); // gap records of later sheds
    }
    for (const p of ['alarm', 'vital', 'waveform'] as const) {
      const evicted = await events.count('reading_evicted', { class: p });
      expect(got[p], p).toBe(acked[p] - evicted);
      expect(gapCount[p] ?? 0, p).toBe(evicted);
    }
    expect(gapCount.waveform).toBeGreaterThan(0);
    await buf.close();
  }, 60_000);
});
