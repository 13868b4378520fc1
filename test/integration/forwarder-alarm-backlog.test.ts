/**
 * Alarm during backlog, for each Kafka client (kafkajs, @platformatic/kafka): 400,000 readings
 * are appended straight into the encrypted buffer once (as after a long outage) and each client
 * gets its own copy of those files; the forwarder starts draining them into the real broker, and
 * alarms are appended while the drain is in full swing. Every alarm must be readable from Kafka
 * (kcat) while most of the backlog appended before it is still buffered: alarms overtake the backlog
 * rather than wait behind it. No wall-clock bound (issue 15 item 6); the latency from before
 * buffer.append() to the record's log-append time (the alarm topic uses
 * message.timestamp.type=LogAppendTime; same host, same clock) is printed for the record.
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
  it(`an alarm appended while ${BACKLOG} readings drain reaches Kafka ahead of the backlog: all are readable while most of it is still buffered`, async () => {
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
    let onTopic: Awaited<ReturnType<typeof readTopic>> = [];
    let remainingWhenAlarmsRead = -1;
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
      expect(s.state).toBe('draining');
      // Every alarm is already in Kafka (read back by kcat) while the backlog appended BEFORE the alarms
      // is still mostly in the buffer: the alarms overtook it instead of waiting behind it. No wall-clock
      // bound: a slower machine drains more slowly and leaves even more behind.
      onTopic = await readTopic(brokers, topics.alarm, { expected: ALARMS, timeoutMs: 60_000 });
      remainingWhenAlarmsRead = buffer.stats().totalReadings;
    } finally {
      await forwarder.stop();
      await buffer.close();
    }
    expect(remainingWhenAlarmsRead).toBeGreaterThan(BACKLOG / 10);
    const latencies = onTopic.map((m) => m.timestamp - appendedAt.get(m.key ?? '')!);
    // Log-append time is the broker's clock when it wrote the record: never before the test's append.
    for (const l of latencies) expect(l).toBeGreaterThanOrEqual(0);
    console.log(
      `[alarm backlog ${client}] ${BACKLOG} readings appended in ${buildMs} ms; drain ${drainRate.toFixed(0)} readings/s; ` +
        `alarms appended after ${forwardedAtFirstAlarm} forwarded, all read back with ${remainingWhenAlarmsRead} still buffered: ` +
        `append to log-append time ${latencies.map((l) => `${l} ms`).join(', ')}`,
    );
    expect(latencies.length).toBe(ALARMS);
    expect(onTopic.map((m) => m.key).sort()).toEqual(Array.from({ length: ALARMS }, (_, a) => `alarm-probe-${a}`));
    for (const m of onTopic) expect(JSON.parse(m.value).priority).toBe('alarm');
  });
});
