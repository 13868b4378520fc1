/**
 * Kafka refuses a record batch larger than the topic's max.message.bytes (1 MB by default) with
 * MESSAGE_TOO_LARGE. A forwarder batch (kafka.batch.maxBytes, 1 MiB of messages by default) whose
 * messages share one partition is over that with the records' own bytes: a 1-partition topic, or
 * one device's backlog. The forwarder took it for an operator's error and sent the same batch
 * again every few seconds, so the backlog never drained (seen with the defaults, a 1-partition
 * topic and ~580-byte messages). Here the topic takes 16 KiB per record batch and the gateway
 * offers 300 readings at once: every one must arrive, exactly once, for each client and for the
 * client on a worker thread (its errors cross a thread).
 */
import { describe, expect, inject, it } from 'vitest';
import { syntheticInput } from '../forwarder/synthetic.js';
import { startTestGateway, tempDir, testConfig, uniqueTopics, waitFor } from '../helpers/gateway.js';
import { createTopics, readTopic } from '../helpers/kafka.js';

const brokers = inject('kafkaBrokers');
const OFFERED = 300;
const RUNS = [
  { client: 'kafkajs', clientThread: false },
  { client: 'platformatic', clientThread: false },
  { client: 'platformatic', clientThread: true },
] as const;

describe('forwarder: batches larger than the topic takes', () => {
  for (const run of RUNS) {
    it(`${run.client}${run.clientThread ? ' on a worker thread' : ''}: every reading offered arrives once, in smaller batches`, {
      timeout: 120_000,
    }, async () => {
      const topics = uniqueTopics(`too-large-${run.client}${run.clientThread ? '-thread' : ''}`);
      await createTopics(brokers, Object.values(topics), 1, { 'max.message.bytes': String(16 * 1024) });
      const gw = await startTestGateway(testConfig(brokers, tempDir(), { kafka: { client: run.client, clientThread: run.clientThread, topics } }));
      const offered = Array.from({ length: OFFERED }, (_, i) => ({ ...syntheticInput(i, { devices: 1 }), deviceId: `big-${i}` }));
      try {
        await gw.ingest.submit(offered); // acknowledged: committed
        await waitFor(() => gw.buffer.stats().totalReadings === 0, 60_000, 'every reading forwarded');
      } finally {
        await gw.stop(20_000);
      }
      const keys = (await readTopic(brokers, topics.vital, { expected: OFFERED, timeoutMs: 30_000 })).map((m) => String(m.key));
      const copies = new Map<string, number>();
      for (const k of keys) copies.set(k, (copies.get(k) ?? 0) + 1);
      expect(offered.filter((r) => copies.get(r.deviceId) !== 1).map((r) => `${r.deviceId} x${copies.get(r.deviceId) ?? 0}`)).toEqual([]);
      expect(keys).toHaveLength(OFFERED);
    });
  }
});
