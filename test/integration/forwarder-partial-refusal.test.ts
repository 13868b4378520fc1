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
 * A client that learnt the topic was gone before its next send sends nothing to it (nothing is
 * written in part); the deletion is then tried again, a few rounds at most.
 */
import { Kafka, logLevel } from 'kafkajs';
import { describe, expect, inject, it } from 'vitest';
import type { Gateway } from '../../src/gateway.js';
import { syntheticInput } from '../forwarder/synthetic.js';
import { startTestGateway, tempDir, testConfig, uniqueTopics, waitFor } from '../helpers/gateway.js';
import { createTopics, readTopic } from '../helpers/kafka.js';

const brokers = inject('kafkaBrokers');
const CLIENTS = ['kafkajs', 'platformatic'] as const;
const SEND_TIMEOUT_MS = 60_000;
/** How long the FHIR topic is gone: longer than either client's own quick retries, well under the send timeout. */
const REFUSAL_MS = 5_000;
const PROBES = 60;
/** Deletions tried per client until one send was written in part (see below). */
const ROUNDS = 4;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Deletes the topic from this process (a Kafka tool's JVM takes seconds to start) and waits until
 * the broker's metadata no longer has it. Quick on purpose: @platformatic/kafka asks for metadata
 * again once its copy is 5 s old, and a client that already knows the topic is gone sends
 * nothing to it, so the broker has nothing to write in part.
 */
async function deleteTopic(topic: string): Promise<void> {
  const admin = new Kafka({ clientId: 'partial-refusal-test', brokers: brokers.split(','), logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    await admin.deleteTopics({ topics: [topic], timeout: 10_000 });
    await waitFor(async () => !(await admin.listTopics()).includes(topic), 30_000, `topic ${topic} gone from the broker's metadata`);
  } finally {
    await admin.disconnect();
  }
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

interface Run {
  client: (typeof CLIENTS)[number];
  topics: ReturnType<typeof uniqueTopics>;
  fhirTopic: string;
  gw: Gateway;
  acked: string[];
  /** Readings offered while the FHIR topic was gone, in the last round (they must be in the topic made again). */
  lastRound: string[];
  /** Readings the broker wrote to the reading topic while the FHIR topic was gone: sends written in part. */
  partial: number;
}

/**
 * Deletes the FHIR topic, offers readings for REFUSAL_MS, and makes the topic again, until the
 * broker wrote a send in part (some readings offered while the topic was gone are in the reading
 * topic before it came back), at most ROUNDS times; everything is delivered after each round.
 */
async function refuseUntilPartial(r: Run): Promise<void> {
  let next = 10;
  for (let round = 0; round < ROUNDS && r.partial === 0; round++) {
    await deleteTopic(r.fhirTopic);
    const goneAt = Date.now();
    const from = next;
    r.lastRound = await offer(r.gw, from, PROBES);
    r.acked.push(...r.lastRound);
    next += PROBES;
    const offered = new Set(r.lastRound);
    const written = await readTopic(brokers, r.topics.vital, { expected: r.acked.length - PROBES + 1, timeoutMs: 10_000 });
    r.partial = written.filter((m) => m.key !== null && offered.has(m.key)).length;
    if (r.partial > 0) console.log(`[partial] ${r.client}: ${r.partial} readings written in part in round ${round + 1} of ${ROUNDS}`);
    await sleep(Math.max(0, goneAt + REFUSAL_MS - Date.now()));
    await createTopics(brokers, [r.fhirTopic], 3);
    await waitFor(() => r.gw.buffer.stats().totalReadings === 0, 90_000, `${r.client}: every reading delivered`);
  }
}

describe('forwarder: a send partly written and partly refused by the broker, both clients side by side', () => {
  it(`the FHIR topic gone for ${REFUSAL_MS / 1000} s while the reading topic takes writes: every reading in its topic exactly once`, async () => {
    const runs: Run[] = await Promise.all(
      CLIENTS.map(async (client) => {
        const topics = uniqueTopics(`fwd-partial-${client}`);
        const fhirTopic = `${topics.vital}.fhir`;
        await createTopics(brokers, [...Object.values(topics), fhirTopic], 3);
        const gw = await startTestGateway(
          testConfig(brokers, tempDir(), { kafka: { client, topics, fhir: { topics: { vital: fhirTopic } }, sendTimeout: SEND_TIMEOUT_MS } }),
        );
        return { client, topics, fhirTopic, gw, acked: [] as string[], lastRound: [] as string[], partial: 0 };
      }),
    );
    try {
      // Both topics known to each client (sent to once), then the FHIR topic goes away and comes back.
      await Promise.all(runs.map(async (r) => r.acked.push(...(await offer(r.gw, 0, 10)))));
      await Promise.all(runs.map((r) => waitFor(() => r.gw.buffer.stats().totalReadings === 0, 60_000, `${r.client}: first readings delivered`)));
      await Promise.all(runs.map((r) => refuseUntilPartial(r)));
    } finally {
      await Promise.all(runs.map((r) => r.gw.stop(20_000)));
    }
    for (const r of runs) {
      // Else this test shows nothing: the broker wrote no send in part.
      expect(r.partial, `${r.client}: readings offered while the FHIR topic was gone and written to the reading topic before it came back`).toBeGreaterThan(0);
      const copies = new Map<string, number>();
      for (const m of await readTopic(brokers, r.topics.vital, { timeoutMs: 60_000 })) copies.set(m.key ?? '', (copies.get(m.key ?? '') ?? 0) + 1);
      expect(
        r.acked.filter((id) => copies.get(id) !== 1).map((id) => `${id} x${copies.get(id) ?? 0}`),
        `${r.client}: readings acknowledged to the test and not in the reading topic exactly once (xN: copies)`,
      ).toEqual([]);
      expect([...copies.keys()].sort()).toEqual([...r.acked].sort());
      // And none lost on the other topic: each reading offered while it was gone (last round) is
      // in the FHIR topic made again, once (one observation per reading: each has a device of its own).
      const fhirCopies = new Map<string, number>();
      for (const m of await readTopic(brokers, r.fhirTopic, { expected: r.lastRound.length, timeoutMs: 60_000 }))
        fhirCopies.set(m.key ?? '', (fhirCopies.get(m.key ?? '') ?? 0) + 1);
      expect(
        r.lastRound.filter((id) => fhirCopies.get(id) !== 1).map((id) => `${id} x${fhirCopies.get(id) ?? 0}`),
        `${r.client}: readings offered while the FHIR topic was gone and not in it exactly once`,
      ).toEqual([]);
    }
  }, 420_000);
});
