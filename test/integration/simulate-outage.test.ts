/**
 * `wardgate simulate --outage 4s@3s`: the command puts its own proxy between the gateway and the
 * real broker and cuts it for 4 s; what the ward sent during the cut is buffered and arrives
 * afterwards. Expected side: the sequence numbers the buffer file says were committed (read from
 * the database after the run, not from the gateway's counters), against every wardgate-seq read
 * back from the topics with kcat.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { readBufferStats } from '../../src/buffer/index.js';
import { spawnCli, tempDir, uniqueTopics } from '../helpers/gateway.js';
import { readTopic } from '../helpers/kafka.js';

describe('simulate --outage', () => {
  it('cuts Kafka through its proxy for 4 s; every reading committed, during the cut too, reaches Kafka afterwards', async () => {
    const brokers = inject('kafkaBrokers');
    const topics = uniqueTopics('outage');
    const dir = tempDir();
    const data = join(dir, 'data');
    const cfg = join(dir, 'wardgate.yaml');
    writeFileSync(
      cfg,
      [
        'gateway:',
        `  dataDir: ${data}`,
        'kafka:',
        `  brokers: ["${brokers}"]`,
        '  retry: { initial: 100ms, max: 1s }',
        '  topics:',
        ...Object.entries(topics).map(([k, v]) => `    ${k}: ${v}`),
        'devices:',
        '  simulator: { enabled: true, beds: 4, interval: 250ms, seed: 5, alarmRate: 0.05 }',
        'log: { level: warn }',
        '',
      ].join('\n'),
    );
    const c = spawnCli(['simulate', '--config', cfg, '--no-live', '--duration', '9s', '--drain-timeout', '20s', '--outage', '4s@3s']);
    expect(await c.exited, c.stderr()).toBe(0);
    const out = c.stdout();
    expect(out).toMatch(/outage proxy: Kafka \S+ reached through 127\.0\.0\.1:\d+/);
    expect(out).toContain('outage: Kafka cut for 4 s');
    expect(out).toContain('outage: Kafka reachable again');
    // The gateway saw the cut (its own log: a failed send; the text depends on the client and on what
    // was in flight when the proxy reset: ECONNRESET, a refused connect, a closed connection or a
    // request timeout), and the run ended with the buffer drained.
    expect(c.stderr()).toMatch(/"event":"kafka_send_failed".*"error":"[^"]+"/);
    const summary = /summary: gateway (\S+): (\d+) readings committed, (\d+) forwarded to Kafka, buffer empty\./.exec(out);
    expect(summary, out).not.toBeNull();

    const stats = readBufferStats(data)!;
    expect(stats.totalReadings).toBe(0);
    const committed = stats.lastSeq;
    expect(committed).toBeGreaterThan(50);
    const seqs = new Set<number>();
    for (const t of Object.values(topics)) {
      const records = await readTopic(brokers, t).catch(() => []);
      for (const r of records) if (r.headers['wardgate-gateway-id'] === summary![1]) seqs.add(Number(r.headers['wardgate-seq']));
    }
    const missing = Array.from({ length: committed }, (_, i) => i + 1).filter((s) => !seqs.has(s));
    expect(missing).toEqual([]);
    expect(seqs.size).toBe(committed);
  }, 60_000);
});
