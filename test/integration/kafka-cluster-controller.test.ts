/**
 * Issue 17 against a real 3-node cluster (scripts/kafka-cluster.sh: combined broker+controller
 * nodes, RF 3, min.insync.replicas=2), both Kafka clients side by side; one cluster and one
 * gateway per client for the file, the two cases in turn:
 *  - one broker of three stopped: writes are still acknowledged, and the gateway says the cluster
 *    is degraded (`brokers: 2 of 3`) in `wardgate status --json` and its metrics, not offline,
 *    while it keeps delivering; online again once the broker is back;
 *  - the active KRaft controller killed mid-run at a steady rate (and left down): every reading
 *    the gateway acknowledged to the test in either case arrives, each device's readings keep
 *    their order, and no failed batch is counted as delivered; duplicates (read back with kcat)
 *    stay within one batch per lane per fault the test made, and within the readings the gateway
 *    counted as sent again after an unknown outcome (none when it counted none).
 * The test feeds the gateway through its ingest (what adapters call); Kafka is read with kcat and
 * the controller found with Kafka's own metadata quorum tool.
 */
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { statusCommand } from '../../src/cli/status.js';
import { keyFileFor } from '../../src/gateway.js';
import { checkDelivery, readDelivered } from '../forwarder/verify.js';
import { feeder, keysMissing } from '../helpers/cluster-load.js';
import { startTestGateway, tempDir, testConfig, uniqueTopics, waitFor } from '../helpers/gateway.js';
import { type Cluster, startCluster, waitForLeaders } from '../helpers/kafka-cluster.js';

const CLIENTS = ['kafkajs', 'platformatic'] as const;
const DEVICES = 20;
const BATCH = 200;
const RATE = 500;
/**
 * Leader changes the file causes for each gateway: broker 3 stopped, broker 3 started again (the
 * cluster hands its partitions back), the controller killed. At each, at most one batch per lane
 * (alarm, bulk) can be on the wire with its fate unknown, so that bounds the duplicates (the test's
 * own settings, not the gateway's count).
 */
const FAULTS = 3;
const LANES = 2;

let cluster: Cluster;
let runs: Run[] = [];
beforeAll(async () => {
  cluster = await startCluster();
  runs = await startRuns();
}, 240_000);
afterAll(async () => {
  for (const r of runs) await r.gw.stop(1000).catch(() => undefined);
  await cluster?.destroy();
});

interface Run {
  client: (typeof CLIENTS)[number];
  topics: ReturnType<typeof uniqueTopics>;
  config: ReturnType<typeof testConfig>;
  gw: Awaited<ReturnType<typeof startTestGateway>>;
  /** Every reading acknowledged to the test (device@time), both cases. */
  acked: string[];
}

/** A gateway per client; each creates its topics (6 partitions, RF 3; the cluster's min ISR is 2). */
async function startRuns(): Promise<Run[]> {
  const out: Run[] = [];
  for (const client of CLIENTS) {
    const topics = uniqueTopics(`ctl-${client}`);
    const config = testConfig(cluster.bootstrap, tempDir(), {
      kafka: {
        brokers: cluster.bootstrap.split(','),
        client,
        topics,
        createTopics: true,
        topicPartitions: 6,
        topicReplicationFactor: 3,
        batch: { maxReadings: BATCH },
        clusterCheck: 2000,
      },
    });
    out.push({ client, topics, config, gw: await startTestGateway(config), acked: [] });
  }
  return out;
}

/** Feeds every gateway at RATE. */
function feedAll(tag: string) {
  const feeds = runs.map((r) => feeder((b) => r.gw.ingest.submit(b), RATE, { tag, devices: DEVICES, acked: r.acked }));
  return { stop: async () => void (await Promise.all(feeds.map((f) => f.stop()))) };
}

/** What `wardgate status --json` prints for the run's data folder. */
function statusJson(r: Run): { kafka: { state: string; reason: string; reachable: boolean | null; offlineForMs: number | null; cluster: unknown } } {
  const out = new PassThrough();
  let text = '';
  out.on('data', (d: Buffer) => {
    text += d.toString('utf8');
  });
  statusCommand(r.gw.dataDir, keyFileFor(r.config), true, out);
  return JSON.parse(text);
}

/**
 * After the feed stopped: every acknowledged reading in Kafka, no seq missing, order per device,
 * duplicates within one batch per lane per fault (and within the unknown-fate count).
 */
