/**
 * Outage: ingest at 2,000 readings/s for 60 s; the shared broker is stopped 20 s in and
 * started again 20 s later. Checked with kcat (no wardgate or kafkajs code): every committed
 * reading arrives, each device's readings sit in one partition per topic in sequence order,
 * and duplicates (if any) number no more than the readings of sends whose fate was unknown.
 */
import { describe, expect, inject, it } from 'vitest';
import type { KafkaState } from '../../src/forwarder/state.js';
import { PacedIngest } from '../forwarder/synthetic.js';
import { checkDelivery, readDelivered } from '../forwarder/verify.js';
import { startTestGateway, tempDir, testConfig, uniqueTopics, waitFor } from '../helpers/gateway.js';
import { startBroker, stopBroker } from '../helpers/kafka.js';

const brokers = inject('kafkaBrokers');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const RATE = 2000;
const RUN_MS = 60_000;
const STOP_AT_MS = 20_000;
const OUTAGE_MS = 20_000;
/** Readings per batch (the test's setting), the forwarder's two lanes (one batch each on the wire), two faults (stop, restart). */
const BATCH = 2000;
const LANES = 2;
const FAULTS = 2;

describe('forwarder: Kafka outage under load', () => {
  it('2,000 readings/s for 60 s with the broker down for 20 s: all arrive, in per-device order, duplicates at most one batch per lane per fault', async () => {
    const topics = uniqueTopics('fwd-outage');
    const dir = tempDir();
    const gw = await startTestGateway(
      testConfig(brokers, dir, {
        kafka: { topics, sendTimeout: 5000, connectTimeout: 3000, retry: { initial: 200, max: 2000 }, batch: { maxReadings: BATCH } },
      }),
    );
    const states = new Map<KafkaState, number>();
    const watch = setInterval(() => {
      const s = gw.forwarder.status().state;
      states.set(s, (states.get(s) ?? 0) + 1);
    }, 100);
    const ingest = new PacedIngest((inputs) => gw.ingest.submit(inputs), RATE, { devices: 36, alarmEvery: 97, statusEvery: 211 });
    const t0 = Date.now();
    let detectMs = -1;
    let backlogAtRestart = 0;
    let brokerDown = false;
    try {
      ingest.start();
      await sleep(STOP_AT_MS);
      expect(gw.forwarder.status().state).toMatch(/online|draining/);
      const tStop = Date.now();
      await stopBroker();
      brokerDown = true;
      await waitFor(() => gw.forwarder.status().state === 'offline', 20_000, 'forwarder to go offline');
      detectMs = Date.now() - tStop;
      await sleep(Math.max(0, tStop + OUTAGE_MS - Date.now()));
      backlogAtRestart = gw.buffer.stats().totalReadings;
    } finally {
      if (brokerDown) await startBroker();
    }
    await sleep(Math.max(0, t0 + RUN_MS - Date.now()));
    await ingest.stop();
    const achieved = (ingest.submitted * 1000) / RUN_MS;
    expect(ingest.failed).toBe(0);
    expect(achieved).toBeGreaterThan(RATE * 0.95);
    expect(await gw.forwarder.drained(60_000)).toBe(true);
    clearInterval(watch);
    const status = gw.forwarder.status();
    const lastSeq = gw.buffer.stats().lastSeq;
    expect(await gw.stop(10_000)).toBe(true);

    const committed = gw.ingest.committed;
    expect(committed).toBe(ingest.committed);
    const msgs = await readDelivered(brokers, Object.values(topics), { expected: committed, timeoutMs: 90_000 });
    const rep = checkDelivery(msgs, gw.gatewayId, lastSeq);
    console.log(
      `[outage] committed ${committed} (${achieved.toFixed(0)}/s), backlog at broker restart ${backlogAtRestart}, offline detected after ${detectMs} ms, ` +
        `delivered ${msgs.length} (${rep.distinct} distinct, ${rep.duplicates} duplicates; unknown-fate readings ${status.unknownFate}), ` +
        `states seen ${JSON.stringify(Object.fromEntries(states))}`,
    );
    expect(backlogAtRestart).toBeGreaterThan(RATE * 15);
    expect(rep.missing.slice(0, 20), `${rep.missing.length} committed readings missing`).toEqual([]);
    expect(rep.announcedGaps).toBe(0);
    expect(rep.maxSeq).toBe(lastSeq);
    expect(rep.distinct).toBe(ingest.committed); // what the test saw acknowledged
    expect(rep.badIdentity).toBe(0);
    expect(rep.orderViolations).toEqual([]);
    // Duplicates only from batches on the wire at a fault: one per lane at the stop and at the restart.
    expect(rep.duplicates).toBeLessThanOrEqual(FAULTS * LANES * BATCH);
    // A clean stop refuses connections: detected within a couple of retries, not the send timeout.
    expect(detectMs).toBeGreaterThanOrEqual(0);
    expect(detectMs).toBeLessThan(10_000);
    expect(states.get('offline') ?? 0).toBeGreaterThan(0);
    expect(status.state).toBe('online');
    expect(status.consecutiveFailures).toBe(0);
    expect(await gw.events.count('kafka_send_failed')).toBeGreaterThan(0);
  });
});
