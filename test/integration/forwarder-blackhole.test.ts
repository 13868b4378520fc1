/**
 * Black hole: a second broker of this test's own advertises a loopback TCP proxy's port, so
 * every byte between gateway and broker passes the proxy. Pausing the proxy swallows bytes
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
const RATE = 1000;
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

describe('forwarder: black-holed connection', () => {
  it('notices within the send timeout, buffers, recovers; memory does not grow with the outage', async () => {
    const kafkaDir = tempDir('wg-kafka-bh-');
    const kafkaPort = await freePort();
    let proxy: TcpProxy | null = null;
    let gw: Gateway | null = null;
    let ingest: PacedIngest | null = null;
    let brokerStarted = false;
    try {
      proxy = await startTcpProxy({ targetPort: kafkaPort });
      const direct = await startBroker({ dir: kafkaDir, env: { KAFKA_PORT: String(kafkaPort), KAFKA_ADVERTISED_PORT: String(proxy.port) } });
      brokerStarted = true;
      const topics = uniqueTopics('fwd-bh');
      gw = await startTestGateway(
        testConfig(`127.0.0.1:${proxy.port}`, tempDir(), {
          // The client on this thread, so that its memory is in this isolate's heap measurements.
          kafka: {
            topics,
            clientThread: false,
            sendTimeout: SEND_TIMEOUT_MS,
            connectTimeout: 2000,
            retry: { initial: 200, max: 1000 },
            batch: { maxReadings: BATCH },
          },
        }),
      );
      const g = gw;
      ingest = new PacedIngest((inputs) => g.ingest.submit(inputs), RATE, { devices: 40, alarmEvery: 53 });
      ingest.start();
      await waitFor(() => g.forwarder.status().forwarded > 3000, 30_000, 'forwarding through the proxy');
      expect(proxy.accepted).toBeGreaterThan(0);
      const memOnline = await retainedMiB();

      // Black hole.
      proxy.pause();
      const tPause = Date.now();
      await waitFor(() => !['online', 'draining'].includes(g.forwarder.status().state), 20_000, 'the gateway to notice the black hole');
      const detectMs = Date.now() - tPause;
      const reason = g.forwarder.status().reason;
      await waitFor(() => g.forwarder.status().state === 'offline', 20_000, 'offline');
      const offlineMs = Date.now() - tPause;
      const buffered0 = g.buffer.stats().totalReadings;
      await sleep(Math.max(0, tPause + 12_000 - Date.now()));
      const mem1 = await retainedMiB();
      const rss1 = process.memoryUsage().rss / 2 ** 20;
      const at1 = (Date.now() - tPause) / 1000;
      const failures1 = g.forwarder.status().consecutiveFailures;
      await sleep(Math.max(0, tPause + 42_000 - Date.now()));
      const mem2 = await retainedMiB();
      const rss2 = process.memoryUsage().rss / 2 ** 20;
      const at2 = (Date.now() - tPause) / 1000;
      const failures2 = g.forwarder.status().consecutiveFailures;
      const buffered2 = g.buffer.stats().totalReadings;
      const openDuringOutage = proxy.open;
      expect(proxy.heldBytes).toBeGreaterThan(0);

      // The network heals.
      proxy.resume();
      const tResume = Date.now();
      await waitFor(() => ['online', 'draining'].includes(g.forwarder.status().state), 30_000, 'back online');
      const recoverMs = Date.now() - tResume;
      await ingest.stop();
      expect(await g.forwarder.drained(60_000)).toBe(true);
      const drainMs = Date.now() - tResume;
      const status = g.forwarder.status();
      expect(await g.stop(10_000)).toBe(true);

      // The expected side is the test's: the readings its ingest saw acknowledged (each has its own seq).
      const offeredAcked = ingest.committed;
      expect(ingest.failed).toBe(0);
      const msgs = await readDelivered(direct, Object.values(topics), { expected: offeredAcked, timeoutMs: 60_000 });
      const fromTest = new Set(msgs.filter((m) => m.deviceId.startsWith('sim-dev-')).map((m) => m.seq)).size;
      const lastSeq = msgs.reduce((a, m) => Math.max(a, m.seq), 0);
      const rep = checkDelivery(msgs, g.gatewayId, lastSeq);
      console.log(
        `[black hole] not online ${detectMs} ms after the pause, offline after ${offlineMs} ms (${reason}); ` +
          `heap+external after GC: online ${memOnline.toFixed(1)} MiB, ${mem1.toFixed(1)} MiB at ${at1.toFixed(0)} s, ${mem2.toFixed(1)} MiB at ` +
          `${at2.toFixed(0)} s ` +
          `(RSS ${rss1.toFixed(0)} -> ${rss2.toFixed(0)} MiB; failed attempts ${failures1} -> ${failures2}; proxy connections open ${openDuringOutage}); ` +
          `buffered ${buffered0} -> ${buffered2}; online again ${recoverMs} ms after resume, drained after ${drainMs} ms; ` +
          `${offeredAcked} acknowledged to the test, ${fromTest} of them delivered, highest seq ${lastSeq}, ${msgs.length} delivered, ` +
          `${rep.duplicates} duplicates (unknown fate ${status.unknownFate}; held Produce requests delivered at the resume ${proxy.heldProduceDelivered})`,
      );
      // Noticed within the send timeout (plus slack for a busy machine: other test files run meanwhile).
      expect(detectMs).toBeGreaterThanOrEqual(SEND_TIMEOUT_MS - 500);
      expect(detectMs).toBeLessThanOrEqual(SEND_TIMEOUT_MS + 2000);
      expect(reason).toMatch(/timeout/);
      // Kept buffering and retrying with backoff; memory flat between the two outage lengths.
      expect(buffered2).toBeGreaterThan(buffered0 + RATE * 25);
      expect(failures2).toBeGreaterThan(failures1 + 3);
      expect(mem2 - mem1).toBeLessThan(6);
      expect(openDuringOutage).toBeLessThanOrEqual(3);
      expect(recoverMs).toBeLessThan(10_000);
      expect(fromTest, 'readings acknowledged to the test that reached Kafka').toBe(offeredAcked);
      expect(rep.missing.slice(0, 20), `${rep.missing.length} seqs below the highest delivered missing`).toEqual([]);
      expect(rep.announcedGaps).toBe(0);
      expect(rep.distinct).toBe(lastSeq);
      expect(rep.orderViolations).toEqual([]);
      // Duplicates, bounded by what the test's proxy measured: the Produce requests it held during the
      // black hole and delivered at the resume, plus one batch per lane on the wire when it began.
      const inFlight = proxy.heldProduceDelivered + LANES;
      expect(rep.duplicates, `${proxy.heldProduceDelivered} held Produce requests delivered at the resume`).toBeLessThanOrEqual(inFlight * BATCH);
    } finally {
      await ingest?.stop();
      if (gw) await gw.stop(0);
      if (brokerStarted) await stopBroker({ dir: kafkaDir });
      await proxy?.close();
      rmSync(kafkaDir, { recursive: true, force: true });
    }
  });
});
