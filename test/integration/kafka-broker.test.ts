/**
 * Proves the Kafka test harness itself (no gateway code): the broker from the global setup
 * takes records from kcat, readTopic() and endOffsets() see exactly those, and the records
 * survive a clean stop/start, a SIGKILL crash, and a SIGSTOP/SIGCONT hang, on the same port.
 */
import { createConnection } from 'node:net';
import { afterAll, describe, expect, inject, it } from 'vitest';
import {
  brokerStatus,
  createTopics,
  endOffsets,
  type KafkaRecord,
  killBroker,
  partitionEndOffsets,
  pauseBroker,
  produceWithKcat,
  readTopic,
  resumeBroker,
  run,
  startBroker,
  stopBroker,
} from '../helpers/kafka.js';

const brokers = inject('kafkaBrokers');
const kafkaDir = inject('kafkaDir');
const topic = `harness-${Date.now()}`;

/** What a TCP connection to the broker's port meets: 'accepted' or the error. */
function connectOutcome(): Promise<string> {
  const [host, port] = brokers.split(',')[0]!.split(':');
  return new Promise<string>((resolve) => {
    const sock = createConnection({ host: host!, port: Number(port) });
    sock.once('connect', () => {
      sock.destroy();
      resolve('accepted');
    });
    sock.once('error', (e) => resolve(`error: ${e.message}`));
  });
}

const sent: Array<{ key: string; value: string; headers: Record<string, string> }> = [
  { key: 'bed-1', value: JSON.stringify({ metric: 'hr', value: 72, unit: 'bpm' }), headers: { gateway: 'ward-7', seq: '1' } },
  {
    key: 'bed-2',
    value: JSON.stringify({ metric: 'spo2', label: 'SpO₂', value: 97.5 }),
    headers: { gateway: 'ward-7', seq: '2', 'content-type': 'application/json' },
  },
  { key: 'bed-3', value: JSON.stringify({ metric: 'temp', value: 37.2, note: 'fièvre légère' }), headers: { gateway: 'ward-9', seq: '3' } },
];

function summary(records: KafkaRecord[]) {
  return records.map((r) => ({ key: r.key, value: r.value, headers: r.headers })).sort((a, b) => String(a.key).localeCompare(String(b.key)));
}

