/**
 * `wardgate run` on SIGTERM (`kafka.stopGrace`, real broker): the devices stop, their last
 * readings commit, and the forwarder keeps sending while Kafka is connected, so the stop leaves
 * nothing in the buffer that the broker could take. With Kafka unreachable the grace does not
 * hold the stop: it ends at once and the readings stay buffered for the next start; with Kafka
 * stalled (SIGSTOP) it ends at the first failed send.
 */
import { describe, expect, inject, it } from 'vitest';
import { readBufferStats } from '../../src/buffer/index.js';
import { simulatedRunConfig, spawnCli, uniqueTopics, waitFor } from '../helpers/gateway.js';
import { freePort, pauseBroker, readTopic, resumeBroker } from '../helpers/kafka.js';

function setUp(brokers: string, topics: Record<string, string>, grace: string, sendTimeout = '10s'): { cfg: string; data: string } {
  return simulatedRunConfig({
    brokers,
    topics,
    kafka: [`stopGrace: ${grace}`, `sendTimeout: ${sendTimeout}`, 'retry: { initial: 100ms, max: 1s }'],
    // Alarms too: they are committed at once and have their own lane.
    simulator: '{ enabled: true, beds: 6, interval: 200ms, seed: 11, alarmRate: 0.2 }',
  });
}

/** The exit code, or 'still running' when the process has not exited within ms. */
async function exitWithin(exited: Promise<number | null>, ms: number): Promise<number | null | 'still running'> {
  let t: NodeJS.Timeout | undefined;
  const late = new Promise<'still running'>((r) => (t = setTimeout(() => r('still running'), ms)));
  try {
    return await Promise.race([exited, late]);
  } finally {
    clearTimeout(t);
  }
}

describe('wardgate run: SIGTERM and kafka.stopGrace', () => {
  it('Kafka up: the stop sends what the devices committed last; every committed reading is in Kafka once, the buffer is empty', async () => {
    const brokers = inject('kafkaBrokers');
    const topics = uniqueTopics('stop-grace');
    const { cfg, data } = setUp(brokers, topics, '30s');
    const seqsIn = async (): Promise<number[]> => {
      const seqs: number[] = [];
      for (const t of new Set(Object.values(topics))) seqs.push(...(await readTopic(brokers, t).catch(() => [])).map((r) => Number(r.headers['wardgate-seq'])));
      return seqs;
    };
    // Three rounds: the stop lands at a different moment of the commit pacing each time.
    for (let round = 0; round < 3; round++) {
      const c = spawnCli(['run', '--config', cfg]);
      try {
        const before = (await seqsIn()).length;
        await waitFor(async () => (await seqsIn()).length >= before + 30 + 17 * round || c.proc.exitCode !== null, 40_000, 'readings in Kafka');
        expect(c.proc.exitCode, c.stderr()).toBeNull();
        c.proc.kill('SIGTERM');
        expect(await c.exited, c.stderr()).toBe(0);
        expect(c.stdout()).toMatch(/SIGTERM: stopping, sending what is buffered for up to 30 s while Kafka is connected/);
      } finally {
        if (c.proc.exitCode === null) c.proc.kill('SIGKILL');
      }
      const stats = readBufferStats(data)!;
      expect(stats.totalReadings, `round ${round}: readings left in the buffer`).toBe(0);
      const seqs = await seqsIn();
      const missing = Array.from({ length: stats.lastSeq }, (_, i) => i + 1).filter((s) => !seqs.includes(s));
      expect(missing, `round ${round}`).toEqual([]);
      expect(seqs.length, `round ${round}: duplicates`).toBe(new Set(seqs).size);
    }
  }, 180_000);

  it('Kafka unreachable: a long grace does not hold the stop; the readings stay buffered', async () => {
    const nowhere = `127.0.0.1:${await freePort()}`;
    const { cfg, data } = setUp(nowhere, uniqueTopics('stop-grace-down'), '10m');
    const c = spawnCli(['run', '--config', cfg]);
    try {
      await waitFor(() => (readBufferStats(data)?.totalReadings ?? 0) >= 30 || c.proc.exitCode !== null, 40_000, 'readings buffered');
      expect(c.proc.exitCode, c.stderr()).toBeNull();
      c.proc.kill('SIGTERM');
      // 40 s against the 10-minute grace: a stop that waited for it fails here.
      expect(await exitWithin(c.exited, 40_000), c.stderr()).toBe(0);
      expect(c.stdout()).toMatch(/buffer not empty: the rest stays encrypted/);
    } finally {
      if (c.proc.exitCode === null) c.proc.kill('SIGKILL');
    }
    const stats = readBufferStats(data)!;
    expect(stats.totalReadings).toBe(stats.lastSeq);
  }, 60_000);

  it('Kafka stalled at the stop: the grace ends at the first failed send; the readings stay buffered', async () => {
    const brokers = inject('kafkaBrokers');
    const topics = uniqueTopics('stop-grace-stall');
    const { cfg, data } = setUp(brokers, topics, '10m', '2s');
    const c = spawnCli(['run', '--config', cfg]);
    let paused = false;
    try {
      await waitFor(async () => (await readTopic(brokers, topics.vital).catch(() => [])).length >= 20 || c.proc.exitCode !== null, 40_000, 'readings in Kafka');
      expect(c.proc.exitCode, c.stderr()).toBeNull();
      await pauseBroker();
      paused = true;
      // Readings committed after the pause, which the stalled broker cannot acknowledge (CI once
      // stopped the gateway while everything committed had been acknowledged before the pause).
      const atPause = readBufferStats(data)!.lastSeq;
      await waitFor(() => (readBufferStats(data)?.lastSeq ?? 0) > atPause + 10 || c.proc.exitCode !== null, 20_000, 'readings committed during the stall');
      c.proc.kill('SIGTERM');
      // 10 minutes of grace against 40 s here: a grace that outlived the failed send (2 s) fails, and
      // the finally below still resumes the shared broker.
      expect(await exitWithin(c.exited, 40_000), c.stderr()).toBe(0);
    } finally {
      if (paused) await resumeBroker();
      if (c.proc.exitCode === null) c.proc.kill('SIGKILL');
    }
    expect(c.stdout()).toMatch(/buffer not empty: the rest stays encrypted/);
    expect(readBufferStats(data)!.totalReadings).toBeGreaterThan(0);
  }, 60_000);
});