async function verify(r: Run): Promise<void> {
  const missing = await keysMissing(cluster.bootstrap, r.topics.vital, r.acked, 120_000, 30_000);
  expect(missing.length, `${r.client}: acknowledged readings missing, e.g. ${missing.slice(0, 3).join(', ')}`).toBe(0);
  expect(await r.gw.forwarder.drained(60_000), `${r.client}: drained`).toBe(true);
  const { forwarded, unknownFate = 0 } = r.gw.forwarder.status();
  expect(await r.gw.stop(20_000)).toBe(true);
  const delivered = await readDelivered(cluster.bootstrap, Object.values(r.topics), { timeoutMs: 60_000 });
  const report = checkDelivery(delivered, r.gw.gatewayId, Math.max(...delivered.map((d) => d.seq)));
  expect(report.missing, r.client).toEqual([]);
  expect(report.orderViolations, r.client).toEqual([]);
  expect(report.badIdentity, r.client).toBe(0);
  // A failed batch counted as delivered and then sent again would be counted twice.
  expect(forwarded, `${r.client}: readings counted as forwarded vs distinct in Kafka`).toBe(report.distinct);
  console.log(`[controller ${r.client}] ${report.distinct} distinct, ${report.duplicates} duplicates, unknown fate ${unknownFate}`);
  // Duplicates: at most one batch per lane at each fault the test made.
  expect(report.duplicates, `${r.client}: duplicates vs ${FAULTS} faults x ${LANES} lanes x ${BATCH}`).toBeLessThanOrEqual(FAULTS * LANES * BATCH);
  // Cross-check: resends only of what the gateway counted as sent after an unknown outcome; none when it counted none.
  expect(report.duplicates, `${r.client}: duplicates vs ${unknownFate} readings of unknown fate`).toBeLessThanOrEqual(unknownFate);
}

describe('3-node cluster: a broker short, and the controller killed', () => {
  it('one broker of three stopped: degraded (brokers: 2 of 3) while readings are still delivered; online again after it returns', {
    timeout: 150_000,
  }, async () => {
    const feed = feedAll('short');
    try {
      await waitFor(() => runs.every((r) => r.acked.length >= 1000 && r.gw.forwarder.status().state === 'online'), 60_000, 'readings flowing, online');
      await cluster.stop(3);
      for (const r of runs) {
        await waitFor(() => r.gw.forwarder.status().reason === 'brokers: 2 of 3', 60_000, `${r.client}: brokers: 2 of 3`);
      }
      // Readings acknowledged to the test from now on reach Kafka while the broker is still down.
      const marks = runs.map((r) => r.acked.length);
      await waitFor(() => runs.every((r, i) => r.acked.length >= marks[i]! + 1500), 60_000, 'readings while degraded');
      await feed.stop();
      for (const [i, r] of runs.entries()) {
        const missing = await keysMissing(cluster.bootstrap, r.topics.vital, r.acked.slice(marks[i]), 60_000, 30_000);
        expect(missing.length, `${r.client}: readings missing while a broker is down`).toBe(0);
        const st = statusJson(r);
        expect(st.kafka.state, r.client).toBe('degraded');
        expect(st.kafka.reason, r.client).toBe('brokers: 2 of 3');
        expect(st.kafka.reachable, r.client).toBe(true);
        expect(st.kafka.offlineForMs, r.client).toBeNull();
        expect(st.kafka.cluster, r.client).toMatchObject({ brokers: 2, expected: 3 });
        const metrics = await r.gw.events.registry.metrics();
        expect(metrics, r.client).toMatch(/^wardgate_kafka_state\{state="degraded"\} 1$/m);
        expect(metrics, r.client).toMatch(/^wardgate_kafka_brokers 2$/m);
        expect(metrics, r.client).toMatch(/^wardgate_kafka_brokers_expected 3$/m);
      }
    } finally {
      await feed.stop();
      await cluster.start(3);
    }
    // Online again, in `wardgate status --json` too (the status file is written every second).
    for (const r of runs) await waitFor(() => statusJson(r).kafka.state === 'online', 60_000, `${r.client}: online again`);
    for (const r of runs) expect(statusJson(r).kafka.cluster, r.client).toMatchObject({ brokers: 3, expected: 3 });
  });

  it('the active KRaft controller is killed mid-run: every acknowledged reading arrives, in order per device, none counted twice', {
    timeout: 150_000,
  }, async () => {
    const quorumLeader = async (): Promise<number> => {
      const out = await cluster.tool('org.apache.kafka.tools.MetadataQuorumCommand', ['--bootstrap-server', cluster.bootstrap, 'describe', '--status']);
      const m = /LeaderId:\s*(\d+)/.exec(out);
      if (!m) throw new Error(`no LeaderId in: ${out}`);
      return Number(m[1]);
    };
    // Every replica back in sync after the previous case, so the kill leaves two of three.
    for (const r of runs) await waitForLeaders(cluster.bootstrap, r.topics.vital, (p) => p.isrs.length === 3, 60_000);
    const feed = feedAll('ctl');
    try {
      const atStart = runs.map((r) => r.acked.length);
      await waitFor(() => runs.every((r, i) => r.acked.length >= atStart[i]! + 2000), 60_000, 'readings before the kill');
      const victim = await quorumLeader();
      await cluster.kill(victim);
      const atKill = runs.map((r) => r.acked.length);
      await waitFor(() => runs.every((r, i) => r.acked.length >= atKill[i]! + 3000), 60_000, 'readings after the kill');
      // The two nodes left elected another controller (what this case is about). The killed node
      // stays down: everything must arrive through the other two.
      expect(await quorumLeader()).not.toBe(victim);
      // Once the cluster has fenced the killed broker, the gateways say so while they deliver.
      for (const r of runs) await waitFor(() => r.gw.forwarder.status().reason === 'brokers: 2 of 3', 60_000, `${r.client}: brokers: 2 of 3 after the kill`);
    } finally {
      await feed.stop();
    }
    for (const r of runs) await verify(r);
  });
});