describe('Kafka test harness (real broker, kcat, Kafka tools)', () => {
  afterAll(async () => {
    // Leave the shared broker running and responsive for the next test file.
    const s = await brokerStatus(kafkaDir);
    if (s.paused) await resumeBroker(kafkaDir);
    if (!s.running) await startBroker(kafkaDir);
  });

  it('the global setup provides a loopback broker and its folder', async () => {
    expect(brokers).toMatch(/^127\.0\.0\.1:\d+$/);
    const status = await brokerStatus(kafkaDir);
    expect(status).toMatchObject({ running: true, paused: false, address: brokers });
  });

  it('creates a 3-partition topic with TopicCommand', async () => {
    await createTopics(brokers, [topic], 3);
    const parts = await partitionEndOffsets(brokers, topic);
    expect(parts).toEqual({ 0: 0, 1: 0, 2: 0 });
  });

  it('reads back what kcat produced: keys, values, headers, partitions, offsets', async () => {
    await produceWithKcat(brokers, topic, sent);
    const records = await readTopic(brokers, topic, { expected: 3, timeoutMs: 20_000 });
    expect(records).toHaveLength(3);
    expect(summary(records)).toEqual(sent);
    for (const r of records) {
      expect(r.topic).toBe(topic);
      expect([0, 1, 2]).toContain(r.partition);
      expect(r.offset).toBeGreaterThanOrEqual(0);
      expect(r.valueBytes?.equals(Buffer.from(r.value, 'utf8'))).toBe(true);
      expect(JSON.parse(r.value)).toHaveProperty('metric');
      expect(r.timestamp).toBeGreaterThan(Date.now() - 600_000);
    }
    // offsets within a partition are 0..n-1
    const byPartition = new Map<number, number[]>();
    for (const r of records) byPartition.set(r.partition, [...(byPartition.get(r.partition) ?? []), r.offset]);
    for (const offs of byPartition.values()) expect(offs).toEqual(offs.map((_, i) => i));
    expect(await endOffsets(brokers, topic)).toBe(3);
  });

  it('returns exact bytes, null keys and repeated headers', async () => {
    const t = `${topic}-raw`;
    await createTopics(brokers, [t], 1);
    const bytes = Buffer.from([0x00, 0x01, 0x22, 0x5c, 0x7f, 0x80, 0xff, 0xfe, 0x0a]);
    await produceWithKcat(brokers, t, [{ key: null, value: bytes }]);
    await run('kcat', ['-b', brokers, '-P', '-t', t, '-k', 'k', '-H', 'h=1', '-H', 'h=2', '-H', 'eq=a=b'], {
      input: 'plain',
      timeoutMs: 30_000,
    });
    const records = await readTopic(brokers, t, { expected: 2, timeoutMs: 20_000 });
    expect(records).toHaveLength(2);
    expect(records[0]?.key).toBeNull();
    expect(records[0]?.valueBytes).toEqual(bytes);
    expect(records[1]?.key).toBe('k');
    expect(records[1]?.value).toBe('plain');
    expect(records[1]?.headerList).toEqual([
      ['h', '1'],
      ['h', '2'],
      ['eq', 'a=b'],
    ]);
    expect(records[1]?.headers).toEqual({ h: '2', eq: 'a=b' });
  });

  it('keeps the records across a clean stop and start on the same port', async () => {
    await stopBroker(kafkaDir);
    const stopped = await brokerStatus(kafkaDir);
    expect(stopped.running).toBe(false);
    expect(stopped.address).toBe(brokers);
    await expect(run('kcat', ['-b', brokers, '-L', '-m', '2'], { timeoutMs: 20_000 })).rejects.toThrow(/transport failure|refused/i);

    expect(await startBroker(kafkaDir)).toBe(brokers);
    expect(summary(await readTopic(brokers, topic, { expected: 3, timeoutMs: 30_000 }))).toEqual(sent);
    expect(await endOffsets(brokers, topic)).toBe(3);
  });

  it('keeps the records across a SIGKILL crash', async () => {
    await killBroker(kafkaDir);
    // Gone means its port is closed too: a JVM's main thread can be a zombie while its other
    // threads (and its listening socket) are still going, and a start then finds the port taken.
    expect(await connectOutcome()).toMatch(/ECONNREFUSED/);
    expect((await brokerStatus(kafkaDir)).running).toBe(false);
    expect(await startBroker(kafkaDir)).toBe(brokers);
    expect(summary(await readTopic(brokers, topic, { expected: 3, timeoutMs: 30_000 }))).toEqual(sent);
    expect(await endOffsets(brokers, topic)).toBe(3);
  });

  it('a paused broker times out instead of refusing, and works again after resume', async () => {
    await pauseBroker(kafkaDir);
    expect(await brokerStatus(kafkaDir)).toMatchObject({ running: true, paused: true });
    // A hung broker accepts TCP (kernel backlog: no refusal) but never answers: kcat -m 2 gives up
    // after its metadata timeout. Checked by what happens, not by how long it took.
    expect(await connectOutcome()).toBe('accepted');
    await expect(run('kcat', ['-b', brokers, '-L', '-t', topic, '-m', '2'], { timeoutMs: 20_000 })).rejects.toThrow(/Failed to acquire metadata/);
    await resumeBroker(kafkaDir);
    expect((await brokerStatus(kafkaDir)).paused).toBe(false);
    expect(await readTopic(brokers, topic, { expected: 3, timeoutMs: 30_000 })).toHaveLength(3);
  });
});
