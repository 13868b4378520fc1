import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DB_FILE } from '../../src/buffer/index.js';
import type { PendingReading, PriorityClass } from '../../src/reading.js';
import { type TestEnv, testEnv } from './helpers.js';

let env: TestEnv;
beforeEach(() => {
  env = testEnv();
});
afterEach(() => env.cleanup());

const PATIENT = (i: number) => `PATIENT-ZQX-${1000 + i}`;
const DEVICE = (i: number) => `DEVICE-MONITOR-QQ${i}`;
const BED = (i: number) => `Ward-Nightingale-Bed-${i}`;

/** The database, WAL and SHM, plus every other file the buffer keeps in its folder. */
function rawFiles(dir: string): Buffer {
  const p = join(dir, DB_FILE);
  const files = new Set([p, `${p}-wal`, `${p}-shm`].filter((f) => existsSync(f)));
  for (const f of readdirSync(dir)) if (statSync(join(dir, f)).isFile()) files.add(join(dir, f));
  return Buffer.concat([...files].map((f) => readFileSync(f)));
}

describe('no clear text on disk', () => {
  for (const compress of [true, false]) {
    it(`patient ids, device ids and bed names never appear in the db, wal or shm (compress=${compress})`, async () => {
      const buf = await env.open({ compress });
      const prios: PriorityClass[] = ['alarm', 'vital', 'status', 'waveform'];
      const rs: PendingReading[] = [];
      for (let i = 0; i < 400; i++) {
        rs.push({
          deviceId: DEVICE(i % 12),
          deviceKind: 'ble',
          bed: BED(i % 12),
          patientId: PATIENT(i % 12),
          metric: 'heart_rate',
          value: 70 + (i % 9),
          unit: '/min',
          gatewayTime: 1_760_000_000_000 + i,
          priorityClass: prios[i % 4]!,
          quality: [],
          extra: { note: `alarm text for ${DEVICE(i % 12)}` },
        });
      }
      await buf.append(rs.slice(0, 200));
      // Leave some of it in the WAL only: check before and after close.
      await buf.append(rs.slice(200));
      const check = () => {
        const bytes = rawFiles(env.dir);
        expect(bytes.length).toBeGreaterThan(4096);
        for (let i = 0; i < 12; i++) {
          for (const s of [PATIENT(i), DEVICE(i), BED(i)]) expect(bytes.includes(Buffer.from(s, 'utf8')), s).toBe(false);
        }
        for (const s of ['PATIENT-ZQX', 'DEVICE-MONITOR', 'Nightingale']) expect(bytes.includes(Buffer.from(s, 'utf8')), s).toBe(false);
      };
      check();
      await buf.close();
      check();
      // Gap records name device ids: they are sealed like any reading.
      const small = await env.open({ compress, maxBytes: 2000, capHeadroomBytes: 0 });
      await small.flush();
      expect(await env.events.count('reading_evicted')).toBeGreaterThan(0);
      const l = small.lease({ maxReadings: 10_000, maxBytes: 1 << 30 });
      const gap = l?.readings.find((r) => r.extra?.event === 'gap');
      expect(String(gap?.extra?.devices)).toMatch(/^DEVICE-MONITOR-QQ\d+(,DEVICE-MONITOR-QQ\d+)*$/);
      small.release(l!.id);
      check();
      await small.close();
      check();
    });
  }
});
