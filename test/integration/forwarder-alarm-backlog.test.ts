/**
 * Alarm during backlog, for each Kafka client (kafkajs, @platformatic/kafka): 400,000 readings
 * are appended straight into the encrypted buffer once (as after a long outage) and each client
 * gets its own copy of those files; the forwarder starts draining them into the real broker, and
 * alarms are appended while the drain is in full swing. Each must be in Kafka within 1 s of its
 * append: measured from before buffer.append() to the record's log-append time as kcat reads it
 * (the alarm topic is created with message.timestamp.type=LogAppendTime, so the broker stamps
 * each record when it writes it; same host, same clock), not from the forwarder's own ack hook.
 */
import { cpSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { openBuffer } from '../../src/buffer/index.js';
import { generateKeyFile } from '../../src/crypto/keys.js';
import { createKafkaClient, forwarderSettings } from '../../src/forwarder/clients.js';
import { Forwarder } from '../../src/forwarder/forwarder.js';
import { silentLogger } from '../../src/logger.js';
import { Events } from '../../src/metrics/events.js';
import type { PendingReading } from '../../src/reading.js';
import { syntheticPending } from '../forwarder/synthetic.js';
import { tempDir, testConfig, uniqueTopics, waitFor } from '../helpers/gateway.js';
import { createTopics, kafkaTool, readTopic } from '../helpers/kafka.js';

const brokers = inject('kafkaBrokers');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const CLIENTS = ['kafkajs', 'platformatic'] as const;
const BACKLOG = 400_000;
/** The alarms are appended once this many readings of the backlog are in Kafka (the drain is running at full speed). */
const FORWARDED_FIRST = 40_000;
const ALARMS = 5;

/** The backlog's buffer files and key, built once; each client drains a copy. */
let template: { dataDir: string; keyFile: string; buildMs: number } | null = null;

beforeAll(async () => {
  const root = tempDir();
  const dataDir = join(root, 'data');
  mkdirSync(dataDir, { recursive: true });
  const keyFile = join(root, 'wardgate.key');
  generateKeyFile(keyFile);
  const log = silentLogger();
  const buffer = await openBuffer({ dir: dataDir, keyFile, gatewayId: 'gw-alarm-backlog', events: new Events(log), log });
  const tBuild = Date.now();
  const old = Date.now() - 3_600_000;
  for (let i = 0; i < BACKLOG; i += 4096) {
    const n = Math.min(4096, BACKLOG - i);
    await buffer.append(Array.from({ length: n }, (_, k) => syntheticPending(i + k, { devices: 36, statusEvery: 50 }, old + Math.floor((i + k) / 300))));
  }
  const buildMs = Date.now() - tBuild;
  expect(buffer.stats().totalReadings).toBe(BACKLOG);
  expect(buffer.stats().perClass.alarm.readings).toBe(0);
  await buffer.close();
  template = { dataDir, keyFile, buildMs };
}, 120_000);

describe.each(CLIENTS)('forwarder: alarm during a backlog, %s', (client) => {
  it(`an alarm appended while ${BACKLOG} readings drain reaches Kafka within 1 s (append to the broker's log-append time)`, async () => {
    if (!template) throw new Error('the backlog was not built (see beforeAll)');
    const root = tempDir();
    const dataDir = join(root, 'data');
    cpSync(template.dataDir, dataDir, { recursive: true });
    const { keyFile, buildMs } = template;
    const log = silentLogger();
    const events = new Events(log);
    const buffer = await openBuffer({ dir: dataDir, keyFile, gatewayId: 'gw-alarm-backlog', events, log });
    expect(buffer.stats().totalReadings).toBe(BACKLOG);

    const topics = uniqueTopics(`fwd-alarm-${client}`);
    const k = testConfig(brokers, dataDir, { kafka: { client, topics } }).kafka;
    // The broker, not the producer, stamps each alarm record: log-append time.
    await kafkaTool('org.apache.kafka.tools.TopicCommand', [
      '--bootstrap-server',
      brokers,
      '--create',
      '--if-not-exists',
      '--topic',
      topics.alarm,
      '--partitions',
      '3',
      '--replication-factor',
      '1',
      '--config',
      'message.timestamp.type=LogAppendTime',
    ]);
    await createTopics(brokers, [topics.alarm], 3);
    const appendedAt = new Map<string, number>();
    const forwarder = new Forwarder(
      buffer,
      createKafkaClient(k, log),
      {
        ...forwarderSettings(k),
        createTopics: true,
        alarmClient: createKafkaClient(k, log),
      },
      events,
      log,
    );
    let drainRate = 0;
    let forwardedAtFirstAlarm = 0;
    try {
      const tStart = Date.now();
      forwarder.start();
      await waitFor(() => forwarder.status().forwarded >= FORWARDED_FIRST, 60_000, `${FORWARDED_FIRST} readings drained`);
      forwardedAtFirstAlarm = forwarder.status().forwarded;
      for (let a = 0; a < ALARMS; a++) {
        const id = `alarm-probe-${a}`;
        const alarm: PendingReading = {
          ...syntheticPending(a, { devices: 1 }),
          deviceId: id,
          priorityClass: 'alarm',
          metric: 'heart_rate',
          value: 190,
          unit: '/min',
          extra: { alarm: 'HR_HIGH', severity: 'high' },
        };
        appendedAt.set(id, Date.now());
        await buffer.append([alarm]);
        await sleep(200);
      }
      const s = forwarder.status();
      drainRate = (s.forwarded * 1000) / (Date.now() - tStart);
      // The drain was still in full swing: the alarms did not wait for an empty buffer.
      expect(buffer.stats().totalReadings).toBeGreaterThan(BACKLOG / 4);
      expect(s.state).toBe('draining');
    } finally {
      await forwarder.stop();
      await buffer.close();
    }
    const onTopic = await readTopic(brokers, topics.alarm, { expected: ALARMS, timeoutMs: 30_000 });
    const latencies = onTopic.map((m) => m.timestamp - appendedAt.get(m.key ?? '')!);
    // Log-append time is the broker's clock when it wrote the record: never before the test's append.
    for (const l of latencies) expect(l).toBeGreaterThanOrEqual(0);
    console.log(
      `[alarm backlog ${client}] ${BACKLOG} readings appended in ${buildMs} ms; drain ${drainRate.toFixed(0)} readings/s; ` +
        `alarms appended after ${forwardedAtFirstAlarm} forwarded: append to log-append time ${latencies.map((l) => `${l} ms`).join(', ')}`,
    );
    expect(latencies.length).toBe(ALARMS);
    for (const l of latencies) expect(l).toBeLessThanOrEqual(1000);
    expect(onTopic.map((m) => m.key).sort()).toEqual(Array.from({ length: ALARMS }, (_, a) => `alarm-probe-${a}`));
    for (const m of onTopic) expect(JSON.parse(m.value).priority).toBe('alarm');
  });
});
