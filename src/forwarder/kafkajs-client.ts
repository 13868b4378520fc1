/**
 * The default Kafka client: kafkajs 2.2.4 behind the KafkaClient interface.
 * kafkajs is frozen upstream and an idempotent send to a dead broker never settles,
 * so this wrapper owns the timeouts and re-creates the producer when a send's fate is unknown.
 *
 * Connection generations. Every producer (and every admin) gets its own kafkajs instance whose
 * sockets come from a factory bound to a "generation". When a send fails or times out, the
 * generation is killed: its sockets are destroyed with an error (so kafkajs rejects the
 * requests waiting on them at once instead of after its request timeout) and its factory
 * refuses new sockets (so kafkajs's retrier, which reconnects when the cluster is
 * disconnected, gives up after its few retries instead of resending an old batch later).
 * Nothing of a dropped producer survives for long: no zombie resends, no growing retry queue.
 *
 * Every partition acknowledged. kafkajs 2.2.4's sendMessages keeps each broker's produce response
 * across its internal retries and, on a retry, skips any broker that already answered. When a
 * partition's leader moves to a broker that had answered for other partitions (a controlled
 * shutdown, a preferred-leader election), that partition's messages are never sent again, yet
 * sendBatch resolves: readings counted as forwarded that Kafka never stored. So the
 * wrapper records the partition kafkajs chose for each message and resolves a send only when the
 * answer covers every one of them; the messages of a partition missing from the answer are sent
 * again by the same producer (its sequence numbers for that partition were rolled back when the
 * first attempt failed, so the broker accepts them in order, or drops them as duplicates if they
 * had landed after all).
 *
 * Partly written, partly refused. One produce request carries every partition of a batch; when
 * the broker writes some and refuses others for now (a partition not yet led just after its topic
 * was created, a leader moving, too few in-sync replicas), kafkajs 2.2.4 rejects the whole send
 * and rolls back the sequence numbers of every partition in it, written or not. A new producer
 * would then write the written ones a second time. So while the broker only refuses for now, the
 * same producer sends the same messages again (each to the partition it first went to), until
 * the send timeout: the broker recognises what it already has as a duplicate of the same producer's
 * batch and appends only the rest. Only when the attempt went to one broker: with partitions led by
 * two or more, kafkajs sends a request to each and keeps the sequence numbers of every broker that
 * answered, so a resend would go out under new ones and be written again (seen: each message seven
 * times in a 6 s send). Then a refusal fails the send as any other error does (new producer; the
 * forwarder counts the batch of unknown fate).
 *
 * Every broker answers before a retry. kafkajs 2.2.4 waited for a send's requests with Promise.all,
 * so a fast refusal from one broker started its retry while another broker was still writing; that
 * broker was asked again under new sequence numbers and wrote its messages twice in a send that
 * resolved (duplicates no one counted). patches/kafkajs+2.2.4.patch (patch-package, npm's
 * postinstall; scripts/package-deb.sh applies it to what it ships) waits for every request to
 * settle instead (docs/kafka-cluster.md).
 */
import net from 'node:net';
import tls from 'node:tls';
import {
  type Admin,
  CompressionTypes,
  type ConfigResourceTypes,
  type ISocketFactory,
  Kafka,
  type KafkaConfig,
  type LogEntry,
  logLevel,
  type Message,
  type Producer,
  type RecordMetadata,
  type SASLOptions,
} from 'kafkajs';
import type { Logger } from '../logger.js';
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
import { registerKafkajsCodec } from './kafkajs-codecs.js';
import { rememberingPartitioner } from './kafkajs-partitioner.js';
import { guardResponses } from './response-guard.js';
import { type ResolvedSecurity, resolveSecurity, scrubSecrets } from './security.js';

/** The same options as every client (client-base.ts). */
export type KafkajsClientOptions = KafkaClientOptions;

/** Rounds of sending again what kafkajs resolved without acknowledging, before the send fails. */
const MAX_UNACKED_RESENDS = 3;
/**
 * The broker answered and refused (some of) a send for now: a cluster refusal, a partition it does
 * not host (yet), or kafkajs finding no metadata for a topic (then nothing was sent). Not a
 * timeout, a lost connection or a broken producer session: those leave the fate unknown.
 */
export function refusedForNow(err: unknown): boolean {
  return refusedForNowBy(err, classifyKafkaError, (o) => (!!o.type && REFUSED_FOR_NOW_ERRORS.has(o.type)) || o.name === 'KafkaJSMetadataNotLoaded');
}

