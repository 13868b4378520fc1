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
    // The offline duration is read against the clock while the command runs: bracketed by the test's
    // own clock before and after it (a slow machine makes it longer, never wrong), not by a fixed bound.
    const before = Date.now();
    const text = run(dir, false);
    const after = Date.now();
    expect(text).toMatch(/kafka +offline \(NOT reachable\) — timeout: send did not settle/);
    const m = /forwarder +in flight 2000, drain 0 readings\/s, offline for (\d+\.\d) s, 4 failed attempts, next at \d{4}-/.exec(text);
    expect(m, text).not.toBeNull();
    const shownMs = Number(m![1]) * 1000;
    expect(shownMs).toBeGreaterThanOrEqual(before - (now - 65_000) - 100);
    expect(shownMs).toBeLessThanOrEqual(after - (now - 65_000) + 100);
    expect(text).toMatch(/rate cap 5000 readings\/s/);
    expect(text).toMatch(/2000 readings re-sent after an unknown outcome/);
    const jBefore = Date.now();
    const j = JSON.parse(run(dir, true)) as { kafka: { offlineForMs: number; inFlight: number; consecutiveFailures: number } };
    const jAfter = Date.now();
    expect(j.kafka.inFlight).toBe(2000);
    expect(j.kafka.consecutiveFailures).toBe(4);
    expect(j.kafka.offlineForMs).toBeGreaterThanOrEqual(jBefore - (now - 65_000));
    expect(j.kafka.offlineForMs).toBeLessThanOrEqual(jAfter - (now - 65_000));
  });
});
