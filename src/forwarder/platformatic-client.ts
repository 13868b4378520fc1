/**
 * The second Kafka client: @platformatic/kafka 1.x (pure TypeScript, maintained; 1.x runs on
 * Node 20) behind the same KafkaClient interface as kafkajs. Selected with `kafka.client: platformatic`.
 *
 * Same guarantees as the kafkajs wrapper:
 *  - idempotent producer, acks=all; a send resolves only when every message is acknowledged;
 *  - the wrapper owns the timeout of every call; a send that fails or times out closes the
 *    producer and the next send starts a new one (new producer id). This matters more here than
 *    for kafkajs: @platformatic/kafka advances a partition's sequence number only on success, so
 *    re-using the producer after a send of unknown fate could give a different batch the sequence
 *    of one that did land, and the broker would drop it as a duplicate;
 *  - keys go to the partition Java clients and kafkajs choose (murmur2, positive-masked:
 *    compatibilityPartitioner; the library's default differs for half of all keys), so switching
 *    clients keeps every device on its partition;
 *  - sends to the same topic are serialised (see send(): overlapping sends to one partition
 *    would lose data in @platformatic/kafka 1.x);
 *  - retries inside the library are short (the forwarder backs off itself);
 *  - a partition whose leader is not among the metadata's brokers fails the send
 *    (patches/@platformatic+kafka+1.35.0.patch): 1.35.0 handed `undefined` to its connection pool
 *    and the TypeError, thrown in a callback, ended the process (docs/kafka-cluster.md);
 *  - but a send the broker partly wrote and partly refused for now (a partition not yet led, a
 *    leader moving: refusedForNow()) is not given to a new producer, which would write the
 *    written part twice: the same producer sends the same message objects again, each to the
 *    partition it first went to, while the send timeout allows; the broker recognises what it
 *    already has as a duplicate of the same producer's batch (its sequence numbers did not move,
 *    as the send failed) and appends the rest. Partitions the library reports as written
 *    (error.produced) are left out. The partition is pinned only where the library's metadata knew
 *    the topic's partition count at the first attempt; otherwise the send fails as before.
 */
import type { Admin, MessageToProduce, Partitioner, Producer, ProducerOptions, SASLMechanismValue } from '@platformatic/kafka';
import { steadyNow } from '../steady-clock.js';
import {
  type ClientErrorKind,
  type KafkaClient,
  KafkaClientError,
  type KafkaClientHealth,
  TOPIC_SETTING_NAMES,
  type TopicBatch,
  type TopicSettings,
  topicSettingsOf,
} from './client.js';
import {
  CLUSTER_REFUSAL_ERRORS,
  CONFIG_PROTOCOL_ERRORS,
  describeError,
  explainClockRefusal,
  FATAL_PROTOCOL_ERRORS,
  type KafkaClientOptions,
  REFUSED_FOR_NOW_ERRORS,
  REFUSED_RETRY_MS,
  refusedAsTooLarge,
  refusedForNowBy,
  TLS_CODES,
  waitToResend,
  walkError,
  withTimeout,
} from './client-base.js';
import { loadCodec, nodeZstd } from './compression.js';
import { guardPlatformaticConnections, responseDropSince } from './response-guard.js';
import { type ResolvedSecurity, resolveSecurity, type SaslSettings } from './security.js';

/** The same options as every client (client-base.ts). */
export type PlatformaticClientOptions = KafkaClientOptions;

type Lib = typeof import('@platformatic/kafka');
let lib: Lib | null = null;
let libLoading: Promise<Lib> | null = null;

/**
 * The library is loaded on first use, so a gateway on kafkajs never loads it (it needs
 * Node >= 20.19.4; package.json allows older 20.x).
 */
function loadLib(): Promise<Lib> {
  libLoading ??= import('@platformatic/kafka').then(
    (m) => (lib = m),
    (e: unknown) => {
      libLoading = null;
      throw new KafkaClientError(
        'config',
        `kafka.client platformatic: cannot load @platformatic/kafka (needs Node >= 20.19.4, this is ${process.version}): ` +
          `${e instanceof Error ? e.message : String(e)}`,
      );
    },
  );
  return libLoading;
}

type Bytes = Buffer | string | null | undefined;
type WgProducer = Producer<Bytes, Bytes, Bytes, Bytes>;

const SASL_MECHANISMS: Record<NonNullable<SaslSettings['mechanism']>, SASLMechanismValue> = {
  plain: 'PLAIN',
  'scram-sha-256': 'SCRAM-SHA-256',
  'scram-sha-512': 'SCRAM-SHA-512',
};

