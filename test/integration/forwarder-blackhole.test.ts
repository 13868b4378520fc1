/**
 * Black hole, for both Kafka clients at once (a gateway on kafkajs and one on
 * @platformatic/kafka, in one black hole): a second broker of this test's own advertises a
 * loopback TCP proxy's port, so every byte between gateways and broker passes the proxy. Pausing the proxy swallows bytes
 * without closing anything (no FIN, no RST). The gateway must notice within its send timeout,
 * keep buffering, and recover when the proxy resumes. Memory must not grow with the length
 * of the outage: the JS heap plus external memory (Buffers, where kafkajs keeps the messages of
 * pending sends) is measured after a forced GC at two outage lengths. Delivery is checked
 * with kcat.
 */
import { rmSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import type { Gateway } from '../../src/gateway.js';
import { PacedIngest } from '../forwarder/synthetic.js';
import { checkDelivery, readDelivered } from '../forwarder/verify.js';
import { startTestGateway, tempDir, testConfig, uniqueTopics, waitFor } from '../helpers/gateway.js';
import { freePort, startBroker, stopBroker } from '../helpers/kafka.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const SEND_TIMEOUT_MS = 3000;
const CLIENTS = ['kafkajs', 'platformatic'] as const;
/** Per gateway. */
const RATE = 600;
/** Readings per batch (the test's setting) and the forwarder's lanes (alarm, bulk). */
const BATCH = 2000;
const LANES = 2;

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Heap used + external memory after a full GC, MiB (the lowest of three tries). */
async function retainedMiB(): Promise<number> {
  let best = Infinity;
  for (let i = 0; i < 3; i++) {
    gc();
    const m = process.memoryUsage();
    best = Math.min(best, (m.heapUsed + m.external) / 2 ** 20);
    await sleep(300);
  }
  return best;
}

interface Run {
  client: (typeof CLIENTS)[number];
  topics: ReturnType<typeof uniqueTopics>;
  gw: Gateway;
  ingest: PacedIngest;
  detectMs: number;
  offlineMs: number;
  reason: string;
  buffered0: number;
  buffered2: number;
  failures1: number;
  failures2: number;
  recoverMs: number;
}

describe('forwarder: black-holed connection, both clients in one black hole', () => {
  it(
    'each client notices within the send timeout, buffers, recovers and delivers every acknowledged reading; memory does not grow with the ' + 'outage',
    async () => {
      const kafkaDir = tempDir('wg-kafka-bh-');
      const kafkaPort = await freePort();
      let proxy: TcpProxy | null = null;
      const runs: Run[] = [];
      let brokerStarted = false;
      try {
        proxy = await startTcpProxy({ targetPort: kafkaPort });
        const direct = await startBroker({ dir: kafkaDir, env: { KAFKA_PORT: String(kafkaPort), KAFKA_ADVERTISED_PORT: String(proxy.port) } });
        brokerStarted = true;
        for (const client of CLIENTS) {
          const topics = uniqueTopics(`fwd-bh-${client}`);
          const gw = await startTestGateway(
            testConfig(`127.0.0.1:${proxy.port}`, tempDir(), {
              // The client on this thread, so that its memory is in this isolate's heap measurements.
              kafka: {
                client,
                topics,
                clientThread: false,
                sendTimeout: SEND_TIMEOUT_MS,
                connectTimeout: 2000,
                retry: { initial: 200, max: 1000 },
                batch: { maxReadings: BATCH },
              },
            }),
          );
          const ingest = new PacedIngest((inputs) => gw.ingest.submit(inputs), RATE, { devices: 40, alarmEvery: 53 });
          runs.push({
            client,
            topics,
            gw,
            ingest,
            detectMs: -1,
            offlineMs: -1,
            reason: '',
            buffered0: 0,
            buffered2: 0,
            failures1: 0,
            failures2: 0,
            recoverMs: -1,
          });
        }
        for (const r of runs) r.ingest.start();
        await Promise.all(runs.map((r) => waitFor(() => r.gw.forwarder.status().forwarded > 2000, 60_000, `${r.client}: forwarding through the proxy`)));
        // Both online when the black hole begins (a slow send before it would start the clock early).
        await Promise.all(runs.map((r) => waitFor(() => r.gw.forwarder.status().state === 'online', 30_000, `${r.client}: online`)));
        expect(proxy.accepted).toBeGreaterThan(0);
        const memOnline = await retainedMiB();

        // Black hole.
        proxy.pause();
        const tPause = Date.now();
        await Promise.all(
          runs.map(async (r) => {
            await waitFor(() => !['online', 'draining'].includes(r.gw.forwarder.status().state), 20_000, `${r.client}: the gateway to notice the black hole`);
            r.detectMs = Date.now() - tPause;
            r.reason = r.gw.forwarder.status().reason;
            await waitFor(() => r.gw.forwarder.status().state === 'offline', 20_000, `${r.client}: offline`);
            r.offlineMs = Date.now() - tPause;
            r.buffered0 = r.gw.buffer.stats().totalReadings;
          }),
        );
        await sleep(Math.max(0, tPause + 12_000 - Date.now()));
        const mem1 = await retainedMiB();
        const rss1 = process.memoryUsage().rss / 2 ** 20;
        const at1 = (Date.now() - tPause) / 1000;
        for (const r of runs) r.failures1 = r.gw.forwarder.status().consecutiveFailures;
        await sleep(Math.max(0, tPause + 42_000 - Date.now()));
        const mem2 = await retainedMiB();
        const rss2 = process.memoryUsage().rss / 2 ** 20;
        const at2 = (Date.now() - tPause) / 1000;
        for (const r of runs) {
          r.failures2 = r.gw.forwarder.status().consecutiveFailures;
          r.buffered2 = r.gw.buffer.stats().totalReadings;
        }
        const openDuringOutage = proxy.open;
        expect(proxy.heldBytes).toBeGreaterThan(0);

        // The network heals.
        proxy.resume();
        const tResume = Date.now();
        await Promise.all(
          runs.map(async (r) => {
            await waitFor(() => ['online', 'draining'].includes(r.gw.forwarder.status().state), 30_000, `${r.client}: back online`);
            r.recoverMs = Date.now() - tResume;
          }),
        );
        for (const r of runs) await r.ingest.stop();
        let duplicates = 0;
        for (const r of runs) {
          const { client, topics, gw: g, ingest } = r;
          expect(await g.forwarder.drained(60_000), client).toBe(true);
          expect(await g.stop(10_000)).toBe(true);

          // The expected side is the test's: the readings its ingest saw acknowledged (each has its own seq).
          const offeredAcked = ingest.committed;
          expect(ingest.failed).toBe(0);
          const msgs = await readDelivered(direct, Object.values(topics), { expected: offeredAcked, timeoutMs: 60_000 });
          const fromTest = new Set(msgs.filter((m) => m.deviceId.startsWith('sim-dev-')).map((m) => m.seq)).size;
          const lastSeq = msgs.reduce((a, m) => Math.max(a, m.seq), 0);
          const rep = checkDelivery(msgs, g.gatewayId, lastSeq);
          duplicates += rep.duplicates;
          console.log(
            `[black hole ${client}] not online ${r.detectMs} ms after the pause, offline after ${r.offlineMs} ms (${r.reason}); ` +
              `failed attempts ${r.failures1} -> ${r.failures2}; buffered ${r.buffered0} -> ${r.buffered2}; online again ${r.recoverMs} ms after resume; ` +
              `${offeredAcked} acknowledged to the test, ${fromTest} of them delivered, highest seq ${lastSeq}, ${msgs.length} delivered, ` +
              `${rep.duplicates} duplicates`,
          );
          // Noticed by the send timeout (the reason says so; how long it took is printed, not asserted: issue 15
          // item 6); soft: both clients are reported.
          expect.soft(r.reason, client).toMatch(/timeout/);
          // Kept buffering and retrying with backoff while the broker stayed silent; recovery is proved by
          // every acknowledged reading arriving after the resume (below).
          expect.soft(r.buffered2, client).toBeGreaterThan(r.buffered0);
          expect.soft(r.failures2, client).toBeGreaterThan(r.failures1 + 3);
          expect.soft(fromTest, `${client}: readings acknowledged to the test that reached Kafka`).toBe(offeredAcked);
          expect.soft(rep.missing.slice(0, 20), `${client}: ${rep.missing.length} seqs below the highest delivered missing`).toEqual([]);
          expect.soft(rep.announcedGaps).toBe(0);
          expect.soft(rep.distinct).toBe(lastSeq);
          expect.soft(rep.orderViolations, client).toEqual([]);
        }
        console.log(
          `[black hole] heap+external after GC (both gateways): online ${memOnline.toFixed(1)} MiB, ${mem1.toFixed(1)} MiB at ${at1.toFixed(0)} s, ` +
            `${mem2.toFixed(1)} MiB at ${at2.toFixed(0)} s ` +
            `(RSS ${rss1.toFixed(0)} -> ${rss2.toFixed(0)} MiB; proxy connections open ${openDuringOutage}); held Produce requests delivered at the ` +
            `resume ${proxy.heldProduceDelivered}`,
        );
        // Memory flat between the two outage lengths (both gateways in this process); a bounded number of connections.
        expect(mem2 - mem1).toBeLessThan(6);
        expect(openDuringOutage).toBeLessThanOrEqual(3 * CLIENTS.length);
        // Duplicates, bounded by what the test's proxy measured: the Produce requests it held during the
        // black hole and delivered at the resume, plus one batch per lane per gateway on the wire when it began.
        const inFlight = proxy.heldProduceDelivered + LANES * CLIENTS.length;
        expect(duplicates, `${proxy.heldProduceDelivered} held Produce requests delivered at the resume`).toBeLessThanOrEqual(inFlight * BATCH);
      } finally {
        for (const r of runs) {
          await r.ingest.stop();
          await r.gw.stop(0);
        }
        if (brokerStarted) await stopBroker({ dir: kafkaDir });
        await proxy?.close();
        rmSync(kafkaDir, { recursive: true, force: true });
      }
    },
  );
});