/**
 * The messages of `batches` whose partition (as the partitioner chose it, `partitionOf`) has no
 * error-free entry in kafkajs's answer. A message whose partition is unknown counts as unacknowledged.
 */
export function unacknowledged(
  batches: readonly TopicBatch[],
  acked: readonly RecordMetadata[],
  partitionOf: (message: object) => number | undefined,
): TopicBatch[] {
  const ok = new Set<string>();
  for (const r of acked) if (!r.errorCode) ok.add(`${r.partition}\0${r.topicName}`);
  const out: TopicBatch[] = [];
  for (const batch of batches) {
    const missing = batch.messages.filter((m) => {
      const p = partitionOf(m);
      return p === undefined || !ok.has(`${p}\0${batch.topic}`);
    });
    if (missing.length > 0) out.push({ topic: batch.topic, messages: missing });
  }
  return out;
}

/** Sorts a kafkajs error into what the forwarder should do about it, looking through what it wraps. */
export function classifyKafkaError(err: unknown): ClientErrorKind {
  let kind: ClientErrorKind = 'transient';
  let config = false;
  walkError(err, (o) => {
    if (o.name === 'KafkaJSSASLAuthenticationError') config = true;
    if (o.type && CONFIG_PROTOCOL_ERRORS.has(o.type)) config = true;
    if (o.type && FATAL_PROTOCOL_ERRORS.has(o.type)) kind = 'fatal';
    if (o.type && CLUSTER_REFUSAL_ERRORS.has(o.type) && kind !== 'fatal') kind = 'refused';
    // The request went out and no answer came: its fate is unknown, as with our own send timeout.
    if (o.name === 'KafkaJSRequestTimeoutError' && kind === 'transient') kind = 'timeout';
    if (o.code && TLS_CODES.test(o.code)) config = true;
    if (o.message && /certificate|self.signed|SASL|authenticat/i.test(o.message) && !/ECONNREFUSED/.test(o.message)) config = true;
  });
  return config ? 'config' : kind;
}

function pinoLogCreator(log: Logger) {
  return () =>
    ({ level, log: entry }: LogEntry) => {
      // Never pass message contents; kafkajs logs only metadata, but keep it terse.
      const { message, ...rest } = entry as { message: string; [k: string]: unknown };
      delete rest.timestamp;
      delete rest.logger;
      // kafkajs retries what it logs as errors; the forwarder counts and reports failures itself.
      if (level === logLevel.ERROR) log.info({ kafkajs: rest }, message);
      else log.debug({ kafkajs: rest }, message);
    };
}

/** kafkajs instance whose sockets can all be destroyed at once, and no new ones made afterwards. */
interface Generation {
  readonly id: number;
  readonly kafka: Kafka;
  readonly sockets: Set<net.Socket>;
  dead: boolean;
}

const KEEP_ALIVE_DELAY_MS = 60_000;

/**
 * ConfigResourceTypes.TOPIC. Not imported by name: kafkajs is CommonJS, and Node's ES module
 * loader sees only some of its exports as named ones (not ConfigResourceTypes: importing it
 * stopped the shipped command from loading this client at all).
 */
const TOPIC_RESOURCE = 2 as ConfigResourceTypes;

function killGeneration(gen: Generation): void {
  if (gen.dead) return;
  gen.dead = true;
  for (const s of gen.sockets) s.destroy(new Error('wardgate: Kafka connection dropped (send failed or timed out)'));
  gen.sockets.clear();
}

function describe(batches: readonly TopicBatch[]): string {
  return batches.map((b) => `${b.messages.length} message(s) to ${b.topic}`).join(', ');
}

export class KafkajsClient implements KafkaClient {
  private readonly cfg: KafkaConfig;
  private genSeq = 0;
  private gen: Generation | null = null;
  private producer: Producer | null = null;
  private connected = false;
  private connecting: Promise<void> | null = null;
  private lastError: KafkaClientHealth['lastError'];
  private readonly compression: CompressionTypes;
  /** The partition kafkajs's partitioner chose for each message object last (see the module comment). */
  private readonly partitionOf = new WeakMap<object, number>();
  /** Send attempts started so far (numbers each attempt; see leaderSeenAt). */
  private attempts = 0;
  /**
   * Per leader (broker id, -1 when unknown) that the partitioner chose a partition of: the number
   * of the newest send attempt started by then. An attempt numbered n counts the leaders seen at
   * n or later: every leader of its own messages (partitioned after it started), and those of
   * attempts started after it while it was under way (an over-count is safe: see "Partly written,
   * partly refused" in the module comment). One entry per broker id, whatever the number of sends
   * (cleared with each new producer): bounded by construction, with nothing to add or remove per send.
   */
  private readonly leaderSeenAt = new Map<number, number>();
  /** The TLS/SASL settings in use (to scrub their secrets from error messages). */
  private security: ResolvedSecurity | null = null;
  /** Set while the TLS/SASL files cannot be read: a config error, retried on the next connect. */
  private securityError: KafkaClientError | null = null;

