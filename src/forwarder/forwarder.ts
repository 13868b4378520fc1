/**
 * Moves readings from the buffer into Kafka.
 *
 * Delivery. A batch is one buffer lease (readings of one class, oldest first). It is sent with
 * acks=all through an idempotent producer and acked out of the buffer only when Kafka has
 * acknowledged every message of it; on any failure the lease is released (nothing leaves the
 * buffer) and sent again after a backoff. The durable buffer is the only queue: at most two
 * leases per lane exist (one being sent, one prepared), so memory does not depend on what
 * Kafka does.
 *
 * Lanes and ordering. Alarms have their own lane (by default their own producer and
 * connection, so an alarm never queues behind a large batch); every other class shares the
 * bulk lane. Within a lane one batch is sent at a time and the next one is prepared (leased
 * and encoded) meanwhile; a failed batch releases the prepared one too, so the buffer hands
 * them out again in the same order. Hence each device's readings of one class reach their
 * topic partition in sequence order, also across outages. The two lanes write to different
 * topics, so they run in parallel ("several batches in flight where ordering allows").
 *
 * Draining order. Each lane leases its own classes from the buffer: the alarm lane alarms, the
 * bulk lane the highest other class first (vital, status, waveform); within a class the oldest
 * first. An alarm committed while a backlog drains is leased at the next commit notification
 * and sent on the idle alarm lane at once, and the bulk lane keeps preparing meanwhile.
 *
 * Connectivity. ./state.ts holds the state machine (online / draining / degraded / offline,
 * with reasons). After a failure the forwarder waits (exponential backoff with jitter, capped)
 * and then sends one batch at a time until one is acknowledged. A configuration refusal
 * (authentication, ACL, missing topic) waits the full cap between attempts. A black-holed
 * connection is detected by the send timeout. The optional rate cap (./rate-limit.ts) holds
 * the bulk lane back; alarms are never held.
 */
import type { BufferStats, Lease, ReadingBuffer } from '../buffer/types.js';
import type { Logger } from '../logger.js';
import type { Events } from '../metrics/events.js';
import { PRIORITY_CLASSES, type PriorityClass, type Reading } from '../reading.js';
import { steadyNow, toWall } from '../steady-clock.js';
import { type KafkaClient, KafkaClientError, type TopicBatch } from './client.js';
import { type Batch, Lane } from './lane.js';
import { Pump } from './pump.js';
import { type RateCap, RateLimiter } from './rate-limit.js';
import { allTopics, leaseSize, type RoutingOptions, routeLease, topicsOfClass } from './routing.js';
import { ConnectivityState, type FailureKind, type ForwarderStatus, KAFKA_STATES, RateMeter, type Transition } from './state.js';

export interface ForwarderOptions {
  routing: RoutingOptions;
  createTopics: boolean;
  /** At most this many readings per batch. */
  batchMaxReadings: number;
  /** About this many encoded message bytes (key + value + headers) per batch, at most. */
  batchMaxBytes: number;
  /** When less than a full batch is waiting and the bulk lane is idle, wait this long for more (default 0). */
  lingerMs?: number;
  sendTimeoutMs: number;
  connectTimeoutMs: number;
  retryInitialMs: number;
  retryMaxMs: number;
  /** After this many consecutive failures the state is offline (before: degraded). Default 2. */
  offlineAfterFailures?: number;
  /** Optional cap on what leaves the gateway (readings/s and/or bytes/s); alarms are never held. */
  rateCap?: RateCap;
  /** The alarm lane's client (its own producer and connection). Without it alarms share `client`. */
  alarmClient?: KafkaClient;
  /**
   * With nothing to send for this long, ask the broker for the topics' metadata, so an idle
   * gateway (a quiet ward at night) still learns that Kafka went away (default 30 s; 0: never).
   */
  idleProbeMs?: number;
  /**
   * Every this often while connected, ask the bulk lane's client which brokers the cluster lists
   * (never per send; default 10 s; 0: never). Fewer than expected: state degraded, reason
   * `brokers: 2 of 3`, while the drain goes on.
   */
  clusterCheckMs?: number;
  /** Brokers expected in the cluster (the bootstrap list's length); the most ever listed at once counts too. */
  expectedBrokers?: number;
  /** Called after Kafka acknowledged a batch (latency measurements in tests and benchmarks). */
  onAck?: (info: AckInfo) => void;
  /**
   * The clock of every wait, retry, interval and rate here (default steadyNow: a step of the wall
   * clock, NTP setting right a clock that was hours ahead, must not hold a retry back by the step).
   * The times the forwarder reports (status, onAck) are turned into wall-clock times; with a `now`
   * given (tests), they are its readings as they are.
   */
  now?: () => number;
}