const toBuffer = (v: Bytes): Buffer | undefined => (v === null || v === undefined ? undefined : Buffer.isBuffer(v) ? v : Buffer.from(v));
const serializers = { key: toBuffer, value: toBuffer, headerKey: toBuffer, headerValue: toBuffer };

/**
 * The bytes of strings that repeat from message to message (header names, message keys, the
 * header values below), made once: the library would otherwise make a new Buffer of each for
 * every message, the largest share of its garbage. The library only reads them (it copies them
 * into the request). Each cache is emptied when it grows past its bound (a fleet of keys
 * larger than a ward's, say), so it never holds more than that.
 */
class BytesCache {
  private readonly m = new Map<string, Buffer>();
  constructor(private readonly max: number) {}
  get(s: string): Buffer {
    let b = this.m.get(s);
    if (b === undefined) {
      if (this.m.size >= this.max) this.m.clear();
      b = Buffer.from(s);
      this.m.set(s, b);
    }
    return b;
  }
  /** Whether these are bytes this cache made (nobody else holds them, so they never change). */
  made(b: Buffer): boolean {
    return this.m.get(b.toString()) === b;
  }
}
const headerNames = new BytesCache(256);
const headerValues = new BytesCache(256);
const messageKeys = new BytesCache(8192);
/** Header values that repeat (the per-reading ones, seqs and counts, are turned into bytes each time). */
const REPEATING_HEADERS = new Set(['wardgate-gateway-id', 'wardgate-schema', 'content-type']);

function headerBytes(h: Record<string, string>): Map<Buffer, Buffer> {
  const m = new Map<Buffer, Buffer>();
  for (const k in h) {
    const v = h[k]!;
    m.set(headerNames.get(k), REPEATING_HEADERS.has(k) ? headerValues.get(v) : Buffer.from(v));
  }
  return m;
}

/**
 * The partition chosen is written into the message object itself (its `partition`), when the
 * library's metadata knows the topic's partition count: a message sent again then goes to the
 * partition its first attempt went to (the library takes a message's own partition as it is,
 * modulo the count, which only grows). Without the count the message is not pinned.
 */
function pinning(choose: Partitioner<Bytes, Bytes, Bytes, Bytes>): Partitioner<Bytes, Bytes, Bytes, Bytes> {
  return (message, key, ctx) => {
    const h = choose(message, key, ctx);
    const count = ctx?.metadata?.topics.get(message.topic)?.partitionsCount;
    if (!count) return h;
    message.partition = h % count;
    return message.partition;
  };
}

/**
 * The library's compatibilityPartitioner (murmur2 of the key, sign bit masked: the partition
 * Java clients and kafkajs choose), its answer remembered for the cached key bytes. The library
 * hashes every keyed message again in BigInt arithmetic, which makes garbage for every message;
 * a ward has tens of keys, so the answer is nearly always known. Weak: an entry goes with its
 * bytes (when the key cache is emptied).
 */
function rememberingPartitioner(kafkaLib: Lib): Partitioner<Bytes, Bytes, Bytes, Bytes> {
  const hashes = new WeakMap<Buffer, number>();
  return (message, key) => {
    if (key === undefined) return kafkaLib.compatibilityPartitioner(message, key);
    let h = hashes.get(key);
    if (h === undefined) {
      h = kafkaLib.compatibilityPartitioner(message, key);
      if (messageKeys.made(key)) hashes.set(key, h);
    }
    return h;
  };
}

/** Sorts a @platformatic/kafka error into what the forwarder should do about it, looking through what it wraps. */
export function classifyPlatformaticError(err: unknown): ClientErrorKind {
  let kind: ClientErrorKind = 'transient';
  let config = false;
  let sawTimeout = false;
  walkError(err, (o) => {
    if (o.code === 'PLT_KFK_AUTHENTICATION') config = true;
    if (o.apiId && CONFIG_PROTOCOL_ERRORS.has(o.apiId)) config = true;
    if (o.apiId && FATAL_PROTOCOL_ERRORS.has(o.apiId)) kind = 'fatal';
    if (o.apiId && CLUSTER_REFUSAL_ERRORS.has(o.apiId) && kind !== 'fatal') kind = 'refused';
    if (o.code && TLS_CODES.test(o.code)) config = true;
    if ((lib && o instanceof lib.TimeoutError) || o.constructor?.name === 'TimeoutError' || o.code === 'PLT_KFK_TIMEOUT') sawTimeout = true;
    if (o.message && /TLS handshake failed|certificate|self.signed/i.test(o.message)) config = true;
  });
  if (config) return 'config';
  return kind === 'transient' && sawTimeout ? 'timeout' : kind;
}

