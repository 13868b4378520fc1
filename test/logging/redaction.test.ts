/**
 * Patient data never reaches a log line: a whole simulated ward (simulated beds and serial
 * monitors over ptys) runs at debug level with Kafka away; then the readings it stored are read
 * back from the buffer and every patient id and every distinctive value is looked for in the logs.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { getOrCreateGatewayId } from '../../src/buffer/gateway-id.js';
import { openBuffer } from '../../src/buffer/index.js';
import { silentLogger } from '../../src/logger.js';
import { Events } from '../../src/metrics/events.js';
import { spawnCli, tempDir } from '../helpers/gateway.js';

describe('log redaction', () => {
  it('a debug-level simulated run logs no patient id and no reading value', async () => {
    const dir = tempDir();
    const data = join(dir, 'data');
    const cfg = join(dir, 'wardgate.yaml');
    writeFileSync(cfg, 'log:\n  level: debug\n');
    const c = spawnCli([
      'simulate',
      '-c',
      cfg,
      '--beds',
      '4',
      '--monitors',
      'intellivue:1,masimo:1',
      '--duration',
      '4s',
      '--drain-timeout',
      '200ms',
      '--brokers',
      '127.0.0.1:1',
      '--data',
      data,
      '--seed',
      '5',
      '--no-live',
    ]);
    expect(await c.exited, c.stderr()).toBe(0);
    const logs = `${c.stdout()}\n${c.stderr()}`;
    const logLines = c
      .stderr()
      .split('\n')
      .filter((l) => l.startsWith('{'));
    // The run did log at debug level (else finding nothing would prove nothing).
    expect(logLines.some((l) => JSON.parse(l).level === 20)).toBe(true);
    expect(logLines.length).toBeGreaterThan(5);

    // What was stored: every reading of the run, read back with the key.
    const gatewayId = getOrCreateGatewayId(data);
    const buffer = await openBuffer({ dir: data, keyFile: join(data, 'wardgate.key'), gatewayId, events: new Events(silentLogger()), log: silentLogger() });
    const patients = new Set<string>();
    const values = new Set<string>();
    let readings = 0;
    try {
      for (let lease = buffer.lease({ maxReadings: 100_000, maxBytes: 1 << 30 }); lease; lease = buffer.lease({ maxReadings: 100_000, maxBytes: 1 << 30 })) {
        for (const r of lease.readings) {
          readings++;
          if (r.patientId) patients.add(r.patientId);
          // Values with decimals are distinctive enough to look for as text (integers would match counts and ports).
          const t = String(r.value);
          if (/\.\d+$/.test(t)) values.add(t);
        }
      }
    } finally {
      await buffer.close();
    }
    expect(readings).toBeGreaterThan(50);
    expect(patients.size).toBeGreaterThanOrEqual(4);
    expect(values.size).toBeGreaterThanOrEqual(3);
    for (const p of patients) expect(logs.includes(p), `patient id ${p} in the logs`).toBe(false);
    const found = [...values].filter((v) => new RegExp(`(^|[^0-9.])${v.replace('.', '\\.')}([^0-9]|$)`).test(logs));
    expect(found).toEqual([]);
    // Structured fields that could carry patient data are redacted wherever they occur in a line.
    const sensitive = new Set(['patientId', 'patient', 'patientName', 'value', 'values', 'reading', 'readings', 'payload']);
    const leaks: string[] = [];
    const walk = (o: unknown, path: string): void => {
      if (!o || typeof o !== 'object') return;
      for (const [k, v] of Object.entries(o)) {
        if (sensitive.has(k) && v !== '[redacted]') leaks.push(`${path}${k}`);
        walk(v, `${path}${k}.`);
      }
    };
    for (const l of logLines) walk(JSON.parse(l), '');
    expect(leaks).toEqual([]);
    // Nor in the status file the running gateway writes.
    expect(readFileSync(join(data, 'status.json'), 'utf8')).not.toMatch(/SIMPAT-/);
  }, 90_000);
});
