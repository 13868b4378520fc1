/**
 * kafka.createTopics off and one class's topic missing (the waveform topic, on a ward whose
 * operator created only the topics it uses): the other classes are sent, alarms included, and the
 * waveforms wait in the buffer until their topic exists. Before, the forwarder checked every topic
 * at once and sent nothing at all while one was missing. For both clients, and the client on a
 * worker thread (its errors cross a thread).
 */
import { describe, expect, inject, it } from 'vitest';
import type { ReadingInput } from '../../src/reading.js';
import { syntheticInput } from '../forwarder/synthetic.js';
import { startTestGateway, tempDir, testConfig, uniqueTopics, waitFor } from '../helpers/gateway.js';
import { createTopics, readTopic } from '../helpers/kafka.js';

const brokers = inject('kafkaBrokers');
const RUNS = [
  { client: 'kafkajs', clientThread: false },
  { client: 'platformatic', clientThread: false },
  { client: 'platformatic', clientThread: true },
] as const;

/** The keys in `topic` as copies per key. */
async function copiesIn(topic: string, expected: number): Promise<Map<string, number>> {
  const copies = new Map<string, number>();
  for (const m of await readTopic(brokers, topic, { expected, timeoutMs: 30_000 })) copies.set(String(m.key), (copies.get(String(m.key)) ?? 0) + 1);
  return copies;
}

const onceEach = (offered: ReadingInput[], copies: Map<string, number>): string[] =>
  offered.filter((r) => copies.get(r.deviceId) !== 1).map((r) => `${r.deviceId} x${copies.get(r.deviceId) ?? 0}`);

describe('forwarder: one class topic missing, createTopics off', () => {
  for (const { client, clientThread } of RUNS) {
    it(`${client}${clientThread ? ' on a worker thread' : ''}: alarms and vitals are sent; waveforms wait for their topic, then go`, {
      timeout: 120_000,
    }, async () => {
      const topics = uniqueTopics(`missing-topic-${client}${clientThread ? '-thread' : ''}`);
      await createTopics(brokers, [topics.alarm, topics.vital, topics.status]);
      const gw = await startTestGateway(testConfig(brokers, tempDir(), { kafka: { client, clientThread, topics, createTopics: false } }));
      const vitals = Array.from({ length: 40 }, (_, i) => ({ ...syntheticInput(i), deviceId: `vital-${i}` }));
      const alarms = Array.from({ length: 10 }, (_, i) => ({ ...syntheticInput(i, { alarmEvery: 1 }), deviceId: `alarm-${i}` }));
      const waves = Array.from(
        { length: 20 },
        (_, i): ReadingInput => ({ ...syntheticInput(i), deviceId: `wave-${i}`, metric: 'ecg_lead_ii', unit: 'mV', value: 0.1 * i, priorityClass: 'waveform' }),
      );
      try {
        await gw.ingest.submit([...vitals, ...alarms, ...waves]); // acknowledged: committed
        expect(onceEach(vitals, await copiesIn(topics.vital, vitals.length))).toEqual([]);
        expect(onceEach(alarms, await copiesIn(topics.alarm, alarms.length))).toEqual([]);
        // The waveform topic made now: its readings follow, without a restart.
        await createTopics(brokers, [topics.waveform]);
        expect(onceEach(waves, await copiesIn(topics.waveform, waves.length))).toEqual([]);
        await waitFor(() => gw.buffer.stats().totalReadings === 0, 30_000, 'the buffer empty');
      } finally {
        await gw.stop(20_000);
      }
    });
  }
});