/** The broker answered and refused (some of) a send for now: a cluster refusal, or a partition it does not host (yet). */
export function refusedForNowPlatformatic(err: unknown): boolean {
  // The library turns a metadata answer of UNKNOWN_TOPIC_OR_PARTITION into a UserError with this message.
  return refusedForNowBy(
    err,
    classifyPlatformaticError,
    (o) => (!!o.apiId && REFUSED_FOR_NOW_ERRORS.has(o.apiId)) || !!o.message?.startsWith('Unknown topic '),
  );
}

/** Topic and partition of every partition the library reports as written in a failed send (error.produced). */
function producedPartitions(err: unknown): Set<string> {
  const out = new Set<string>();
  const offsets = (err as { produced?: { offsets?: { topic: string; partition: number }[] } } | null)?.produced?.offsets ?? [];
  for (const o of offsets) out.add(`${o.partition}\0${o.topic}`);
  return out;
}

let zstdInstalled = false;

/**
 * @platformatic/kafka takes zstd from node:zlib, which Node 20 lacks; give it wardgate's codec
 * (same bitmask, same frame format) through its exported codec table.
 */
async function ensureZstd(kafkaLib: Lib): Promise<void> {
  if (zstdInstalled || nodeZstd()) return;
  const codec = await loadCodec('zstd');
  const plain = (d: unknown): Buffer => (Buffer.isBuffer(d) ? d : (d as { buffer: Buffer }).buffer);
  const table = kafkaLib.compressionsAlgorithms as unknown as Record<
    string,
    { compressSync: (d: unknown) => Buffer; decompressSync: (d: unknown) => Buffer; bitmask: number; available: boolean }
  >;
  table.zstd = { compressSync: (d) => codec.compress(plain(d)), decompressSync: (d) => codec.decompress(plain(d)), bitmask: 4, available: true };
  zstdInstalled = true;
}

export class PlatformaticClient implements KafkaClient {
  private producer: WgProducer | null = null;
  private connected = false;
  private lastError: KafkaClientHealth['lastError'];
  private security: ResolvedSecurity | null = null;
  private connecting: Promise<void> | null = null;
  private readonly inFlightByTopic = new Map<string, Promise<void>>();

  constructor(private readonly opts: PlatformaticClientOptions) {
    // A peer that declares a 2 GB response is dropped (response-guard.ts).
    guardPlatformaticConnections();
  }

  private baseOptions(): Omit<ProducerOptions<Bytes, Bytes, Bytes, Bytes>, 'serializers'> {
    // Read the files again on every (re)connect: a fixed file is picked up without a restart.
    this.security = resolveSecurity({ tls: this.opts.tls, sasl: this.opts.sasl });
    const s = this.security;
    return {
      clientId: this.opts.clientId,
      bootstrapBrokers: this.opts.brokers,
      connectTimeout: this.opts.connectTimeoutMs,
      requestTimeout: this.opts.requestTimeoutMs,
      timeout: this.opts.requestTimeoutMs,
      retries: 2,
      retryDelay: 250,
      ...(s.tls ? { tls: s.tls } : {}),
      ...(s.sasl ? { sasl: { mechanism: SASL_MECHANISMS[s.sasl.mechanism], username: s.sasl.username, password: s.sasl.password } } : {}),
    };
  }

  /**
   * `since`: when the failed operation started (steadyNow). A connection the response guard
   * dropped meanwhile fails with the library's "Connection closed" alone: the guard's reason is
   * added to it.
   */
  private fail(e: unknown, since: number, forced?: ClientErrorKind): KafkaClientError {
    if (e instanceof KafkaClientError) {
      this.lastError = { kind: e.kind, message: e.message, at: Date.now() };
      if (e.kind !== 'config') this.connected = false;
      return e;
    }
    const kind = forced ?? classifyPlatformaticError(e);
    const described = describeError(e, this.security);
    const dropped = described.includes('Connection closed') ? responseDropSince(since) : null;
    const message = explainClockRefusal(e, dropped ? `${described} (${dropped})` : described);
    this.lastError = { kind, message, at: Date.now() };
    if (kind !== 'config') this.connected = false;
    // The library's error objects carry connection options (with the password): keep only the message.
    return new KafkaClientError(kind, message, undefined, refusedAsTooLarge(e));
  }