  constructor(private readonly opts: KafkajsClientOptions) {
    const cfg: KafkaConfig = {
      clientId: opts.clientId,
      brokers: opts.brokers,
      connectionTimeout: opts.connectTimeoutMs,
      authenticationTimeout: opts.connectTimeoutMs,
      requestTimeout: opts.requestTimeoutMs,
      // Our own loop retries with backoff; kafkajs retries only briefly so a send settles.
      retry: { retries: 2, initialRetryTime: 100, maxRetryTime: 1000 },
      logLevel: logLevel.WARN,
      logCreator: pinoLogCreator(opts.log),
    };
    this.cfg = cfg;
    this.applySecurity();
    this.compression = { none: CompressionTypes.None, gzip: CompressionTypes.GZIP, lz4: CompressionTypes.LZ4, zstd: CompressionTypes.ZSTD }[opts.compression];
  }

  /** TLS and SASL into the kafkajs config; a file that cannot be read leaves securityError set. */
  private applySecurity(): void {
    try {
      const sec = resolveSecurity({ tls: this.opts.tls, sasl: this.opts.sasl });
      this.security = sec;
      if (sec.tls) this.cfg.ssl = sec.tls;
      if (sec.sasl) this.cfg.sasl = { mechanism: sec.sasl.mechanism, username: sec.sasl.username, password: sec.sasl.password } as SASLOptions;
      this.securityError = null;
    } catch (e) {
      this.securityError = e instanceof KafkaClientError ? e : new KafkaClientError('config', String(e));
    }
  }

  /** Before talking to Kafka: TLS/SASL files readable (re-read after a failure), codec registered. */
  private async prepare(): Promise<void> {
    // Re-read on every (re)connect: a fixed file or password is used without a restart.
    this.applySecurity();
    if (this.securityError) throw this.fail(this.securityError);
    await registerKafkajsCodec(this.opts.compression);
  }

  private fail(e: unknown, forced?: ClientErrorKind): KafkaClientError {
    const kind = forced ?? (e instanceof KafkaClientError ? e.kind : classifyKafkaError(e));
    // A library error may quote what it was given: never the password.
    const message = explainClockRefusal(e, scrubSecrets(e instanceof Error ? e.message : String(e), this.security));
    this.lastError = { kind, message, at: Date.now() };
    if (kind !== 'config') this.connected = false;
    return e instanceof KafkaClientError ? e : new KafkaClientError(kind, message, undefined, refusedAsTooLarge(e));
  }

