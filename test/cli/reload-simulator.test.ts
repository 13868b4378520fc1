/**
 * SIGHUP with a changed simulated ward (`devices.simulator.beds` 1 -> 2) on the real `wardgate
 * run` (Kafka down), through `wardgate reload`: the family is restarted with the new settings and
 * a second bed's readings appear, the first bed's go on. What the test reads: the buffer file,
 * opened and leased by the test after the run, split at the last seq committed before the reload
 * was asked for.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openBuffer } from '../../src/buffer/index.js';
import { generateKeyFile } from '../../src/crypto/keys.js';
import { silentLogger } from '../../src/logger.js';
import { Events } from '../../src/metrics/events.js';
import type { Reading } from '../../src/reading.js';
import { readStatusFile, statusFilePath } from '../../src/status-file.js';
import { committedSeq, spawnCli, tempDir, waitFor } from '../helpers/gateway.js';

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

describe('SIGHUP reload of the simulated ward (wardgate run)', () => {
  it('a bed added by the reload sends readings afterwards; none from it before', async () => {
    const dir = tempDir();
    const data = join(dir, 'data');
    const keyFile = join(dir, 'wardgate.key');
    generateKeyFile(keyFile);
    const cfg = join(dir, 'wardgate.yaml');
    const config = (beds: number): string =>
      `gateway:\n  dataDir: ${data}\nbuffer:\n  keyFile: ${keyFile}\nkafka:\n  brokers: ["127.0.0.1:1"]\nlog:\n  level: warn\n` +
      `devices:\n  simulator: { enabled: true, beds: ${beds}, interval: 250ms, seed: 4 }\n`;
    writeFileSync(cfg, config(1));
    const c = spawnCli(['run', '--config', cfg]);
    cleanup.push(() => c.proc.exitCode === null && c.proc.kill('SIGKILL'));
    const seq = (): number => committedSeq(data);
    await waitFor(() => seq() >= 20 || c.proc.exitCode !== null, 60_000, 'readings from one bed');
    expect(c.proc.exitCode, c.stderr()).toBeNull();

    writeFileSync(cfg, config(2));
    // Committed before the signal: one bed only. (Taken before: a new bed may commit before the command returns.)
    const atReload = seq();
    const r = spawnCli(['reload', '--config', cfg]);
    expect(await r.exited, r.stderr()).toBe(0);
    expect(r.stdout()).toContain('applied: devices.simulator.beds');
    await waitFor(() => seq() >= atReload + 40, 60_000, 'readings after the reload');
    c.proc.kill('SIGTERM');
    expect(await c.exited, c.stderr()).toBe(0);

    const gatewayId = readStatusFile(statusFilePath(data))!.gatewayId;
    const log = silentLogger();
    const buf = await openBuffer({ dir: data, keyFile, gatewayId, events: new Events(log), log });
    const all: Reading[] = [];
    try {
      for (;;) {
        const l = buf.lease({ maxReadings: 500, maxBytes: 1 << 30 });
        if (!l) break;
        all.push(...l.readings);
        buf.ack(l.id);
      }
    } finally {
      await buf.close();
    }
    const beds = (rs: Reading[]): string[] => [...new Set(rs.filter((x) => x.deviceKind === 'simulator').map((x) => x.bed))].sort();
    const before = all.filter((x) => x.seq <= atReload);
    const after = all.filter((x) => x.seq > atReload);
    expect(beds(before)).toHaveLength(1);
    expect(beds(after)).toHaveLength(2);
    expect(beds(after)).toContain(beds(before)[0]);
  }, 120_000);
});