export interface AckInfo {
  priorityClass: PriorityClass;
  readings: readonly Reading[];
  /** When the batch was handed to the client, and when Kafka acknowledged it (ms since the epoch). */
  sentAt: number;
  ackedAt: number;
}

/**
 * The forwarder's life: created; started and not (or no longer) connected; checking the topics
 * and connecting the producers; connected (sending); stopped.
 */
type Phase = 'created' | 'disconnected' | 'connecting' | 'connected' | 'stopped';

/**
 * Initial guess of message bytes per stored byte, refined after every batch. High on purpose:
 * the first batch is small rather than over the byte bound (stored units are deflated).
 */
const INITIAL_EXPANSION = 64;
/** What each lane leases: the alarm lane alarms only, the bulk lane every other class (highest first). */
const ALARM_CLASSES: readonly PriorityClass[] = ['alarm'];
const BULK_CLASSES: readonly PriorityClass[] = PRIORITY_CLASSES.filter((p) => p !== 'alarm');
const TICK_MS = 1000;

function messageBytes(batches: readonly TopicBatch[]): number {
  let n = 0;
  for (const b of batches) {
    for (const m of b.messages) {
      n += m.value.length + (m.key === null ? 0 : m.key.length);
      for (const k in m.headers) n += k.length + m.headers[k]!.length;
    }
  }
  return n;
}

/** A configuration error about some topics (missing, or not allowed to be created): only their classes wait. */
const topicsMissing = (e: unknown): boolean => e instanceof KafkaClientError && e.kind === 'config' && e.topics.length > 0;

function failureKind(e: unknown): FailureKind {
  return e instanceof KafkaClientError ? e.kind : 'transient';
}

export class Forwarder {
  private phase: Phase = 'created';
  private readonly unsubscribe: () => void;
  private readonly now: () => number;
  /** A reading of `now` as a wall-clock time (see ForwarderOptions.now). */
  private readonly wallOf: (t: number) => number;
  private readonly conn: ConnectivityState;
  private failureCount = 0;
  private readonly meter: RateMeter;
  private readonly limiter: RateLimiter;
  private readonly lanes: { alarm: Lane; bulk: Lane };
  private readonly clients: KafkaClient[];
  private readonly pending = new Set<Promise<unknown>>();

  private retryAt = 0;
  private readonly pump: Pump;
  private ticker: NodeJS.Timeout | null = null;
  private lingerUntil: number | null = null;
  /**
   * Classes whose topics Kafka lacks (createTopics off, or not allowed), with the error: nothing of
   * theirs is leased, the other classes go on (see checkClassTopics).
   */
  private readonly blocked = new Map<PriorityClass, string>();
  private blockedCheck: Promise<void> | null = null;
  private blockedCheckedAt = 0;
  private blockedReported = '';
  /** Batch size Kafka took less than (see shrinkBatches); null until it refuses one as too large. */
  private sizeCap: { readings: number; bytes: number } | null = null;
  /** Message bytes per stored byte, learnt from the batches prepared (null until the first). */
  private expansion: number | null = null;
  private inFlightReadings = 0;
  private forwarded = 0;
  private unknownFate = 0;
  /** The rate cap held the bulk lane back at its last check (for status). */
  private rateLimiting = false;
  private idleProbe: Promise<void> | null = null;
  private lastIdleProbe = 0;
  private clusterCheck: Promise<void> | null = null;
  private lastClusterCheck = 0;
  /** The most brokers the cluster's metadata listed at once. */
  private mostBrokers = 0;
  private clusterView: ForwarderStatus['cluster'] = null;

