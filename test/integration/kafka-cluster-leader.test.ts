/**
 * Issue 17 against a real 3-node cluster (scripts/kafka-cluster.sh, RF 3, min.insync.replicas=2),
 * for both Kafka clients:
 *  - leader kill: readings at 2,000/s; the broker leading most partitions of the vitals topic is
 *    SIGKILLed mid-run and started again later. Every reading the gateway acknowledged to the test
 *    arrives, each device's readings keep their order, and duplicates stay within what may have
 *    been in flight when a leader changed;
 *  - bootstrap with a broker down: the first broker of the bootstrap list is down before the
 *    gateway starts; everything arrives.
 * The test feeds the gateway through its ingest (what adapters call) and records what it offered
 * and what was acknowledged to it; Kafka is read with kcat.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ReadingInput } from '../../src/reading.js';
import { checkDelivery, readDelivered } from '../forwarder/verify.js';
import { feeder, keysMissing } from '../helpers/cluster-load.js';
import { startTestGateway, tempDir, testConfig, uniqueTopics, waitFor } from '../helpers/gateway.js';
import { type Cluster, createReplicatedTopic, startCluster, topicPartitions, waitForLeaders } from '../helpers/kafka-cluster.js';

const CLIENTS = ['kafkajs', 'platformatic'] as const;
const DEVICES = 20;
const BATCH = 200;

let cluster: Cluster;
beforeAll(async () => {
  cluster = await startCluster();
}, 180_000);
afterAll(async () => {
  await cluster?.destroy();
});

async function createTopics(topics: ReturnType<typeof uniqueTopics>): Promise<void> {
  for (const topic of Object.values(topics)) {
    await createReplicatedTopic(cluster, topic, 6);
    await waitForLeaders(cluster.bootstrap, topic, (p) => p.leader > 0 && p.isrs.length >= 2);
  }
}

function gatewayConfig(client: (typeof CLIENTS)[number], topics: ReturnType<typeof uniqueTopics>, brokers: string[], readingsPerSecond?: number) {
  return testConfig(cluster.bootstrap, tempDir(), {
    kafka: { brokers, client, topics, createTopics: false, batch: { maxReadings: BATCH }, ...(readingsPerSecond ? { rateLimit: { readingsPerSecond } } : {}) },
  });
}

interface Run {
  client: (typeof CLIENTS)[number];
  topics: ReturnType<typeof uniqueTopics>;
  gw: Awaited<ReturnType<typeof startTestGateway>>;
  feed: ReturnType<typeof feeder>;
}

/** A gateway per client, side by side, each fed at `perSecond`. */
async function startRuns(tag: string, perSecond: number): Promise<Run[]> {
  const runs: Run[] = [];
  for (const client of CLIENTS) {
    const topics = uniqueTopics(`${tag}-${client}`);
    await createTopics(topics);
    const gw = await startTestGateway(gatewayConfig(client, topics, cluster.bootstrap.split(',')));
    runs.push({ client, topics, gw, feed: feeder((r) => gw.ingest.submit(r), perSecond, { tag: 'mon', devices: DEVICES }) });
  }
  return runs;
}

async function verify(r: Run, maxDuplicates: number): Promise<void> {
  const missing = await keysMissing(cluster.bootstrap, r.topics.vital, r.feed.acked, 120_000, 60_000);
  // Drained first: no send can fail (and be counted) after the count is read.
  expect(await r.gw.forwarder.drained(60_000), `${r.client}: drained`).toBe(true);
  const unknownFate = r.gw.forwarder.status().unknownFate ?? 0;
  expect(await r.gw.stop(20_000)).toBe(true);
  expect(missing.length, `${r.client}: acknowledged readings missing, e.g. ${missing.slice(0, 3).join(', ')}`).toBe(0);
  const delivered = await readDelivered(cluster.bootstrap, Object.values(r.topics), { timeoutMs: 60_000 });
  const gatewayId = delivered[0]!.gatewayId;
  const report = checkDelivery(delivered, gatewayId, Math.max(...delivered.map((d) => d.seq)));
  expect(report.missing, r.client).toEqual([]);
  expect(report.orderViolations, r.client).toEqual([]);
  expect(report.badIdentity, r.client).toBe(0);
  expect(report.duplicates, r.client).toBeLessThanOrEqual(maxDuplicates);
  // Only a send of unknown fate is sent again (counted); none counted: no duplicate from the client's own retries.
  expect(report.duplicates, `${r.client}: duplicates vs ${unknownFate} readings of unknown fate`).toBeLessThanOrEqual(unknownFate);
}

