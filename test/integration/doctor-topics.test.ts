/**
 * `wardgate doctor` reads the settings of the topics the gateway sends to, with the gateway's own
 * client, from a real broker: a compacted topic (Kafka would keep one reading per device) fails, a
 * topic that is not there warns when the gateway may not create it, a plain one is ok with its
 * settings. The topics and their settings are made by the test (Kafka's TopicCommand).
 */
import { describe, expect, inject, it } from 'vitest';
import { kafkaTopicChecks } from '../../src/cli/doctor.js';
import { createKafkaClient } from '../../src/forwarder/clients.js';
import { silentLogger } from '../../src/logger.js';
import { tempDir, testConfig, uniqueTopics } from '../helpers/gateway.js';
import { createTopics } from '../helpers/kafka.js';

const brokers = inject('kafkaBrokers');

describe('wardgate doctor: the topics as Kafka has them', () => {
  for (const client of ['kafkajs', 'platformatic'] as const) {
    it(`${client}: compacted fails, missing warns (createTopics off), plain is ok with its settings`, { timeout: 120_000 }, async () => {
      const topics = uniqueTopics(`doctor-topics-${client}`);
      await createTopics(brokers, [topics.alarm, topics.status], 1);
      await createTopics(brokers, [topics.vital], 1, { 'cleanup.policy': 'compact', 'retention.ms': '86400000' });
      const cfg = testConfig(brokers, tempDir(), { kafka: { client, topics, createTopics: false } });
      const kafka = createKafkaClient(cfg.kafka, silentLogger());
      let checks: Awaited<ReturnType<typeof kafkaTopicChecks>>;
      try {
        await kafka.connect(cfg.kafka.connectTimeout);
        checks = await kafkaTopicChecks(cfg, kafka);
      } finally {
        await kafka.close(2000);
      }
      const by = new Map(checks.map((c) => [c.name, c]));
      expect(checks.map((c) => c.name).sort()).toEqual(
        Object.values(topics)
          .map((t) => `kafka topic ${t}`)
          .sort(),
      );
      expect(by.get(`kafka topic ${topics.vital}`)).toMatchObject({ status: 'fail' });
      expect(by.get(`kafka topic ${topics.vital}`)!.message).toMatch(/cleanup\.policy=compact: Kafka keeps only the newest message per key/);
      expect(by.get(`kafka topic ${topics.waveform}`)).toMatchObject({ status: 'warn' });
      expect(by.get(`kafka topic ${topics.alarm}`)).toEqual({
        name: `kafka topic ${topics.alarm}`,
        status: 'ok',
        message: 'cleanup.policy=delete, 1 replica(s), min.insync.replicas=1, kept 7.0 days',
      });
    });
  }
});