  constructor(
    private readonly buffer: ReadingBuffer,
    client: KafkaClient,
    private readonly opts: ForwarderOptions,
    private readonly events: Events,
    private readonly log: Logger,
  ) {
    this.now = opts.now ?? steadyNow;
    this.wallOf = opts.now ? (t) => t : (t) => toWall(t);
    this.conn = new ConnectivityState(
      { offlineAfter: opts.offlineAfterFailures ?? 2, retryInitialMs: opts.retryInitialMs, retryMaxMs: opts.retryMaxMs },
      this.now,
    );
    this.meter = new RateMeter(6, this.now);
    this.limiter = new RateLimiter(opts.rateCap ?? {}, this.now);
    const alarmClient = opts.alarmClient ?? client;
    this.lanes = {
      alarm: new Lane('alarm', alarmClient),
      bulk: new Lane('bulk', client),
    };
    this.clients = alarmClient === client ? [client] : [client, alarmClient];
    this.pump = new Pump(
      () => this.pumpAndPublish(),
      () => this.running,
      this.now,
    );
    this.unsubscribe = buffer.onCommit(() => this.pump.soon());
    this.publish();
  }

  /**
   * New topic routing (SIGHUP): every lease taken from now on is routed with it. Batches already
   * leased and encoded (at most the one being sent and the one prepared per lane) go to the
   * topics they were encoded for, retries included. The producers are made ready again first, so
   * that the new topics are checked (and created when kafka.createTopics allows) before a send.
   */
  setRouting(routing: RoutingOptions): void {
    this.opts.routing = routing;
    this.disconnected();
    this.pump.soon();
  }

  start(): void {
    if (this.phase !== 'created') return;
    this.phase = 'disconnected';
    this.ticker = setInterval(() => this.tick(), TICK_MS);
    this.ticker.unref?.();
    this.pump.soon();
  }

  status(): ForwarderStatus {
    const s = this.buffer.stats();
    const cap = this.limiter.enabled
      ? {
          readingsPerSecond: this.opts.rateCap?.readingsPerSecond ?? null,
          bytesPerSecond: this.opts.rateCap?.bytesPerSecond ?? null,
          limiting: this.rateLimiting,
        }
      : null;
    const wall = (t: number | null): number | null => (t === null ? null : this.wallOf(t));
    return {
      state: this.conn.state,
      reason: this.conn.reason,
      since: this.wallOf(this.conn.since),
      lastSuccessAt: wall(this.conn.lastSuccessAt),
      lastFailureAt: wall(this.conn.lastFailureAt),
      offlineSince: wall(this.conn.offlineSince),
      consecutiveFailures: this.conn.consecutiveFailures,
      forwarded: this.forwarded,
      inFlight: this.inFlightReadings,
      configError: this.conn.configError,
      drainRate: Math.round(this.meter.rate()),
      backlog: Math.max(0, s.totalReadings - s.inFlight),
      unknownFate: this.unknownFate,
      retryAt: this.retryAt > this.now() ? this.wallOf(this.retryAt) : null,
      rateCap: cap,
      cluster: this.clusterView ? { ...this.clusterView, checkedAt: this.wallOf(this.clusterView.checkedAt) } : null,
    };
  }

