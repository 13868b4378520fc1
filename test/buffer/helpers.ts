import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type OpenBufferOptions, openBuffer, type SqliteBuffer } from '../../src/buffer/index.js';
import type { MetricId } from '../../src/catalogue.js';
import { generateKeyFile } from '../../src/crypto/keys.js';
import { silentLogger } from '../../src/logger.js';
import { Events } from '../../src/metrics/events.js';
import type { PendingReading, PriorityClass } from '../../src/reading.js';

export interface TestEnv {
  dir: string;
  keyFile: string;
  events: Events;
  cleanup(): void;
  open(extra?: Partial<OpenBufferOptions>): Promise<SqliteBuffer>;
}

export function testEnv(prefix = 'wg-buf-'): TestEnv {
  const root = mkdtempSync(join(tmpdir(), prefix));
  const dir = join(root, 'data');
  const keyFile = join(root, 'keys', 'wardgate.key');
  generateKeyFile(keyFile);
  const log = silentLogger();
  const events = new Events(log);
  return {
    dir,
    keyFile,
    events,
    cleanup: () => rmSync(root, { recursive: true, force: true }),
    open: (extra = {}) => openBuffer({ dir, keyFile, gatewayId: 'gw-test', events, log, commitIntervalMs: 2, ballastBytes: 64 * 1024, ...extra }),
  };
}

let t0 = Date.now() - 3_600_000;

export function reading(i: number, over: Partial<PendingReading> = {}): PendingReading {
  const metrics: MetricId[] = ['heart_rate', 'spo2', 'resp_rate', 'body_temp'];
  const bed = i % 7;
  return {
    deviceId: `monitor-${bed}`,
    deviceKind: 'simulator',
    bed: `bed-${bed}`,
    patientId: `patient-${bed}`,
    metric: metrics[i % metrics.length]!,
    value: 60 + (i % 40) + (i % 3 === 0 ? 0.5 : 0),
    unit: ['/min', '%', '/min', 'Cel'][i % 4]!,
    deviceTime: t0 + i * 10 - 3,
    gatewayTime: t0 + i * 10,
    priorityClass: 'vital',
    quality: [],
    ...over,
  };
}

export function withPriority(n: number, p: PriorityClass, start = 0): PendingReading[] {
  return Array.from({ length: n }, (_, k) => reading(start + k, { priorityClass: p }));
}

export function advanceClock(ms: number): void {
  t0 += ms;
}

/** Drains everything (leases and acks), returning the readings in lease order. */
export function drainAll(buf: SqliteBuffer, maxReadings = 1000): import('../../src/reading.js').Reading[] {
  const out: import('../../src/reading.js').Reading[] = [];
  for (;;) {
    const l = buf.lease({ maxReadings, maxBytes: 1 << 30 });
    if (!l) return out;
    out.push(...l.readings);
    buf.ack(l.id);
  }
}