describe('both clients side by side, 3-node cluster', () => {
  it('the leader of most vitals partitions is killed mid-run and comes back: every acknowledged reading arrives, in order per device', {
    timeout: 300_000,
  }, async () => {
    const runs = await startRuns('leader', 2000);
    try {
      await waitFor(() => runs.every((r) => r.feed.acked.length >= 6_000), 60_000, 'readings before the kill');
      const leaders = new Map<number, number>();
      for (const r of runs) for (const p of await topicPartitions(cluster.bootstrap, r.topics.vital)) leaders.set(p.leader, (leaders.get(p.leader) ?? 0) + 1);
      const victim = [...leaders.entries()].sort((a, b) => b[1] - a[1])[0]![0];
      await cluster.kill(victim);
      await new Promise((r) => setTimeout(r, 20_000)); // down for 20 s
      await cluster.start(victim);
      const atStart = runs.map((r) => r.feed.acked.length);
      await waitFor(() => runs.every((r, i) => r.feed.acked.length >= atStart[i]! + 4_000), 60_000, 'readings after it returned');
    } finally {
      for (const r of runs) await r.feed.stop();
    }
    // Resends only of what may have reached Kafka when a leader changed: the kill, and the
    // return (the preferred leader takes its partitions back), each at most a batch per lane.
    for (const r of runs) await verify(r, 2 * 2 * BATCH);
  });

  it('each broker stopped and started in turn during a drain: nothing lost, the drain goes on', { timeout: 300_000 }, async () => {
    const BACKLOG = 60_000;
    // A broker's restart takes 10 s on a quiet machine and a minute on a loaded one: while the roll
    // runs, a gateway whose backlog falls under LOW gets TOP_UP more, so every restart happens during
    // a drain however long it takes (on a quiet machine no top-up is needed).
    const LOW = 15_000;
    const TOP_UP = 10_000;
    const runs: { client: string; topics: ReturnType<typeof uniqueTopics>; gw: Awaited<ReturnType<typeof startTestGateway>>; acked: string[] }[] = [];
    const t0 = Date.now();
    let n = 0;
    const feed = async (gw: (typeof runs)[number]['gw'], acked: string[], count: number): Promise<void> => {
      for (let end = n + count; n < end; ) {
        const batch: ReadingInput[] = [];
        for (let i = 0; i < 2000; i++, n++)
          batch.push({
            deviceId: `mon-${n % DEVICES}`,
            deviceKind: 'simulator',
            bed: `BED-${n % DEVICES}`,
            metric: 'heart_rate',
            value: 70,
            unit: '/min',
            deviceTime: t0 + n,
          });
        await gw.ingest.submit(batch);
        for (const r of batch) acked.push(`${r.deviceId}@${r.deviceTime}`);
      }
    };
    for (const client of CLIENTS) {
      const topics = uniqueTopics(`roll-${client}`);
      await createTopics(topics);
      // A rate cap makes the drain outlast the roll (60-80 s on a quiet machine).
      const gw = await startTestGateway(gatewayConfig(client, topics, cluster.bootstrap.split(','), 600));
      const acked: string[] = [];
      await feed(gw, acked, BACKLOG);
      runs.push({ client, topics, gw, acked });
    }
    let rolling = true;
    const topUps = (async () => {
      while (rolling) {
        for (const r of runs) if (rolling && r.gw.buffer.stats().totalReadings < LOW) await feed(r.gw, r.acked, TOP_UP);
        await new Promise((res) => setTimeout(res, 500));
      }
    })();
    try {
      for (const node of [1, 2, 3]) {
        const before = runs.map((r) => r.gw.forwarder.status().forwarded);
        await cluster.stop(node);
        await cluster.start(node);
        await waitForLeaders(cluster.bootstrap, runs[0]!.topics.vital, (p) => p.isrs.length === 3, 90_000);
        // The drain went on through this broker's restart, and is not over yet.
        for (const [i, r] of runs.entries()) {
          expect(r.gw.forwarder.status().forwarded, `${r.client}, node ${node}`).toBeGreaterThan(before[i]!);
          expect(r.gw.buffer.stats().totalReadings, `${r.client}, node ${node}`).toBeGreaterThan(0);
        }
      }
    } finally {
      rolling = false;
      await topUps;
    }
    // Let the capped drain finish before reading: kcat -e never ends on a topic still written to.
    for (const r of runs) expect(await r.gw.stop(150_000), `${r.client}: drained`).toBe(true);
    for (const r of runs) {
      const missing = await keysMissing(cluster.bootstrap, r.topics.vital, r.acked, 150_000, 60_000);
      expect(missing.length, `${r.client}: acknowledged readings missing, e.g. ${missing.slice(0, 3).join(', ')}`).toBe(0);
    }
  });

  it('starts with the first broker of the bootstrap list down and delivers everything', { timeout: 180_000 }, async () => {
    await cluster.stop(1);
    let runs: Run[] = [];
    try {
      runs = await startRuns('boot', 1000);
      await waitFor(() => runs.every((r) => r.feed.acked.length >= 3000), 60_000, 'readings');
      for (const r of runs) await r.feed.stop();
      for (const r of runs) await verify(r, 0);
    } finally {
      await cluster.start(1);
    }
  });
});
