/**
 * Contract suite: the same integration tests against every Kafka client in CLIENTS
 * (src/forwarder/clients.ts), on the real broker of the integration project. Ground truth comes
 * from kcat (librdkafka) and Kafka's own tools, never from the client under test.
 *  - a batch over two topics arrives whole: keys, values (exact bytes), headers, per-key order,
 *    and each key on the partition Java clients choose (murmur2), so switching clients keeps order;
 *  - gzip, lz4 and zstd batches are stored with that codec and readable by another client (librdkafka);
 *  - concurrent sends on a fresh client all arrive (one connection attempt), also to one partition;
 *  - a missing topic with createTopics=false is a config error naming the topic; with
 *    createTopics=true it is created;
 *  - broker stopped: send rejects within its timeout as transient/timeout; after a restart the
 *    same client delivers again.
 */

import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { validateConfig } from '../../src/config/load.js';
import { type KafkaClient, KafkaClientError, type TopicBatch } from '../../src/forwarder/client.js';
import { CLIENTS } from '../../src/forwarder/clients.js';
import { silentLogger } from '../../src/logger.js';
import { javaPartition } from '../forwarder-client/murmur2.js';
import { toMessages, wardReadings } from '../forwarder-client/ward-messages.js';
import { createTopics, kafkaTool, readTopic, startBroker, stopBroker } from '../helpers/kafka.js';

const brokers = inject('kafkaBrokers');
const PARTITIONS = 3;

function makeClient(name: string, overrides: Record<string, unknown> = {}): KafkaClient {
  const cfg = validateConfig({ kafka: { brokers: [brokers], client: name, sendTimeout: 5000, connectTimeout: 3000, ...overrides } }, 'test');
  return CLIENTS[cfg.kafka.client](cfg.kafka, silentLogger());
}