  /** Single flight: concurrent callers share one connection attempt. */
  connect(timeoutMs: number): Promise<void> {
    if (this.producer && this.connected) return Promise.resolve();
    this.connecting ??= this.doConnect(timeoutMs).finally(() => {
      this.connecting = null;
    });
    return this.connecting;
  }

  private async doConnect(timeoutMs: number): Promise<void> {
    const since = steadyNow();
    await this.dropProducer(1000);
    try {
      const kafkaLib = await loadLib();
      if (this.opts.compression === 'zstd') await ensureZstd(kafkaLib);
      const producer: WgProducer = new kafkaLib.Producer({
        ...this.baseOptions(),
        serializers,
        idempotent: true,
        acks: -1,
        partitioner: pinning(rememberingPartitioner(kafkaLib)),
        autocreateTopics: false,
        ...(this.opts.compression !== 'none' ? { compression: this.opts.compression } : {}),
      });
      this.producer = producer;
      // Connects, authenticates and gets a producer id: any refusal shows here, not on the first send.
      await withTimeout(producer.initIdempotentProducer({}), timeoutMs, 'connect');
      this.connected = true;
    } catch (e) {
      await this.dropProducer(1000);
      throw this.fail(e, since);
    }
  }

  /**
   * Sends touching the same topic never overlap. @platformatic/kafka 1.x reads a partition's next
   * idempotence sequence when it builds a request and advances it only when the response comes
   * back, so two overlapping sends to one partition carry the same sequence numbers and the broker
   * acknowledges the second as a duplicate of the first without writing it (the contract suite
   * covers it).
   * Sends to different topics still run concurrently.
   */
  async send(batches: TopicBatch[], timeoutMs: number): Promise<void> {
    const topics = [...new Set(batches.map((b) => b.topic))];
    for (;;) {
      const busy = topics.map((t) => this.inFlightByTopic.get(t)).filter((p): p is Promise<void> => p !== undefined);
      if (busy.length === 0) break;
      await Promise.allSettled(busy);
    }
    const p = this.sendNow(batches, timeoutMs);
    for (const t of topics) this.inFlightByTopic.set(t, p);
    try {
      await p;
    } finally {
      for (const t of topics) if (this.inFlightByTopic.get(t) === p) this.inFlightByTopic.delete(t);
    }
  }

  private async sendNow(batches: TopicBatch[], timeoutMs: number): Promise<void> {
    const since = steadyNow();
    if (!this.producer || !this.connected) await this.connect(timeoutMs);
    const producer = this.producer;
    if (!producer) throw this.fail(new KafkaClientError('transient', 'producer was dropped while connecting'), since);
    const messages: MessageToProduce<Bytes, Bytes, Bytes, Bytes>[] = [];
    for (const b of batches) {
      for (const m of b.messages) {
        const msg: MessageToProduce<Bytes, Bytes, Bytes, Bytes> = {
          topic: b.topic,
          key: typeof m.key === 'string' ? messageKeys.get(m.key) : m.key,
          value: m.value,
          headers: headerBytes(m.headers),
        };
        if (m.timestamp !== undefined) msg.timestamp = BigInt(m.timestamp);
        messages.push(msg);
      }
    }
    const deadline = steadyNow() + timeoutMs;
    let pending = messages;
    let wait: number = REFUSED_RETRY_MS.initial;
    try {
      for (;;) {
        try {
          await withTimeout(producer.send({ messages: pending }), Math.max(1, deadline - steadyNow()), 'send');
          break;
        } catch (e) {
          // Refused for now, every message pinned to its partition: the same messages again, same producer.
          const again = refusedForNowPlatformatic(e) && this.producer === producer && pending.every((m) => m.partition !== undefined);
          const next = again ? await waitToResend(wait, deadline, this.opts.log, describeError(e, this.security)) : null;
          if (next === null) throw e;
          wait = next;
          const written = producedPartitions(e);
          pending = pending.filter((m) => !written.has(`${m.partition}\0${m.topic}`));
        }
      }
      this.lastError = undefined;
    } catch (e) {
      const err = this.fail(e, since);
      // Fate unknown or session broken: never reuse this producer's sequence numbers.
      if (err.kind !== 'config') await this.dropProducer(1000);
      throw err;
    }
  }

  /** An admin client of its own for `fn`, closed after; its errors are this client's (fail). */
  private async withAdmin<T>(fn: (admin: Admin, kafkaLib: Lib) => Promise<T>): Promise<T> {
    const since = steadyNow();
    let admin: Admin | null = null;
    try {
      const kafkaLib = await loadLib();
      admin = new kafkaLib.Admin(this.baseOptions());
      return await fn(admin, kafkaLib);
    } catch (e) {
      throw this.fail(e, since);
    } finally {
      if (admin) await withTimeout(admin.close(), 2000, 'admin close').catch(() => undefined);
    }
  }