  /** A kafkajs instance whose sockets this client can destroy all at once (see the module comment). */
  private newGeneration(): Generation {
    const sockets = new Set<net.Socket>();
    const id = ++this.genSeq;
    const holder: { gen?: Generation } = {};
    // Same sockets as kafkajs's default factory, plus tracking and a kill switch.
    const socketFactory: ISocketFactory = ({ host, port, ssl, onConnect }) => {
      if (holder.gen?.dead) throw new Error('wardgate: this Kafka connection was dropped; a new producer is made on the next send');
      const socket = ssl
        ? tls.connect(Object.assign({ host, port }, !net.isIP(host) ? { servername: host } : {}, ssl), onConnect)
        : net.connect({ host, port }, onConnect);
      socket.setKeepAlive(true, KEEP_ALIVE_DELAY_MS);
      guardResponses(socket);
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
      return socket;
    };
    const gen: Generation = { id, kafka: new Kafka({ ...this.cfg, socketFactory }), sockets, dead: false };
    holder.gen = gen;
    return gen;
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
    this.dropProducer();
    // An attempt of a dropped producer is never sent again (send checks the producer), so what it saw can go.
    this.leaderSeenAt.clear();
    await this.prepare();
    const gen = this.newGeneration();
    const producer = gen.kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      createPartitioner: () => {
        const choose = rememberingPartitioner();
        return (args) => {
          // A message sent again goes to the partition it went to first (partitions are only ever
          // added), so each partition gets the same batch again (see the module comment).
          const first = this.partitionOf.get(args.message);
          const p = first !== undefined && first < args.partitionMetadata.length ? first : choose(args);
          if (p !== first) this.partitionOf.set(args.message, p);
          // Metadata lists partitions in order as a rule: a search only when it does not.
          const at = args.partitionMetadata[p];
          const leader = (at?.partitionId === p ? at : args.partitionMetadata.find((m) => m.partitionId === p))?.leader ?? -1;
          this.leaderSeenAt.set(leader, this.attempts);
          return p;
        };
      },
      // kafkajs retries briefly (leader moves); the forwarder's own loop does the long backoff.
      retry: { retries: 2, initialRetryTime: 100, maxRetryTime: 1000 },
    });
    this.gen = gen;
    this.producer = producer;
    try {
      await withTimeout(producer.connect(), timeoutMs, 'connect');
      this.connected = true;
    } catch (e) {
      this.dropProducer();
      throw this.fail(e);
    }
  }

  async send(batches: TopicBatch[], timeoutMs: number): Promise<void> {
    if (!this.producer || !this.connected) await this.connect(timeoutMs);
    const producer = this.producer;
    const gen = this.gen;
    if (!producer || !gen) throw this.fail(new KafkaClientError('transient', 'producer was dropped while connecting'));
    const deadline = steadyNow() + timeoutMs;
    try {
      let pending: TopicBatch[] = batches;
      let wait: number = REFUSED_RETRY_MS.initial;
      for (let round = 0; pending.length > 0; ) {
        const left = deadline - steadyNow();
        if (round > MAX_UNACKED_RESENDS || left <= 0) {
          // Not acknowledged, and what happened to it is not known: the caller resends it later.
          throw new KafkaClientError('timeout', `kafkajs did not acknowledge ${describe(pending)} after ${round} rounds`);
        }
        let acked: RecordMetadata[];
        const attempt = ++this.attempts;
        try {
          acked = await withTimeout(
            producer.sendBatch({ topicMessages: pending as { topic: string; messages: Message[] }[], acks: -1, timeout: left, compression: this.compression }),
            left,
            'send',
          );
        } catch (e) {
          // Refused for now, by the one broker this attempt went to: the same messages again from the
          // same producer, while time is left. Two or more brokers: one of them may have written its
          // partitions and kept their sequence numbers, so a resend would write them twice.
          const again = refusedForNow(e) && this.leadersSince(attempt) <= 1 && this.producer === producer;
          const next = again ? await waitToResend(wait, deadline, this.opts.log, (e as Error).message) : null;
          if (next === null) throw e;
          wait = next;
          continue;
        }
        round++;
        pending = unacknowledged(pending, acked, (m) => this.partitionOf.get(m));
        if (pending.length > 0) {
          this.opts.log.warn({ partitions: describe(pending), round }, 'kafkajs resolved a send without acknowledging every partition; sending those again');
        }
      }
      this.lastError = undefined;
    } catch (e) {
      const err = this.fail(e);
      // A timed-out or broken idempotent producer keeps retrying inside kafkajs (and would
      // resend later on a reconnect): kill its connections so memory stays bounded, and make
      // a fresh producer (new producer id, new sequence numbers) on the next send.
      if (err.kind !== 'config') {
        killGeneration(gen);
        if (this.gen === gen) this.dropProducer();
      }
      throw err;
    }
  }

  /** An admin connection of its own for `fn`, closed after; its errors are this client's (fail). */
  private async withAdmin<T>(timeoutMs: number, fn: (admin: Admin) => Promise<T>): Promise<T> {
    await this.prepare();
    const adminGen = this.newGeneration();
    const admin = adminGen.kafka.admin();
    try {
      await withTimeout(admin.connect(), timeoutMs, 'admin connect');
      return await fn(admin);
    } catch (e) {
      throw this.fail(e);
    } finally {
      await withTimeout(admin.disconnect(), 2000, 'admin disconnect').catch(() => undefined);
      killGeneration(adminGen);
    }
  }

  topicSettings(topics: string[], timeoutMs: number): Promise<Map<string, TopicSettings>> {
    return this.withAdmin(timeoutMs, async (admin) => {
      const existing = new Set(await withTimeout(admin.listTopics(), timeoutMs, 'list topics'));
      const wanted = [...new Set(topics)].filter((t) => existing.has(t));
      const out = new Map<string, TopicSettings>();
      if (wanted.length === 0) return out;
      const md = await withTimeout(admin.fetchTopicMetadata({ topics: wanted }), timeoutMs, 'topic metadata');
      const described = await withTimeout(
        admin.describeConfigs({
          includeSynonyms: false,
          resources: wanted.map((name) => ({ type: TOPIC_RESOURCE, name, configNames: [...TOPIC_SETTING_NAMES] })),
        }),
        timeoutMs,
        'describe topic configs',
      );
      for (const r of described.resources) {
        const replicas = md.topics.find((t) => t.name === r.resourceName)?.partitions[0]?.replicas.length ?? 0;
        out.set(r.resourceName, topicSettingsOf(new Map(r.configEntries.map((e) => [e.configName, e.configValue])), replicas));
      }
      return out;
    });
  }

  ensureTopics(topics: string[], create: boolean, timeoutMs: number): Promise<void> {
    return this.withAdmin(timeoutMs, async (admin) => {
      const existing = new Set(await withTimeout(admin.listTopics(), timeoutMs, 'list topics'));
      const missing = [...new Set(topics)].filter((t) => !existing.has(t));
      if (missing.length === 0) return;
      if (!create) {
        throw new KafkaClientError('config', `Kafka topic(s) missing and createTopics is off: ${missing.join(', ')}`, undefined, false, missing);
      }
      try {
        await withTimeout(
          admin.createTopics({
            waitForLeaders: true,
            topics: missing.map((topic) => ({ topic, numPartitions: this.opts.topicPartitions, replicationFactor: this.opts.topicReplicationFactor })),
          }),
          timeoutMs,
          'create topics',
        );
      } catch (e) {
        const kind = classifyKafkaError(e);
        if ((e as { type?: string }).type === 'TOPIC_ALREADY_EXISTS') return;
        throw new KafkaClientError(
          kind === 'transient' ? 'transient' : 'config',
          `cannot create Kafka topic(s) ${missing.join(', ')}: ${(e as Error).message}`,
          e,
          false,
          kind === 'transient' ? [] : missing,
        );
      }
    });
  }

  /**
   * The brokers the cluster's metadata lists. kafkajs's producer does not expose its metadata, so
   * a short-lived admin asks (one connection, as the idle probe's topic check does).
   */
  async clusterBrokers(timeoutMs: number): Promise<number[]> {
    await this.prepare();
    const adminGen = this.newGeneration();
    const admin = adminGen.kafka.admin();
    try {
      await withTimeout(admin.connect(), timeoutMs, 'admin connect');
      const { brokers } = await withTimeout(admin.describeCluster(), timeoutMs, 'describe cluster');
      return brokers.map((b) => b.nodeId);
    } catch (e) {
      throw e instanceof KafkaClientError ? e : new KafkaClientError(classifyKafkaError(e), String((e as Error).message ?? e));
    } finally {
      await withTimeout(admin.disconnect(), 2000, 'admin disconnect').catch(() => undefined);
      killGeneration(adminGen);
    }
  }

  /** How many leaders the partitioner chose since send attempt `attempt` started (its own among them). */
  private leadersSince(attempt: number): number {
    let n = 0;
    for (const at of this.leaderSeenAt.values()) if (at >= attempt) n++;
    return n;
  }

  /** Forgets the current producer and kills its connections; its disconnect runs in the background. */
  private dropProducer(): void {
    const p = this.producer;
    const gen = this.gen;
    this.producer = null;
    this.gen = null;
    this.connected = false;
    if (gen) killGeneration(gen);
    if (p) void withTimeout(p.disconnect(), 2000, 'disconnect').catch(() => undefined);
  }

  async close(timeoutMs: number): Promise<void> {
    const p = this.producer;
    const gen = this.gen;
    this.producer = null;
    this.gen = null;
    this.connected = false;
    // A clean disconnect first (it waits for requests in flight), then nothing may linger.
    if (p) await withTimeout(p.disconnect(), timeoutMs, 'disconnect').catch(() => undefined);
    if (gen) killGeneration(gen);
  }

  health(): KafkaClientHealth {
    return { connected: this.connected, ...(this.lastError ? { lastError: this.lastError } : {}) };
  }
}
