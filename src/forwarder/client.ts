/**
 * The one interface the forwarder uses to talk to Kafka. kafkajs is the default
 * implementation; another client is a new file plus one line in CLIENTS.
 */

export interface OutMessage {
  key: Buffer | string | null;
  value: Buffer | string;
  headers: Record<string, string>;
  timestamp?: string;
}

export interface TopicBatch {
  topic: string;
  messages: OutMessage[];
}

export type ClientErrorKind =
  /** Network, broker down, leader moves: retry with backoff. */
  | 'transient'
  /** SASL/ACL/TLS refusals, unknown topic: an operator must fix config; no tight loop. */
  | 'config'
  /** The send did not settle in time: its fate is unknown (it may still land). */
  | 'timeout'
  /**
   * Kafka answered and refused the write for a cluster condition (fewer in-sync replicas than
   * min.insync.replicas, no leader, a broker-side timeout): the cluster is reachable but cannot
   * take writes. Retry with backoff; never counted as delivered.
   */
  | 'refused'
  /** The producer's session is broken (fenced, sequence errors): recreate it. */
  | 'fatal';

export class KafkaClientError extends Error {
  constructor(
    readonly kind: ClientErrorKind,
    message: string,
    override readonly cause?: unknown,
    /**
     * Kafka refused a record batch as larger than it takes (MESSAGE_TOO_LARGE,
     * RECORD_LIST_TOO_LARGE: the topic's max.message.bytes): the forwarder sends smaller batches.
     */
    readonly tooLarge = false,
    /** The topics a configuration error is about (missing, or not allowed to be created); empty for any other error. */
    readonly topics: readonly string[] = [],
  ) {
    super(message);
    this.name = 'KafkaClientError';
  }
}

export interface KafkaClientHealth {
  connected: boolean;
  lastError?: { kind: ClientErrorKind; message: string; at: number };
}

export interface KafkaClient {
  connect(timeoutMs: number): Promise<void>;
  /** Sends all batches with acks=all; resolves only when every message is acknowledged. */
  send(batches: TopicBatch[], timeoutMs: number): Promise<void>;
  /** Checks the topics exist (creating them when allowed); throws a config error naming the missing topic. */
  ensureTopics(topics: string[], create: boolean, timeoutMs: number): Promise<void>;
  close(timeoutMs: number): Promise<void>;
  health(): KafkaClientHealth;
  /**
   * The node ids of the brokers the cluster's metadata lists now (Kafka lists only live,
   * unfenced brokers). The forwarder asks every few seconds, never per send, and reports a
   * cluster with fewer brokers than it has seen (or than the bootstrap list names) as degraded.
   */
  clusterBrokers?(timeoutMs: number): Promise<number[]>;
  /**
   * What Kafka says of each existing topic that decides whether a reading it acknowledged stays
   * there (`wardgate doctor` asks; topics Kafka lacks are left out). Throws as ensureTopics does.
   */
  topicSettings?(topics: string[], timeoutMs: number): Promise<Map<string, TopicSettings>>;
}

/** A topic's settings that decide what happens to what Kafka acknowledged. */
export interface TopicSettings {
  /** cleanup.policy: `delete`, `compact` or both. */
  cleanupPolicy: string;
  minInsyncReplicas: number;
  /** The replicas of its first partition. */
  replicationFactor: number;
  /** retention.ms (-1: kept for ever). */
  retentionMs: number;
}

/** The topic settings topicSettings asks Kafka for. */
export const TOPIC_SETTING_NAMES = ['cleanup.policy', 'min.insync.replicas', 'retention.ms'] as const;

/** TopicSettings from a topic's settings by name and its replica count. */
export function topicSettingsOf(values: ReadonlyMap<string, string | null | undefined>, replicationFactor: number): TopicSettings {
  return {
    cleanupPolicy: values.get('cleanup.policy') ?? 'delete',
    minInsyncReplicas: Number(values.get('min.insync.replicas') ?? 1),
    replicationFactor,
    retentionMs: Number(values.get('retention.ms') ?? -1),
  };
}