  /** Resolves true once the buffer is empty and nothing is in flight, false after timeoutMs. */
  async drained(timeoutMs: number): Promise<boolean> {
    const deadline = this.now() + timeoutMs;
    for (;;) {
      const s = this.buffer.stats();
      if (s.totalReadings === 0 && s.inFlight === 0) return true;
      if (this.now() >= deadline) return false;
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Stops leasing, waits (at most the send timeout) for sends in flight, releases prepared batches, closes the clients. */
  async stop(): Promise<void> {
    if (this.phase === 'stopped') return;
    this.phase = 'stopped';
    this.unsubscribe();
    this.pump.stop();
    if (this.ticker) clearInterval(this.ticker);
    for (const lane of [this.lanes.alarm, this.lanes.bulk]) this.dropNext(lane);
    if (this.pending.size) {
      let t: NodeJS.Timeout | undefined;
      await Promise.race([Promise.allSettled([...this.pending]), new Promise((r) => (t = setTimeout(r, this.opts.sendTimeoutMs + 1000)))]);
      clearTimeout(t);
    }
    await Promise.all(this.clients.map((c) => c.close(2000).catch(() => undefined)));
    this.publish();
  }

  // ------------------------------------------------------------------ scheduling

  /** Connected to Kafka now: its producers are ready (a failed send may still be waiting for its retry). */
  get connected(): boolean {
    return this.phase === 'connected';
  }

  /** Failed sends and checks since start (any kind); a stop's grace ends at the next one. */
  get failures(): number {
    return this.failureCount;
  }

  /** Started and not stopped. */
  private get running(): boolean {
    return this.phase !== 'created' && this.phase !== 'stopped';
  }

  private tick(): void {
    const s = this.buffer.stats();
    this.transition(this.conn.backlog(this.backlogged(s)));
    this.probeIfIdle(s.totalReadings - s.inFlight);
    this.recheckBlocked();
    this.checkCluster();
    this.publish();
    this.pump.soon();
  }

  /** Nothing sent or acknowledged for idleProbeMs and nothing to send: a metadata request stands in for a send. */
  private probeIfIdle(waiting: number): void {
    const every = this.opts.idleProbeMs ?? 30_000;
    const { alarm, bulk } = this.lanes;
    if (every <= 0 || this.phase !== 'connected' || this.idleProbe || waiting > 0) return;
    if (alarm.busy || bulk.busy) return;
    const now = this.now();
    if (now < this.retryAt || now - Math.max(this.conn.lastContactAt ?? 0, this.lastIdleProbe) < every) return;
    this.lastIdleProbe = now;
    const usable = PRIORITY_CLASSES.filter((c) => !this.blocked.has(c)).flatMap((c) => topicsOfClass(this.opts.routing, c));
    const p = bulk.client.ensureTopics([...new Set(usable)], false, this.opts.connectTimeoutMs).then(
      () => {
        this.idleProbe = null;
        if (this.phase !== 'stopped') this.transition(this.conn.success(false, 'idle: broker answered a metadata request', false));
      },
      (e: unknown) => {
        this.idleProbe = null;
        if (this.phase === 'stopped') return;
        // Producers are connected again (getReady) before the next send.
        this.disconnected();
        this.fail(failureKind(e), e instanceof Error ? e.message : String(e), { during: 'idle probe' });
      },
    );
    this.idleProbe = p;
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p));
  }

