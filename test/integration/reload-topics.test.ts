/**
 * SIGHUP with new Kafka topics per class (`wardgate run`, real broker): readings go to the old
 * topic before the reload and to the new one after it; the new topic receives nothing before;
 * together the two hold every sequence number the buffer file says was committed, each once.
 */
import { describe, expect, inject, it } from 'vitest';
import { readBufferStats } from '../../src/buffer/index.js';
import { simulatedRunConfig, spawnCli, uniqueTopics, waitFor } from '../helpers/gateway.js';
import { readTopic } from '../helpers/kafka.js';

describe('SIGHUP: Kafka topics per class', () => {
  it('the new vital topic receives only after the reload; old + new hold every committed reading once', async () => {
    const brokers = inject('kafkaBrokers');
    const before = uniqueTopics('reload-a');
    const after = { ...before, vital: uniqueTopics('reload-b').vital };
    const { cfg, data, write } = simulatedRunConfig({
      brokers,
      topics: before,
      kafka: ['retry: { initial: 100ms, max: 1s }'],
      simulator: '{ enabled: true, beds: 2, interval: 250ms, seed: 4, alarmRate: 0 }',
    });
    const c = spawnCli(['run', '--config', cfg]);
    const vitals = async (topic: string) => (await readTopic(brokers, topic).catch(() => [])).map((r) => Number(r.headers['wardgate-seq']));
    try {
      await waitFor(async () => (await vitals(before.vital)).length >= 20 || c.proc.exitCode !== null, 40_000, 'readings on the first topic');
      expect(c.proc.exitCode, c.stderr()).toBeNull();
      expect(await vitals(after.vital)).toEqual([]);

      write(after);
      c.proc.kill('SIGHUP');
      await waitFor(() => c.stderr().includes('"msg":"SIGHUP: applied"'), 20_000, 'the reload');
      const applied = JSON.parse(
        c
          .stderr()
          .split('\n')
          .find((l) => l.includes('"msg":"SIGHUP: applied"'))!,
      );
      expect(applied.applied).toEqual(['kafka.topics.vital']);
      expect(applied.topics).toBe(true);
      await waitFor(async () => (await vitals(after.vital)).length >= 20, 40_000, 'readings on the new topic');
      c.proc.kill('SIGTERM');
      expect(await c.exited).toBe(0);
    } finally {
      if (c.proc.exitCode === null) c.proc.kill('SIGKILL');
    }
    const stats = readBufferStats(data)!;
    expect(stats.totalReadings).toBe(0);
    const seqs: number[] = [];
    for (const t of new Set([...Object.values(before), after.vital])) seqs.push(...(await vitals(t)));
    const a = await vitals(before.vital);
    const b = await vitals(after.vital);
    // The new topic's readings came after the old topic's first ones: the switch happened at the reload.
    expect(Math.min(...b)).toBeGreaterThan(Math.min(...a));
    expect(new Set(a).size + new Set(b).size).toBe(new Set([...a, ...b]).size);
    expect(new Set(seqs).size).toBe(stats.lastSeq);
    expect(Array.from({ length: stats.lastSeq }, (_, i) => i + 1).filter((s) => !seqs.includes(s))).toEqual([]);
  }, 120_000);
});
