/** The table of Kafka client implementations, selected by `kafka.client` in config. */
import { getHeapStatistics } from 'node:v8';
import type { Config } from '../config/schema.js';
import type { Logger } from '../logger.js';
import { type KafkaClient, KafkaClientError, type KafkaClientHealth, type TopicBatch, type TopicSettings } from './client.js';
import { fhirOptions, hl7v2Options } from './formats/clinical-options.js';
import { PlatformaticClient } from './platformatic-client.js';

type KafkaConfig = Config['kafka'];

/** The options both implementations take, from the kafka section of the config. */
function commonOptions(kafka: KafkaConfig, log: Logger) {
  return {
    brokers: kafka.brokers,
    clientId: kafka.clientId,
    compression: kafka.compression,
    connectTimeoutMs: kafka.connectTimeout,
    idleProbeMs: kafka.idleProbe,
    requestTimeoutMs: kafka.sendTimeout,
    topicPartitions: kafka.topicPartitions,
    topicReplicationFactor: kafka.topicReplicationFactor,
    ...(kafka.tls ? { tls: kafka.tls } : {}),
    ...(kafka.sasl ? { sasl: kafka.sasl } : {}),
    log,
  };
}

/**
 * kafkajs, loaded only when it is configured: a gateway on @platformatic/kafka never loads it
 * (module load time and heap). Every call waits for the import; a failed import fails each call.
 */
class LazyKafkajsClient implements KafkaClient {
  private loaded: KafkaClient | null = null;
  private readonly client: Promise<KafkaClient>;

  constructor(opts: ReturnType<typeof commonOptions>) {
    this.client = import('./kafkajs-client.js').then((m) => {
      this.loaded = new m.KafkajsClient(opts);
      return this.loaded;
    });
    // Each call awaits the import and sees its failure; this only keeps an unused failure from being unhandled.
    this.client.catch(() => {});
  }

  async connect(timeoutMs: number): Promise<void> {
    return (await this.client).connect(timeoutMs);
  }

  async send(batches: TopicBatch[], timeoutMs: number): Promise<void> {
    return (await this.client).send(batches, timeoutMs);
  }

  async ensureTopics(topics: string[], create: boolean, timeoutMs: number): Promise<void> {
    return (await this.client).ensureTopics(topics, create, timeoutMs);
  }

  async close(timeoutMs: number): Promise<void> {
    return (await this.client).close(timeoutMs);
  }

  health(): KafkaClientHealth {
    return this.loaded ? this.loaded.health() : { connected: false };
  }

  async clusterBrokers(timeoutMs: number): Promise<number[]> {
    const c = await this.client;
    if (!c.clusterBrokers) throw new KafkaClientError('transient', 'not supported');
    return c.clusterBrokers(timeoutMs);
  }

  async topicSettings(topics: string[], timeoutMs: number): Promise<Map<string, TopicSettings>> {
    const c = await this.client;
    if (!c.topicSettings) throw new KafkaClientError('transient', 'not supported');
    return c.topicSettings(topics, timeoutMs);
  }
}

export const CLIENTS: Record<KafkaConfig['client'], (kafka: KafkaConfig, log: Logger) => KafkaClient> = {
  kafkajs: (kafka, log) => new LazyKafkajsClient(commonOptions(kafka, log)),
  platformatic: (kafka, log) => new PlatformaticClient(commonOptions(kafka, log)),
};

export function createKafkaClient(kafka: KafkaConfig, log: Logger): KafkaClient {
  return CLIENTS[kafka.client](kafka, log);
}

/**
 * The largest batch (message bytes) the V8 heap can carry: at most four batches live at once
 * (two lanes, each one sending and one prepared), each taking about three times its message
 * bytes in the heap while it is encoded and sent, all of that within half the heap.
 */
export function batchBytesBound(heapLimitBytes: number): number {
  return Math.floor(heapLimitBytes / 24);
}

/**
 * The forwarder's settings from the kafka section (clients and hooks are added by the caller).
 * The batch byte bound is lowered to what the heap can carry (bin/wardgate.js sets a small
 * heap for a Raspberry Pi); `clampedFrom` says when it was.
 */
export function forwarderSettings(kafka: KafkaConfig, heapLimitBytes = getHeapStatistics().heap_size_limit) {
  const bound = batchBytesBound(heapLimitBytes);
  return {
    ...(kafka.batch.maxBytes > bound ? { clampedFrom: kafka.batch.maxBytes } : {}),
    routing: {
      topics: kafka.topics,
      key: kafka.key,
      ...(kafka.fhir ? { fhirTopics: kafka.fhir.topics, fhir: fhirOptions(kafka.fhir) } : {}),
      ...(kafka.hl7v2 ? { hl7v2Topics: kafka.hl7v2.topics, hl7v2: hl7v2Options(kafka.hl7v2) } : {}),
      waveformFormat: kafka.waveformFormat,
      format: kafka.format,
    },
    createTopics: kafka.createTopics,
    batchMaxReadings: kafka.batch.maxReadings,
    batchMaxBytes: Math.min(kafka.batch.maxBytes, bound),
    lingerMs: kafka.batch.linger,
    sendTimeoutMs: kafka.sendTimeout,
    connectTimeoutMs: kafka.connectTimeout,
    idleProbeMs: kafka.idleProbe,
    clusterCheckMs: kafka.clusterCheck,
    expectedBrokers: new Set(kafka.brokers).size,
    retryInitialMs: kafka.retry.initial,
    retryMaxMs: kafka.retry.max,
    offlineAfterFailures: kafka.offlineAfter,
    ...(kafka.rateLimit ? { rateCap: kafka.rateLimit } : {}),
  };
}