  /**
   * Asks which brokers the cluster lists (every clusterCheckMs, while connected). A failed check
   * changes nothing: sends report an unreachable cluster themselves.
   */
  private checkCluster(): void {
    const every = this.opts.clusterCheckMs ?? 10_000;
    const client = this.lanes.bulk.client;
    if (every <= 0 || !client.clusterBrokers || this.phase !== 'connected' || this.clusterCheck) return;
    const now = this.now();
    if (now - this.lastClusterCheck < every) return;
    this.lastClusterCheck = now;
    const p = client.clusterBrokers(this.opts.connectTimeoutMs).then(
      (ids) => {
        this.clusterCheck = null;
        if (this.phase === 'stopped') return;
        const listed = new Set(ids).size;
        this.mostBrokers = Math.max(this.mostBrokers, listed);
        const expected = Math.max(this.opts.expectedBrokers ?? 1, this.mostBrokers);
        this.clusterView = { brokers: listed, expected, checkedAt: this.now() };
        const short = listed < expected ? `brokers: ${listed} of ${expected}` : null;
        this.transition(this.conn.cluster(short, this.backlogged(this.buffer.stats())));
      },
      (e: unknown) => {
        this.clusterCheck = null;
        this.log.debug({ error: e instanceof Error ? e.message : String(e) }, 'kafka cluster metadata check failed');
      },
    );
    this.clusterCheck = p;
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p));
  }

  /**
   * More than a batch waits: draining. With hysteresis (draining from two batches, online again
   * at one), so a backlog hovering around one batch does not flip the state on every send.
   */
  private backlogged(s: { totalReadings: number; inFlight: number }): boolean {
    const waiting = s.totalReadings - s.inFlight;
    return waiting > this.opts.batchMaxReadings * (this.conn.state === 'draining' ? 1 : 2);
  }

  // ------------------------------------------------------------------ the pump

  private pumpAndPublish(): void {
    try {
      this.pumpOnce();
    } catch (e) {
      // The buffer failed to lease (I/O error): count it, back off, try again.
      this.events.emit('kafka_send_failed', { kind: 'buffer_error' }, 1, { error: e instanceof Error ? e.message : String(e) });
      this.retryAt = this.now() + Math.max(1000, this.opts.retryInitialMs);
      this.pump.at(this.retryAt);
    }
    this.publish();
  }

  private pumpOnce(): void {
    if (this.phase === 'connecting') return;
    if (this.phase !== 'connected') {
      if (this.now() >= this.retryAt) this.getReady();
      else this.pump.at(this.retryAt);
      return;
    }
    const now = this.now();
    if (now < this.retryAt) {
      this.pump.at(this.retryAt);
      return;
    }
    const { alarm, bulk } = this.lanes;
    for (;;) {
      // A send just started: let the client encode and write it (microtasks) before the next
      // batch is prepared, so the broker works on it while this thread prepares the next.
      const a = this.startPrepared(alarm);
      const b = this.startPrepared(bulk);
      if (a || b) {
        this.pump.soon();
        return;
      }
      const probing = this.conn.consecutiveFailures > 0;
      if (probing && (alarm.busy || bulk.busy)) return;
      const s = this.buffer.stats();
      let unleased = s.totalReadings - s.inFlight;
      for (const c of this.blocked.keys()) unleased -= Forwarder.unleased(s, c);
      if (unleased <= 0) {
        this.lingerUntil = null;
        return;
      }
      const unleasedAlarms = this.blocked.has('alarm') ? 0 : Forwarder.unleased(s, 'alarm');
      let lane: Lane;
      if (unleasedAlarms > 0 && alarm.mayPrepare) lane = alarm;
      else if (this.bulkMayPrepare(unleased - Math.max(0, unleasedAlarms), now)) lane = bulk;
      else return;
      const limits = this.leaseLimits();
      const classes = (lane === alarm ? ALARM_CLASSES : BULK_CLASSES).filter((c) => !this.blocked.has(c));
      const lease = classes.length > 0 ? this.buffer.lease({ ...limits, classes }) : null;
      if (!lease) return;
      if (lane === bulk) this.lingerUntil = null;
      lane.prepared(this.prepare(lease));
    }
  }

  /**
   * The bulk lane prepares a batch when it may (see Lane.mayPrepare: none prepared, the batch
   * being sent did not stop inside a unit), and: while a batch is being sent, a
   * full batch waits (online, whatever arrives meanwhile goes out together in the next batch);
   * when idle, anything waits, after the linger time if one is set.
   */
  private bulkMayPrepare(waiting: number, now: number): boolean {
    const bulk = this.lanes.bulk;
    if (waiting <= 0 || !bulk.mayPrepare) return false;
    if (bulk.sending) return waiting >= this.opts.batchMaxReadings;
    if (waiting < this.opts.batchMaxReadings && (this.opts.lingerMs ?? 0) > 0) {
      this.lingerUntil ??= now + this.opts.lingerMs!;
      if (now < this.lingerUntil) {
        this.pump.at(this.lingerUntil);
        return false;
      }
    }
    return true;
  }

  private leaseLimits(): { maxReadings: number; maxBytes: number } {
    const cap = this.sizeCap;
    const bytes = cap ? Math.min(this.opts.batchMaxBytes, cap.bytes) : this.opts.batchMaxBytes;
    const stored = Math.max(1, Math.floor(bytes / (this.expansion ?? INITIAL_EXPANSION)));
    return this.limiter.limits(cap ? Math.min(this.opts.batchMaxReadings, cap.readings) : this.opts.batchMaxReadings, stored);
  }

  /**
   * A reading the configured format's schema refused went out as JSON v1 (formats/avro-v1.ts):
   * counted, logged (rate-limited; the field's name and the reading's seq, no value).
   */
  private readonly formatFallback = (r: Reading, field: string): void => {
    this.events.emit('kafka_format_fallback', { format: this.opts.routing.format ?? 'json-v1', field }, 1, { seq: r.seq, class: r.priorityClass });
  };

  private prepare(lease: Lease): Batch {
    const batches = routeLease(lease, this.opts.routing, this.formatFallback);
    const bytes = messageBytes(batches);
    if (lease.bytes > 0) {
      // Learn message bytes per stored byte: up at once (stay under the bound), down slowly.
      const e = bytes / lease.bytes;
      this.expansion = this.expansion === null || e > this.expansion ? e : this.expansion * 0.9 + e * 0.1;
    }
    const n = leaseSize(lease);
    // The readings are encoded: unless an ack hook wants them, only the lease's identity is kept
    // (less for the garbage collector to carry while the batch waits and is sent).
    const kept: Lease = this.opts.onAck
      ? lease
      : { id: lease.id, priorityClass: lease.priorityClass, bytes: lease.bytes, partial: lease.partial, readings: [] };
    return { lease: kept, batches, readings: n, bytes };
  }

  /**
   * Starts the lane's prepared batch if nothing is being sent on it (and, for the bulk lane, the
   * rate cap allows). Returns true when a send was started.
   */
  private startPrepared(lane: Lane): boolean {
    const b = lane.startable;
    if (!b || this.phase === 'stopped') return false;
    if (lane.name === 'bulk') {
      const wait = this.limiter.waitMs();
      this.rateLimiting = wait > 0;
      if (wait > 0) {
        this.pump.at(this.now() + wait);
        return false;
      }
    }
    lane.start();
    this.limiter.take(b.readings, b.bytes);
    this.inFlightReadings += b.readings;
    const sentAt = this.now();
    const p = lane.client.send(b.batches, this.opts.sendTimeoutMs).then(
      () => this.onAcked(lane, b, sentAt),
      (e: unknown) => this.onFailed(lane, b, e),
    );
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p));
    return true;
  }

  private onAcked(lane: Lane, b: Batch, sentAt: number): void {
    const ackedAt = this.now();
    lane.sent();
    this.inFlightReadings -= b.readings;
    // The prepared batch goes out first, then the buffer bookkeeping of this one.
    this.startPrepared(lane);
    this.finishAck(b, sentAt, ackedAt);
  }

  private finishAck(b: Batch, sentAt: number, ackedAt: number): void {
    try {
      this.buffer.ack(b.lease.id);
    } catch (e) {
      // Kafka has it; the buffer could not delete it (it is sent again after a restart).
      this.events.emit('kafka_send_failed', { kind: 'buffer_error' }, 1, { error: e instanceof Error ? e.message : String(e) });
    }
    const n = b.readings;
    this.forwarded += n;
    this.meter.add(n);
    this.events.forwarded.inc({ class: b.lease.priorityClass }, n);
    this.events.forwardedBytes.inc({ class: b.lease.priorityClass }, b.bytes);
    const s = this.buffer.stats();
    this.transition(this.conn.success(this.backlogged(s)));
    this.opts.onAck?.({ priorityClass: b.lease.priorityClass, readings: b.lease.readings, sentAt: this.wallOf(sentAt), ackedAt: this.wallOf(ackedAt) });
    this.pump.soon();
  }

  private onFailed(lane: Lane, b: Batch, e: unknown): void {
    lane.sent();
    this.inFlightReadings -= b.readings;
    this.buffer.release(b.lease.id);
    // The prepared batch follows the failed one: hand it back too, so both go out again in order.
    for (const l of [this.lanes.alarm, this.lanes.bulk]) this.dropNext(l);
    const kind = failureKind(e);
    const message = e instanceof Error ? e.message : String(e);
    if (e instanceof KafkaClientError && e.tooLarge && b.readings > 1) {
      this.shrinkBatches(b, message);
      return;
    }
    if (kind !== 'config') {
      // The messages may have reached Kafka (a lost acknowledgement): they are sent again.
      this.unknownFate += b.readings;
      this.events.emit('kafka_unknown_fate', { class: b.lease.priorityClass }, b.readings);
    }
    this.fail(kind, message, { lane: lane.name, readings: b.readings });
    if (this.phase !== 'stopped') this.pump.run();
  }

  /**
   * Kafka refused a record batch as larger than it takes (the topic's or broker's max.message.bytes,
   * 1 MB by default, counts a partition's whole record batch: a batch of kafka.batch.maxBytes whose
   * messages share one partition, a 1-partition topic or one device's backlog, is over it with the
   * records' own bytes). Not an operator's error while a batch can be smaller: from now on batches
   * are at most half this one, and the same readings go again at once. Counted as unknown fate: the
   * request's other partitions may have been written. One reading too large stays a config error.
   */
  private shrinkBatches(b: Batch, message: string): void {
    const cap = { readings: Math.max(1, Math.floor(b.readings / 2)), bytes: Math.max(1, Math.floor(b.bytes / 2)) };
    this.sizeCap = cap;
    this.unknownFate += b.readings;
    this.events.emit('kafka_unknown_fate', { class: b.lease.priorityClass }, b.readings);
    this.events.emit('kafka_send_failed', { kind: 'too_large' }, 1, { error: message, readings: b.readings, bytes: b.bytes, nowAtMost: cap });
    if (this.phase !== 'stopped') this.pump.run();
  }

  private dropNext(lane: Lane): void {
    const n = lane.takeNext();
    if (n) this.buffer.release(n.lease.id);
  }

  /** The producers must be connected again (getReady) before the next send. */
  private disconnected(): void {
    if (this.phase === 'connected') this.phase = 'disconnected';
  }

  /** Checks the topics and connects every lane's producer; a failure goes through the same backoff. */
  private getReady(): void {
    this.phase = 'connecting';
    const p = (async () => {
      await this.checkTopics();
      await Promise.all(this.clients.map((c) => c.connect(this.opts.connectTimeoutMs)));
    })().then(
      () => {
        if (this.phase === 'stopped') return;
        this.phase = 'connected';
        this.log.info({ topics: allTopics(this.opts.routing), lanes: this.clients.length }, 'kafka topics ready, producers connected');
        const s = this.buffer.stats();
        this.transition(this.conn.success(this.backlogged(s), 'connected', false));
        this.pump.run();
      },
      (e: unknown) => {
        if (this.phase === 'stopped') return;
        this.phase = 'disconnected';
        this.fail(failureKind(e), e instanceof Error ? e.message : String(e), { during: 'connect' });
        this.pump.run();
      },
    );
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p));
  }

  /**
   * Checks (and, with kafka.createTopics, creates) the routing's topics before the producers
   * connect. A topic Kafka lacks blocks only the classes routed to it: a ward that sends no
   * waveforms must not lose its alarms because the waveform topic was never created. Every class
   * blocked is a configuration error, as before; some blocked is reported as one (counted, logged
   * once per distinct error, the config-error gauge at 1), and the rest is sent.
   */
  private async checkTopics(): Promise<void> {
    const client = this.lanes.bulk.client;
    try {
      await client.ensureTopics(allTopics(this.opts.routing), this.opts.createTopics, this.opts.connectTimeoutMs);
      this.blocked.clear();
      return;
    } catch (e) {
      if (!topicsMissing(e)) throw e;
      await this.checkClassTopics(PRIORITY_CLASSES);
      if (this.blocked.size === PRIORITY_CLASSES.length) throw e;
      this.reportBlocked();
    }
  }

  /** Each class's topics on their own: a configuration error blocks that class (other errors are thrown). */
  private async checkClassTopics(classes: readonly PriorityClass[]): Promise<void> {
    this.blockedCheckedAt = this.now();
    for (const c of classes) {
      try {
        await this.lanes.bulk.client.ensureTopics(topicsOfClass(this.opts.routing, c), this.opts.createTopics, this.opts.connectTimeoutMs);
        if (this.blocked.delete(c)) this.log.info({ class: c }, 'kafka topics of this class are there now: sending it again');
      } catch (e) {
        if (!topicsMissing(e)) throw e;
        this.blocked.set(c, (e as Error).message);
      }
    }
  }

  private reportBlocked(): void {
    const errors = [...new Set(this.blocked.values())].join('; ');
    if (errors === '' || errors === this.blockedReported) return;
    this.blockedReported = errors;
    this.events.emit('kafka_config_error', { reason: errors.slice(0, 80) }, 1, { error: errors, classesHeld: [...this.blocked.keys()] });
  }

  /** While classes are blocked: their topics are checked again every retryMaxMs, and a class whose topics appeared is sent again. */
  private recheckBlocked(): void {
    if (this.blocked.size === 0 || this.phase !== 'connected' || this.blockedCheck) return;
    if (this.now() - this.blockedCheckedAt < this.opts.retryMaxMs) return;
    const p = this.checkClassTopics([...this.blocked.keys()]).then(
      () => {
        this.blockedCheck = null;
        if (this.blocked.size === 0) this.blockedReported = '';
        this.pump.soon();
      },
      () => {
        this.blockedCheck = null; // not answered: tried again after retryMaxMs
      },
    );
    this.blockedCheck = p;
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p));
  }

  /** Readings of a class not leased yet. */
  private static unleased(s: BufferStats, c: PriorityClass): number {
    return s.perClass[c].readings - s.inFlightPerClass[c];
  }

  private fail(kind: FailureKind, message: string, detail: Record<string, unknown>): void {
    if (this.phase === 'stopped') return;
    this.failureCount++;
    const previousConfigError = this.conn.configError;
    const { transition, delayMs } = this.conn.failure(kind, message);
    if (kind === 'config') {
      // An operator must act: counted every time, logged once per distinct error; slow retries.
      this.disconnected();
      this.events.emit('kafka_config_error', { reason: message.slice(0, 80) }, 1, previousConfigError === message ? undefined : { error: message, ...detail });
    } else {
      this.events.emit('kafka_send_failed', { kind }, 1, { error: message, ...detail });
      // A broken session (fenced, sequence errors) may also mean the topics changed: check again.
      if (kind === 'fatal') this.disconnected();
    }
    this.retryAt = this.now() + delayMs;
    this.transition(transition);
    this.pump.at(this.retryAt);
  }

  private transition(t: Transition | null): void {
    if (!t) return;
    if (t.from === t.to) {
      this.log.debug({ state: t.to, reason: t.reason }, 'kafka state reason changed');
    } else {
      const level = t.to === 'offline' ? 'warn' : t.to === 'degraded' ? 'warn' : 'info';
      this.log[level]({ from: t.from, to: t.to, reason: t.reason, offlineSeconds: Math.round(this.conn.offlineSeconds()) }, `kafka ${t.to}`);
    }
    this.publish();
  }

  private publish(): void {
    const g = this.events.gauges;
    for (const s of KAFKA_STATES) g.kafkaState.set({ state: s }, s === this.conn.state ? 1 : 0);
    g.offlineSeconds.set(this.conn.offlineSeconds());
    g.inFlight.set(this.inFlightReadings);
    g.drainRate.set(this.meter.rate());
    g.kafkaConfigError.set(this.conn.configError === null && this.blocked.size === 0 ? 0 : 1);
    if (this.clusterView) {
      g.kafkaBrokers.set(this.clusterView.brokers);
      g.kafkaBrokersExpected.set(this.clusterView.expected);
    }
  }
}
