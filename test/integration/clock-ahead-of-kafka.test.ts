/**
 * The gateway's clock two hours ahead of the broker's (a Pi's real-time clock kept in local time,
 * no time server since boot): Kafka 4 refuses every record batch whose timestamp is more than
 * message.timestamp.after.max.ms (1 h by default) ahead of its own clock, and the records carry the
 * gateway's clock. `wardgate run` runs under libfaketime (the wall clock moved by the offset file,
 * the monotonic clock left real) against the real broker, for each client. While the clock is ahead:
 * nothing reaches Kafka, the readings stay in the buffer, and the forwarder says it is the clock (a
 * configuration error naming INVALID_TIMESTAMP), not "kafka offline: unexpected server error". The
 * clock set right, without a restart: every reading the test published arrives, once.
 */
import { writeFileSync } from 'node:fs';
import { connectAsync } from 'mqtt';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { readStatusFile, statusFilePath } from '../../src/status-file.js';
import { startClockedGateway } from '../helpers/faketime.js';
import { uniqueTopics, waitFor } from '../helpers/gateway.js';
import { createTopics, readTopic } from '../helpers/kafka.js';

const brokers = inject('kafkaBrokers');

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

describe('the gateway clock two hours ahead of Kafka', () => {
  for (const client of ['kafkajs', 'platformatic'] as const) {
    it(`${client}: nothing is lost, the clock is named, everything goes once the clock is set right`, { timeout: 150_000 }, async () => {
      const topics = uniqueTopics(`clock-ahead-${client}`);
      await createTopics(brokers, Object.values(topics), 1);
      const { c, data, url, offsetFile } = await startClockedGateway(
        '+2h',
        `  brokers: ["${brokers}"]\n  client: ${client}\n  createTopics: false\n  retry: { initial: 200ms, max: 1s }\n  topics: ${JSON.stringify(topics)}\n`,
      );
      cleanup.push(() => c.proc.exitCode === null && c.proc.kill('SIGKILL'));
      expect(c.proc.exitCode, c.stderr()).toBeNull();

      const mqtt = await connectAsync(url, { username: 'mon', password: 'pw-mon', reconnectPeriod: 0 });
      cleanup.push(() => mqtt.endAsync(true));
      const published: number[] = [];
      for (let i = 0; i < 20; i++) {
        const v = 40 + i;
        await mqtt.publishAsync(`hr/BED-01/mon-${client}`, String(v), { qos: 1 }); // acknowledged: committed
        published.push(v);
      }

      // Refused, and said so: the forwarder names the timestamps and the clock.
      const configError = (): string => readStatusFile(statusFilePath(data))?.forwarder.configError ?? '';
      await waitFor(() => configError().includes('INVALID_TIMESTAMP') || c.proc.exitCode !== null, 60_000, 'the refusal of the timestamps reported');
      expect(configError()).toMatch(/this gateway's clock is more than the topic allows ahead of or behind the broker's/);
      // Two more rounds of retries (retry.max 1 s) refused as well: still nothing in Kafka.
      await new Promise((r) => setTimeout(r, 2_500));
      expect(c.proc.exitCode, c.stderr()).toBeNull();
      expect(await readTopic(brokers, topics.vital)).toEqual([]);

      // The clock set right (a jump back of two hours, as NTP would make): all of it goes, once.
      writeFileSync(offsetFile, '+0\n');
      const got = await readTopic(brokers, topics.vital, { expected: published.length, timeoutMs: 60_000 });
      const values = got.map((m) => (JSON.parse(m.value) as { value: number }).value).sort((a, b) => a - b);
      expect(values).toEqual(published);
      await waitFor(() => readStatusFile(statusFilePath(data))?.forwarder.configError === null, 30_000, 'the configuration error cleared');
      c.proc.kill('SIGTERM');
      expect(await c.exited, c.stderr()).toBe(0);
    });
  }
});