const uniq = (tag: string) => `t.clients.${tag}.${Date.now().toString(36)}.${Math.floor(Math.random() * 1e6).toString(36)}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.each(Object.keys(CLIENTS))('Kafka client contract: %s', (name) => {
  it('delivers a batch over two topics: keys, exact bytes, headers, per-key order and partition', async () => {
    const vitals = uniq(`${name}-v`);
    const alarms = uniq(`${name}-a`);
    await createTopics(brokers, [vitals, alarms], PARTITIONS);
    const client = makeClient(name);
    try {
      await client.ensureTopics([vitals, alarms], false, 10_000);
      await client.connect(5000);
      expect(client.health().connected).toBe(true);
      const msgs = toMessages(wardReadings(300, { beds: 6 }));
      // One binary value that is not valid UTF-8, and one message without a key.
      const binary = Buffer.from([0x00, 0xff, 0xfe, 0x80, 0x7f, 0x0a, 0x22, 0x5c]);
      const batches: TopicBatch[] = [
        { topic: vitals, messages: msgs.slice(0, 200) },
        {
          topic: alarms,
          messages: [...msgs.slice(200), { key: 'bin-dev', value: binary, headers: { kind: 'binary' } }, { key: null, value: 'no key', headers: {} }],
        },
      ];
      await client.send(batches, 10_000);
      // A second send on the same producer continues the per-key order.
      await client.send([{ topic: vitals, messages: msgs.slice(0, 50).map((m) => ({ ...m, headers: { ...m.headers, round: '2' } })) }], 10_000);

      const gotV = await readTopic(brokers, vitals, { expected: 250, timeoutMs: 30_000 });
      const gotA = await readTopic(brokers, alarms, { expected: 102, timeoutMs: 30_000 });
      expect(gotV.length).toBe(250);
      expect(gotA.length).toBe(102);

      const bySeq = new Map(msgs.map((m) => [m.headers['wardgate-seq'], m]));
      for (const r of [...gotV, ...gotA.filter((x) => x.headers['wardgate-seq'])]) {
        const sent = bySeq.get(r.headers['wardgate-seq']);
        expect(sent, `seq ${r.headers['wardgate-seq']} was not sent`).toBeDefined();
        expect(r.key).toBe(sent!.key);
        expect(r.value).toBe(String(sent!.value));
        for (const [h, v] of Object.entries(sent!.headers)) expect(r.headers[h]).toBe(v);
        // The partition a Java producer (and kafkajs) picks for this key.
        expect(r.partition, `key ${r.key}`).toBe(javaPartition(Buffer.from(r.key!), PARTITIONS));
      }
      const bin = gotA.find((r) => r.key === 'bin-dev');
      expect(bin?.valueBytes?.equals(binary)).toBe(true);
      expect(bin?.headers.kind).toBe('binary');
      const noKey = gotA.find((r) => r.keyBytes === null);
      expect(noKey?.value).toBe('no key');

      // Per key, in offset order: first round in sequence order, then the second round in sequence order.
      const rounds = new Map<string, { round: string; seq: number }[]>();
      for (const r of gotV) {
        const list = rounds.get(r.key!) ?? [];
        list.push({ round: r.headers.round ?? '1', seq: Number(r.headers['wardgate-seq']) });
        rounds.set(r.key!, list);
      }
      expect(rounds.size).toBe(6);
      for (const [key, list] of rounds) {
        const expected = [...list].sort((a, b) => a.round.localeCompare(b.round) || a.seq - b.seq);
        expect(list, `order of ${key}`).toEqual(expected);
      }
    } finally {
      await client.close(5000);
    }
  });

  it.each(['gzip', 'lz4', 'zstd'])('compression %s: stored with that codec, and another client (librdkafka) reads it back', async (compression) => {
    const topic = uniq(`${name}-${compression}`);
    await createTopics(brokers, [topic], 1);
    const client = makeClient(name, { compression });
    try {
      const msgs = toMessages(wardReadings(500, { beds: 4 }));
      await client.send([{ topic, messages: msgs }], 10_000);
      const got = await readTopic(brokers, topic, { expected: 500, timeoutMs: 30_000 });
      expect(got.map((r) => r.value)).toEqual(msgs.map((m) => String(m.value)));
      // The broker stored the batch compressed with that codec (Kafka's own log dump).
      const segment = join(inject('kafkaDir'), 'logs', `${topic}-0`, '00000000000000000000.log');
      const dump = await kafkaTool('kafka.tools.DumpLogSegments', ['--files', segment]);
      const codecs = [...dump.matchAll(/compresscodec: (\w+)/g)].map((m) => m[1]!.toLowerCase());
      expect(codecs.length).toBeGreaterThan(0);
      expect(new Set(codecs)).toEqual(new Set([compression]));
    } finally {
      await client.close(5000);
    }
  });

  it('concurrent sends on a fresh client share one connection attempt and all arrive', async () => {
    const topics = [uniq(`${name}-c1`), uniq(`${name}-c2`), uniq(`${name}-c3`)];
    await createTopics(brokers, topics, PARTITIONS);
    const client = makeClient(name);
    try {
      const msgs = toMessages(wardReadings(90, { beds: 3 }));
      await Promise.all(topics.map((topic, i) => client.send([{ topic, messages: msgs.slice(i * 30, (i + 1) * 30) }], 10_000)));
      expect(client.health().connected).toBe(true);
      for (const [i, topic] of topics.entries()) {
        const got = await readTopic(brokers, topic, { expected: 30, timeoutMs: 30_000 });
        expect(got.map((r) => r.value).sort()).toEqual(
          msgs
            .slice(i * 30, (i + 1) * 30)
            .map((m) => String(m.value))
            .sort(),
        );
      }
    } finally {
      await client.close(5000);
    }
  });

  it('concurrent sends to the same partition all arrive (none is taken for a duplicate)', async () => {
    const topic = uniq(`${name}-same`);
    await createTopics(brokers, [topic], 1);
    const client = makeClient(name);
    try {
      await client.connect(5000);
      const msgs = toMessages(wardReadings(200, { beds: 4 }));
      // Equal sizes on purpose: a batch that re-used another's sequence numbers would be acknowledged as its duplicate.
      await Promise.all([0, 1, 2, 3].map((i) => client.send([{ topic, messages: msgs.slice(i * 50, (i + 1) * 50) }], 10_000)));
      const got = await readTopic(brokers, topic, { expected: 200, timeoutMs: 30_000 });
      expect(got.length).toBe(200);
      expect(new Set(got.map((r) => r.headers['wardgate-seq'])).size).toBe(200);
    } finally {
      await client.close(5000);
    }
  });

  it('a missing topic with createTopics=false is a config error naming the topic; createTopics=true creates it', async () => {
    const existing = uniq(`${name}-exists`);
    const missing = uniq(`${name}-missing`);
    await createTopics(brokers, [existing], 1);
    const client = makeClient(name);
    try {
      const err = await client.ensureTopics([existing, missing], false, 10_000).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(KafkaClientError);
      expect((err as KafkaClientError).kind).toBe('config');
      expect((err as KafkaClientError).message).toContain(missing);
      expect((err as KafkaClientError).message).not.toContain(existing);
      expect(client.health().lastError?.kind).toBe('config');

      await client.ensureTopics([existing, missing], true, 15_000);
      await client.send([{ topic: missing, messages: [{ key: 'k', value: 'created', headers: {} }] }], 10_000);
      const got = await readTopic(brokers, missing, { expected: 1, timeoutMs: 30_000 });
      expect(got.map((r) => r.value)).toEqual(['created']);
    } finally {
      await client.close(5000);
    }
  });

  it('broker stopped: send rejects as transient/timeout (its own timeout ends it: unit test kafkajs-client), then delivers after the restart', async () => {
    const topic = uniq(`${name}-outage`);
    await createTopics(brokers, [topic], PARTITIONS);
    const client = makeClient(name);
    try {
      await client.send([{ topic, messages: [{ key: 'd1', value: 'before', headers: {} }] }], 10_000);
      await stopBroker();
      try {
        const timeoutMs = 4000;
        const err = await client.send([{ topic, messages: [{ key: 'd1', value: 'during', headers: {} }] }], timeoutMs).then(
          () => null,
          (e: unknown) => e,
        );
        expect(err).toBeInstanceOf(KafkaClientError);
        expect(['transient', 'timeout']).toContain((err as KafkaClientError).kind);
        expect(client.health().connected).toBe(false);
        // A reconnect attempt also settles, as a client error (not a hang: the test's own timeout would fail it).
        await expect(client.connect(2000)).rejects.toBeInstanceOf(KafkaClientError);
      } finally {
        await startBroker();
      }
      // The same client object recovers (the forwarder's loop would retry like this, with backoff).
      const deadline = Date.now() + 60_000;
      for (;;) {
        try {
          await client.send([{ topic, messages: [{ key: 'd1', value: 'after', headers: {} }] }], 5000);
          break;
        } catch (e) {
          if (Date.now() > deadline) throw e;
          await sleep(500);
        }
      }
      expect(client.health().connected).toBe(true);
      const got = await readTopic(brokers, topic, { expected: 2, timeoutMs: 30_000 });
      const values = got.map((r) => r.value);
      expect(values).toContain('before');
      expect(values).toContain('after');
      // 'during' never reached a broker that was down.
      expect(values).not.toContain('during');
    } finally {
      await client.close(5000);
    }
  });
});
