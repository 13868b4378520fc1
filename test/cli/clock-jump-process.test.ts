/**
 * Issue 14 item 7 on the real process: `wardgate run` (embedded MQTT broker, Kafka down) under
 * libfaketime, whose offset the test changes while it runs (FAKETIME_TIMESTAMP_FILE, re-read on
 * every call; the monotonic clock left real), so the process's wall clock is stepped back an
 * hour and then forward three, as NTP or an operator would. The test publishes 3 x 15 readings
 * with values it numbers, one at a time (QoS 1: each acknowledged after its commit). Afterwards it
 * opens the buffer file itself and leases everything: the readings come out in the order it
 * published them, with increasing sequence numbers, although their gateway times (stamped by the
 * jumping clock) would put the middle block first; and the process warned of both jumps with the
 * sizes the test made. `faketime` is installed by scripts/install-deps.sh.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connectAsync } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { openBuffer } from '../../src/buffer/index.js';
import { silentLogger } from '../../src/logger.js';
import { Events } from '../../src/metrics/events.js';
import type { Reading } from '../../src/reading.js';
import { readStatusFile, statusFilePath } from '../../src/status-file.js';
import { faketimeEnv, startClockedGateway } from '../helpers/faketime.js';
import { committedSeq, spawnCli, tempDir, waitFor } from '../helpers/gateway.js';

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

describe('a wall-clock jump in the real process', () => {
  it('back an hour, forward three: the buffer drains in publish (seq) order, both jumps warned with their sizes', async () => {
    const g = await startClockedGateway('+0', '  brokers: ["127.0.0.1:1"]\n');
    const { c, data, keyFile } = g;
    const offset = g.offsetFile;
    cleanup.push(() => c.proc.exitCode === null && c.proc.kill('SIGKILL'));
    expect(c.proc.exitCode, c.stderr()).toBeNull();
    const jumps = (): number[] =>
      c
        .stderr()
        .split('\n')
        .filter((l) => l.includes('"event":"clock_jump"'))
        .map((l) => JSON.parse(l).byMs as number);

    const client = await connectAsync(g.url, { username: 'mon', password: 'pw-mon', reconnectPeriod: 0 });
    cleanup.push(() => client.endAsync(true));
    const published: number[] = [];
    const publish = async (n: number): Promise<void> => {
      for (let i = 0; i < n; i++) {
        const v = 40 + published.length;
        await client.publishAsync('hr/BED-01/mon-1', String(v), { qos: 1 });
        published.push(v);
      }
    };

    await publish(15);
    writeFileSync(offset, '-1h\n');
    await waitFor(() => jumps().length >= 1 || c.proc.exitCode !== null, 20_000, 'the backward jump noticed');
    await publish(15);
    writeFileSync(offset, '+2h\n');
    await waitFor(() => jumps().length >= 2 || c.proc.exitCode !== null, 20_000, 'the forward jump noticed');
    await publish(15);
    expect(c.proc.exitCode, c.stderr()).toBeNull();
    // The sizes of the steps the test made (the check compares the wall clock with the real monotonic one; its tolerance is 2 s).
    expect(jumps()).toHaveLength(2);
    expect(Math.abs(jumps()[0]! + 3_600_000)).toBeLessThanOrEqual(2000);
    expect(Math.abs(jumps()[1]! - 10_800_000)).toBeLessThanOrEqual(2000);
    c.proc.kill('SIGTERM');
    expect(await c.exited, c.stderr()).toBe(0);

    const gatewayId = readStatusFile(statusFilePath(data))!.gatewayId;
    const log = silentLogger();
    const buf = await openBuffer({ dir: data, keyFile, gatewayId, events: new Events(log), log });
    const drained: Reading[] = [];
    try {
      for (;;) {
        const l = buf.lease({ maxReadings: 7, maxBytes: 1 << 30 });
        if (!l) break;
        drained.push(...l.readings);
        buf.ack(l.id);
      }
    } finally {
      await buf.close();
    }
    const mine = drained.filter((r) => r.deviceId === 'mon-1');
    expect(mine.map((r) => r.value)).toEqual(published);
    const seqs = mine.map((r) => r.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    // The process's clock did jump: the middle block's gateway times are an hour before the first block's.
    const t = mine.map((r) => r.gatewayTime);
    expect(t[15]!).toBeLessThan(t[0]! - 3_000_000);
    expect(t[30]!).toBeGreaterThan(t[14]! + 3_000_000);
  }, 120_000);

  it('back an hour: a serial monitor is still polled, its readings keep coming', async () => {
    // The IntelliVue session polls when "now - last poll >= 1 s": on the wall clock, a step back
    // of an hour stopped its polls (and the silence check) for that hour.
    const dir = tempDir();
    const data = join(dir, 'data');
    const cfg = join(dir, 'wardgate.yaml');
    writeFileSync(cfg, `gateway:\n  dataDir: ${data}\nkafka:\n  brokers: ["127.0.0.1:1"]\nlog: { level: warn }\n`);
    const offset = join(dir, 'faketime');
    writeFileSync(offset, '+0\n');
    const c = spawnCli(['simulate', '-c', cfg, '--monitors', 'intellivue:1', '--no-live'], faketimeEnv(offset));
    cleanup.push(() => c.proc.exitCode === null && c.proc.kill('SIGKILL'));
    const seq = (): number => committedSeq(data);
    await waitFor(() => seq() > 10 || c.proc.exitCode !== null, 60_000, 'the monitor read');
    writeFileSync(offset, '-1h\n');
    await waitFor(() => c.stderr().includes('"event":"clock_jump"') || c.proc.exitCode !== null, 20_000, 'the backward jump noticed');
    const atStep = seq();
    // The simulated monitor answers each poll with its numerics (several readings a second).
    await waitFor(() => seq() > atStep + 20 || c.proc.exitCode !== null, 30_000, 'readings after the step');
    expect(c.proc.exitCode, c.stderr()).toBeNull();
    c.proc.kill('SIGTERM');
    expect(await c.exited, c.stderr()).toBe(0);
  }, 120_000);
});
