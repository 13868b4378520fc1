/**
 * One send, two topics, and the broker writes one of them while it refuses the other. With the
 * FHIR output on, each batch of vital readings goes to the reading topic and the FHIR topic in
 * one produce request. Here the FHIR topic is deleted while the gateways run and created again a
 * few seconds later: meanwhile the broker appends the reading topic's records and answers
 * UNKNOWN_TOPIC_OR_PARTITION for the FHIR topic's, which is how a partition refuses writes for a
 * while just after its topic was created or while its leader moves (NOT_LEADER_OR_FOLLOWER,
 * LEADER_NOT_AVAILABLE, NOT_ENOUGH_REPLICAS: some partitions written, others refused).
 *
 * Such a send fails as a whole, so its readings go again; the copies the broker already wrote
 * must not become duplicates: every reading the test offered and the gateway acknowledged is in
 * the reading topic exactly once, for both clients side by side. The refusal is shorter than the
 * send timeout (a send that outlives that has an unknown fate and may be doubled: docs/forwarder.md).
 */
import { describe, expect, inject, it } from 'vitest';
import type { Gateway } from '../../src/gateway.js';
import { syntheticInput } from '../forwarder/synthetic.js';
import { startTestGateway, tempDir, testConfig, uniqueTopics, waitFor } from '../helpers/gateway.js';
import { createTopics, kafkaTool, readTopic, run } from '../helpers/kafka.js';

const brokers = inject('kafkaBrokers');
const CLIENTS = ['kafkajs', 'platformatic'] as const;
const SEND_TIMEOUT_MS = 60_000;
/** How long the FHIR topic is gone: longer than either client's own quick retries, well under the send timeout. */
const REFUSAL_MS = 5_000;
const PROBES = 60;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Deletes the topic and waits until the broker's metadata (asked by kcat) no longer has it. */
async function deleteTopic(topic: string): Promise<void> {
  await kafkaTool('org.apache.kafka.tools.TopicCommand', ['--bootstrap-server', brokers, '--delete', '--topic', topic]);
  await waitFor(
    async () => {
      const { stdout } = await run('kcat', ['-L', '-b', brokers, '-t', topic, '-J'], { timeoutMs: 10_000 });
      const meta = JSON.parse(stdout.toString('utf8')) as { topics?: { topic: string; error?: string }[] };
      const t = meta.topics?.find((x) => x.topic === topic);
      return !t || !!t.error;
    },
    30_000,
    `topic ${topic} gone from the broker's metadata`,
  );
}

/** Offers `n` readings of its own (batches of 10, 300 ms apart), each a device of its own; returns the ids acknowledged. */
async function offer(gw: Gateway, from: number, n: number): Promise<string[]> {
  const acked: string[] = [];
  for (let b = 0; b < n / 10; b++) {
    const inputs = Array.from({ length: 10 }, (_, k) => ({ ...syntheticInput(k, { devices: 1 }), deviceId: `partial-probe-${from + b * 10 + k}` }));
    await gw.ingest.submit(inputs);
    acked.push(...inputs.map((x) => x.deviceId));
    await sleep(300);
  }
  return acked;
}

describe('forwarder: a send partly written and partly refused by the broker, both clients side by side', () => {
  it(`the FHIR topic gone for ${REFUSAL_MS / 1000} s while the reading topic takes writes: every reading in its topic exactly once`, async () => {
    const runs = await Promise.all(
      CLIENTS.map(async (client) => {
        const topics = uniqueTopics(`fwd-partial-${client}`);
        const fhirTopic = `${topics.vital}.fhir`;
        await createTopics(brokers, [...Object.values(topics), fhirTopic], 3);
        const gw = await startTestGateway(
          testConfig(brokers, tempDir(), { kafka: { client, topics, fhir: { topics: { vital: fhirTopic } }, sendTimeout: SEND_TIMEOUT_MS } }),
        );
        return { client, topics, fhirTopic, gw, acked: [] as string[] };
      }),
    );
    try {
      // Both topics known to each client (sent to once), then the FHIR topic goes away.
      await Promise.all(runs.map(async (r) => r.acked.push(...(await offer(r.gw, 0, 10)))));
      await Promise.all(runs.map((r) => waitFor(() => r.gw.buffer.stats().totalReadings === 0, 60_000, `${r.client}: first readings delivered`)));
      await Promise.all(runs.map((r) => deleteTopic(r.fhirTopic)));
      const goneAt = Date.now();
      await Promise.all(runs.map(async (r) => r.acked.push(...(await offer(r.gw, 10, PROBES)))));
      // The broker wrote readings offered after the FHIR topic was gone from its metadata to the
      // reading topic: sends it wrote in part and refused in part (else this test shows nothing).
      for (const r of runs) {
        const after = (await readTopic(brokers, r.topics.vital, { expected: 11, timeoutMs: 30_000 })).filter(
          (m) => m.key !== null && Number(m.key.split('-').pop()) >= 10,
        );
        expect(after.length, `${r.client}: readings offered after the FHIR topic went and written to the reading topic`).toBeGreaterThan(0);
      }
      await sleep(Math.max(0, goneAt + REFUSAL_MS - Date.now()));
      await createTopics(
        brokers,
        runs.map((r) => r.fhirTopic),
        3,
      );
      await Promise.all(runs.map((r) => waitFor(() => r.gw.buffer.stats().totalReadings === 0, 90_000, `${r.client}: every reading delivered`)));
    } finally {
      await Promise.all(runs.map((r) => r.gw.stop(20_000)));
    }
    for (const r of runs) {
      const copies = new Map<string, number>();
      for (const m of await readTopic(brokers, r.topics.vital, { timeoutMs: 60_000 })) copies.set(m.key ?? '', (copies.get(m.key ?? '') ?? 0) + 1);
      expect(
        r.acked.filter((id) => copies.get(id) !== 1).map((id) => `${id} x${copies.get(id) ?? 0}`),
        `${r.client}: readings acknowledged to the test and not in the reading topic exactly once (xN: copies)`,
      ).toEqual([]);
      expect([...copies.keys()].sort()).toEqual([...r.acked].sort());
      // And none lost on the other topic: each reading offered after the deletion is in the FHIR
      // topic made again, once (one observation per reading: each has a device of its own).
      const afterDeletion = r.acked.filter((id) => Number(id.split('-').pop()) >= 10);
      const fhirCopies = new Map<string, number>();
      for (const m of await readTopic(brokers, r.fhirTopic, { expected: afterDeletion.length, timeoutMs: 60_000 }))
        fhirCopies.set(m.key ?? '', (fhirCopies.get(m.key ?? '') ?? 0) + 1);
      expect(
        afterDeletion.filter((id) => fhirCopies.get(id) !== 1).map((id) => `${id} x${fhirCopies.get(id) ?? 0}`),
        `${r.client}: readings offered while the FHIR topic was gone and not in it exactly once`,
      ).toEqual([]);
    }
  }, 240_000);
});
