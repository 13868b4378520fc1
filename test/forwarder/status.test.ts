/** `wardgate status` shows the forwarder's state, reason and gauges from the running gateway's status file. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { statusCommand } from '../../src/cli/status.js';
import type { ForwarderStatus } from '../../src/forwarder/state.js';
import { statusFilePath, writeStatusFile } from '../../src/status-file.js';

function run(dir: string, json: boolean): string {
  let out = '';
  const w = new Writable({
    write(chunk, _enc, cb) {
      out += String(chunk);
      cb();
    },
  });
  statusCommand(dir, join(dir, 'wardgate.key'), json, w);
  return out;
}

describe('wardgate status: forwarder', () => {
  it('shows state, reason, offline duration, retries, rate cap and unknown-fate readings', () => {
    const dir = mkdtempSync(join(tmpdir(), 'wg-status-'));
    const now = Date.now();
    const forwarder: ForwarderStatus = {
      state: 'offline',
      reason: 'timeout: send did not settle within 10000 ms',
      since: now - 5000,
      lastSuccessAt: now - 65_000,
      lastFailureAt: now - 1000,
      offlineSince: now - 65_000,
      consecutiveFailures: 4,
      forwarded: 1234,
      inFlight: 2000,
      configError: null,
      drainRate: 0,
      backlog: 50_000,
      unknownFate: 2000,
      retryAt: now + 3000,
      rateCap: { readingsPerSecond: 5000, bytesPerSecond: null, limiting: false },
    };
    writeStatusFile(statusFilePath(dir), {
      pid: process.pid,
      gatewayId: 'gw-s',
      startedAt: now - 100_000,
      updatedAt: now,
      mode: 'run',
      brokers: ['k:9092'],
      forwarder,
      ingestedTotal: 0,
      readingsPerSecond: 0,
      adapters: [],
    });
    const text = run(dir, false);
    expect(text).toMatch(/kafka +offline \(NOT reachable\) — timeout: send did not settle/);
    expect(text).toMatch(/forwarder +in flight 2000, drain 0 readings\/s, offline for 6[56]\.\d s, 4 failed attempts, next at \d{4}-/);
    expect(text).toMatch(/rate cap 5000 readings\/s/);
    expect(text).toMatch(/2000 readings re-sent after an unknown outcome/);
    const j = JSON.parse(run(dir, true)) as { kafka: { offlineForMs: number; inFlight: number; consecutiveFailures: number } };
    expect(j.kafka.inFlight).toBe(2000);
    expect(j.kafka.consecutiveFailures).toBe(4);
    expect(j.kafka.offlineForMs).toBeGreaterThanOrEqual(65_000);
  });
});
