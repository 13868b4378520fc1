/**
 * Outage: two gateways, one per Kafka client (kafkajs, @platformatic/kafka), each ingesting
 * 1,000 readings/s for 45 s; the shared broker is stopped 15 s in and started again 15 s later:
 * one outage for both clients at once. Checked with kcat (no wardgate or client code): every
 * reading acknowledged to the test arrives, each device's readings sit in one partition per topic
 * in sequence order, and duplicates number at most one batch per lane per fault.
 */
import { describe, expect, inject, it } from 'vitest';
import type { KafkaState } from '../../src/forwarder/state.js';
import type { Gateway } from '../../src/gateway.js';
import { PacedIngest } from '../forwarder/synthetic.js';
import { checkDelivery, readDelivered } from '../forwarder/verify.js';
import { startTestGateway, tempDir, testConfig, uniqueTopics, waitFor } from '../helpers/gateway.js';
import { startBroker, stopBroker } from '../helpers/kafka.js';

const brokers = inject('kafkaBrokers');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const CLIENTS = ['kafkajs', 'platformatic'] as const;
/** Per gateway (two run at once). */
const RATE = 1000;
const RUN_MS = 45_000;
const STOP_AT_MS = 15_000;
const OUTAGE_MS = 15_000;
/** Readings per batch (the test's setting), the forwarder's two lanes (one batch each on the wire), two faults (stop, restart). */
const BATCH = 2000;
const LANES = 2;
const FAULTS = 2;

interface Run {
  client: (typeof CLIENTS)[number];
  topics: ReturnType<typeof uniqueTopics>;
  gw: Gateway;
  ingest: PacedIngest;
  states: Map<KafkaState, number>;
  detectMs: number;
  backlogAtRestart: number;
  /** Readings the test saw acknowledged once the broker was down, until just before it restarted. */
  ackedWhileDown: number;
}

describe('forwarder: Kafka outage under load, both clients in one outage', () => {
  it(
    `${RATE} readings/s per client for ${RUN_MS / 1000} s with the broker down ${OUTAGE_MS / 1000} s: every acknowledged reading arrives, per-device ` +
      `order, duplicates at most one batch per lane per fault`,
    async () => {
      const runs: Run[] = [];
      for (const client of CLIENTS) {
        const topics = uniqueTopics(`fwd-outage-${client}`);
        const gw = await startTestGateway(
          testConfig(brokers, tempDir(), {
            kafka: { client, topics, sendTimeout: 5000, connectTimeout: 3000, retry: { initial: 200, max: 2000 }, batch: { maxReadings: BATCH } },
          }),
        );
        const ingest = new PacedIngest((inputs) => gw.ingest.submit(inputs), RATE, { devices: 36, alarmEvery: 97, statusEvery: 211 });
        runs.push({ client, topics, gw, ingest, states: new Map(), detectMs: -1, backlogAtRestart: 0, ackedWhileDown: 0 });
      }
      const watch = setInterval(() => {
        for (const r of runs) {
          const s = r.gw.forwarder.status().state;
          r.states.set(s, (r.states.get(s) ?? 0) + 1);
        }
      }, 100);
      const t0 = Date.now();
      let brokerDown = false;
      try {
        for (const r of runs) r.ingest.start();
        await sleep(STOP_AT_MS);
        for (const r of runs) expect(r.gw.forwarder.status().state, r.client).toMatch(/online|draining/);
        const tStop = Date.now();
        await stopBroker();
        brokerDown = true;
        const ackedAtStop = runs.map((r) => r.ingest.committed);
        await Promise.all(
          runs.map(async (r) => {
            await waitFor(() => r.gw.forwarder.status().state === 'offline', 20_000, `${r.client}: forwarder to go offline`);
            r.detectMs = Date.now() - tStop;
          }),
        );
        await sleep(Math.max(0, tStop + OUTAGE_MS - Date.now()));
        runs.forEach((r, i) => {
          r.ackedWhileDown = r.ingest.committed - ackedAtStop[i]!;
          r.backlogAtRestart = r.gw.buffer.stats().totalReadings;
        });
      } finally {
        if (brokerDown) await startBroker();
      }
      await sleep(Math.max(0, t0 + RUN_MS - Date.now()));
      for (const r of runs) await r.ingest.stop();
      clearInterval(watch);
      for (const { client, topics, gw, ingest, states, detectMs, backlogAtRestart, ackedWhileDown } of runs) {
        const achieved = (ingest.submitted * 1000) / RUN_MS;
        expect(ingest.failed).toBe(0);
        expect(await gw.forwarder.drained(60_000), client).toBe(true);
        const status = gw.forwarder.status();
        const lastSeq = gw.buffer.stats().lastSeq;
        expect(await gw.stop(10_000)).toBe(true);

        const acked = ingest.committed; // what the test saw acknowledged
        const msgs = await readDelivered(brokers, Object.values(topics), { expected: acked, timeoutMs: 90_000 });
        const rep = checkDelivery(msgs, gw.gatewayId, lastSeq);
        console.log(
          `[outage ${client}] acknowledged ${acked} (${achieved.toFixed(0)}/s), backlog at broker restart ${backlogAtRestart}, offline detected after ` +
            `${detectMs} ms, ` +
            `delivered ${msgs.length} (${rep.distinct} distinct, ${rep.duplicates} duplicates), states seen ${JSON.stringify(Object.fromEntries(states))}`,
        );
        // The gateway kept acknowledging while Kafka was down, and none of those readings could leave the
        // buffer: all of them were still there when the broker came back (counts the test observed).
        expect(ackedWhileDown, client).toBeGreaterThan(0);
        expect(backlogAtRestart, client).toBeGreaterThanOrEqual(ackedWhileDown);
        expect(rep.missing.slice(0, 20), `${client}: ${rep.missing.length} acknowledged readings missing`).toEqual([]);
        expect(rep.announcedGaps).toBe(0);
        expect(rep.maxSeq).toBe(lastSeq);
        expect(rep.distinct, client).toBe(acked);
        expect(rep.badIdentity).toBe(0);
        expect(rep.orderViolations, client).toEqual([]);
        // Duplicates only from batches on the wire at a fault: one per lane at the stop and at the restart.
        expect(rep.duplicates, client).toBeLessThanOrEqual(FAULTS * LANES * BATCH);
        expect(states.get('offline') ?? 0).toBeGreaterThan(0);
        expect(status.state).toBe('online');
        expect(status.consecutiveFailures).toBe(0);
        expect(await gw.events.count('kafka_send_failed')).toBeGreaterThan(0);
      }
    },
  );
});