  topicSettings(topics: string[], timeoutMs: number): Promise<Map<string, TopicSettings>> {
    return this.withAdmin(async (admin, kafkaLib) => {
      const existing = new Set(await withTimeout(admin.listTopics({}), timeoutMs, 'list topics'));
      const wanted = [...new Set(topics)].filter((t) => existing.has(t));
      const out = new Map<string, TopicSettings>();
      if (wanted.length === 0) return out;
      const md = await withTimeout(admin.metadata({ topics: wanted, forceUpdate: true }), timeoutMs, 'topic metadata');
      const described = await withTimeout(
        admin.describeConfigs({
          resources: wanted.map((resourceName) => ({
            resourceType: kafkaLib.ConfigResourceTypes.TOPIC,
            resourceName,
            configurationKeys: [...TOPIC_SETTING_NAMES],
          })),
        }),
        timeoutMs,
        'describe topic configs',
      );
      for (const r of described) {
        const replicas = md.topics.get(r.resourceName)?.partitions[0]?.replicas.length ?? 0;
        out.set(r.resourceName, topicSettingsOf(new Map(r.configs.map((c) => [c.name, c.value])), replicas));
      }
      return out;
    });
  }

  ensureTopics(topics: string[], create: boolean, timeoutMs: number): Promise<void> {
    return this.withAdmin(async (admin, kafkaLib) => {
      const existing = new Set(await withTimeout(admin.listTopics({}), timeoutMs, 'list topics'));
      const missing = [...new Set(topics)].filter((t) => !existing.has(t));
      if (missing.length === 0) return;
      if (!create) {
        throw new KafkaClientError('config', `Kafka topic(s) missing and createTopics is off: ${missing.join(', ')}`, undefined, false, missing);
      }
      try {
        await withTimeout(
          admin.createTopics({ topics: missing, partitions: this.opts.topicPartitions, replicas: this.opts.topicReplicationFactor }),
          timeoutMs,
          'create topics',
        );
      } catch (e) {
        if (e instanceof kafkaLib.GenericError && e.findBy('apiId', 'TOPIC_ALREADY_EXISTS')) return;
        if (e instanceof KafkaClientError) throw e;
        const kind = classifyPlatformaticError(e);
        const transient = kind === 'transient' || kind === 'timeout';
        throw new KafkaClientError(
          transient ? kind : 'config',
          `cannot create Kafka topic(s) ${missing.join(', ')}: ${describeError(e, this.security)}`,
          undefined,
          false,
          transient ? [] : missing,
        );
      }
      // Wait until the new topics have leaders, as kafkajs's waitForLeaders does.
      const deadline = steadyNow() + timeoutMs;
      for (;;) {
        const md = await withTimeout(admin.metadata({ topics: missing, forceUpdate: true }), timeoutMs, 'topic metadata').catch(() => null);
        const ready = md && missing.every((t) => md.topics.get(t)?.partitions.every((p) => p.leader >= 0));
        if (ready) return;
        if (steadyNow() > deadline) throw new KafkaClientError('timeout', `created topic(s) ${missing.join(', ')} have no leader after ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 100));
      }
    });
  }

  /** The brokers a metadata request for no topic lists, asked on the producer's own connection (nothing new opened). */
  async clusterBrokers(timeoutMs: number): Promise<number[]> {
    const producer = this.producer;
    if (!producer || !this.connected) throw new KafkaClientError('transient', 'not connected');
    const md = await withTimeout(producer.metadata({ topics: [], forceUpdate: true }), timeoutMs, 'cluster metadata');
    return [...md.brokers.keys()];
  }

  private async dropProducer(timeoutMs: number): Promise<void> {
    const p = this.producer;
    this.producer = null;
    this.connected = false;
    if (!p) return;
    // force: also ends producer streams; the callback form (the promise overload takes no force flag).
    const closed = new Promise<void>((resolve, reject) => p.close(true, (err) => (err ? reject(err) : resolve())));
    await withTimeout(closed, timeoutMs, 'close').catch(() => undefined);
  }

  async close(timeoutMs: number): Promise<void> {
    await this.dropProducer(timeoutMs);
  }

  health(): KafkaClientHealth {
    return { connected: this.connected, ...(this.lastError ? { lastError: this.lastError } : {}) };
  }
}
