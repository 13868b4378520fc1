/**
 * Subscription to an external (hospital) broker with mqtt.js, MQTT 3.1.1 or 5.
 *
 * Persistent session: clean=false (and, for MQTT 5, a session expiry), a stable client id
 * and QoS 1 subscriptions, so the broker keeps what it has not seen acknowledged while the
 * gateway is away, and delivers it again when the gateway returns.
 *
 * Acknowledge only after commit. mqtt.js sends the PUBACK of an inbound QoS 1 message right
 * after `handleMessage(packet, cb)` calls back (lib/handlers/publish.js), and it handles one
 * packet at a time: holding `cb` (or `customHandleAcks`, MQTT 5 only) until the commit would
 * allow one message per group commit (~40/s). Instead `handleMessage` hands the readings to
 * the commit queue and calls back at once, and the client's `_sendPacket` is wrapped so that
 * a PUBACK is written only when the commit of its message resolved, in the order the
 * messages arrived. If the connection drops first, the PUBACK is never sent and the broker
 * redelivers (at-least-once: a reading committed just before a crash may come twice). If
 * the buffer keeps refusing past `ack.maxHold`, the connection is dropped on purpose so the
 * broker redelivers later.
 *
 * Bounded memory whatever the broker sends. A broker does not always keep to its in-flight
 * window (a persistent session's backlog can arrive faster than it commits), so the gateway
 * does not rely on it: while the commit queue is over its bound, `handleMessage` does not
 * call back, mqtt.js parses nothing more, its stream stops being read and TCP holds the
 * broker back. It calls back once half of the held readings have committed. The MQTT 5
 * receive maximum (`receiveMaximum`) asks the broker for the same in advance. A message over
 * `maxPacketBytes` is never held whole: its payload is dropped as it arrives, and it is
 * counted (device_error external_packet_too_large), rejected and acknowledged
 * (publish-trimmer.ts).
 */
import { readFileSync } from 'node:fs';
import { connect, type IClientOptions, type IPublishPacket, type IStream, type MqttClient, type Packet } from 'mqtt';
import type { Logger } from '../../logger.js';
import type { Events } from '../../metrics/events.js';
import { PendingCount } from '../../pending-count.js';
import { checkPrivateFile } from '../../secret-file.js';
import type { CommitQueue } from './commit-queue.js';
import type { ExternalConfig } from './config.js';
import type { MqttMetrics } from './metrics.js';
import { PublishTrimmer } from './publish-trimmer.js';
import type { MessageRouter } from './router.js';
import { drainBeforeStop } from './stop-drain.js';

type SendPacket = (packet: Packet, cb?: (err?: Error) => void, cbStorePut?: () => void, noStore?: boolean) => void;
/** How long a clean disconnect (DISCONNECT, then the broker closes) may take before the socket is destroyed. */
const DISCONNECT_MS = 1000;

export interface ExternalSubscriberDeps {
  config: ExternalConfig;
  router: MessageRouter;
  queue: CommitQueue;
  events: Events;
  metrics: MqttMetrics;
  log: Logger;
}

export interface ExternalStatus {
  name: string;
  connected: boolean;
  lastError?: string;
}

function jitter(ms: number): number {
  return Math.round(ms * (0.8 + Math.random() * 0.4));
}

export class ExternalSubscriber {
  private client: MqttClient | null = null;
  /** Incremented on every connection loss: acknowledgements of an older connection are dropped. */
  private gen = 0;
  /** The current connection, as the commit queue's owner of its messages. */
  private connection = { closed: false };
  private readonly pendingAcks = new Map<number, Promise<boolean>>();
  private ackChain: Promise<void> = Promise.resolve();
  /** PUBACKs in the chain not yet written (or given up). */
  private readonly chained = new PendingCount();
  private backoff: number;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private stopped = false;
  /** Stopping: QoS 1 messages parsed from now on are not taken (see drain()). */
  private draining = false;
  /** While the queue is over its bound: settled when the message mqtt.js waits on is let go. */
  private held: Promise<void> | undefined;
  private lastError: string | undefined;
  private readonly source: string;

  constructor(private readonly deps: ExternalSubscriberDeps) {
    this.backoff = deps.config.reconnect.initial;
    this.source = `external:${deps.config.name}`;
  }

  get name(): string {
    return this.deps.config.name;
  }

  status(): ExternalStatus {
    const s: ExternalStatus = { name: this.deps.config.name, connected: this.client?.connected ?? false };
    if (this.lastError !== undefined) s.lastError = this.lastError;
    return s;
  }

  /** Starts connecting; connection failures are retried in the background with backoff. */
  start(): void {
    const c = this.deps.config;
    const opts: IClientOptions = {
      clientId: c.clientId,
      protocolVersion: c.protocolVersion,
      clean: false,
      keepalive: Math.max(1, Math.round(c.keepalive / 1000)),
      connectTimeout: c.connectTimeout,
      reconnectPeriod: 0, // reconnection is ours, with backoff
      writeCache: false, // no table of 65,536 packet-id Buffers in the heap (as the embedded broker; README, Performance)
      resubscribe: false, // subscribed again on every connect, below
      queueQoSZero: false,
    };
    if (c.protocolVersion === 5) {
      opts.properties = { sessionExpiryInterval: Math.min(0xffffffff, Math.round(c.sessionExpiry / 1000)), receiveMaximum: c.receiveMaximum };
    }
    if (c.username !== undefined) opts.username = c.username;
    // A secret file: only the service user may read it (a configuration error otherwise, like the key file).
    if (c.passwordFile !== undefined) checkPrivateFile(c.passwordFile, `devices.mqtt.external ${c.name}: passwordFile`);
    const password = c.passwordFile !== undefined ? readFileSync(c.passwordFile, 'utf8').trim() : c.password;
    if (password !== undefined) opts.password = password;
    if (c.tls) {
      if (c.tls.ca !== undefined) opts.ca = readFileSync(c.tls.ca);
      if (c.tls.cert !== undefined) opts.cert = readFileSync(c.tls.cert);
      if (c.tls.key !== undefined) opts.key = readFileSync(c.tls.key);
      opts.rejectUnauthorized = c.tls.rejectUnauthorized;
      if (c.tls.servername !== undefined) opts.servername = c.tls.servername;
    }

    // Every connection's bytes go through a PublishTrimmer before mqtt.js parses them.
    const client = connect(c.url, { ...opts, manualConnect: true });
    const internal = client as unknown as { streamBuilder?: (client: MqttClient) => IStream };
    const build = internal.streamBuilder;
    if (!build) throw new Error('mqtt.js has no streamBuilder: this version is not supported by the external MQTT subscriber');
    internal.streamBuilder = (cl) => this.trimmed(build(cl));
    this.client = client;
    this.deferPubacks(client);
    client.handleMessage = (packet, cb) => {
      // Stopping: not taken, never acknowledged, and mqtt.js parses nothing more; the broker
      // delivers it again after the restart.
      if (this.draining && packet.qos > 0) return;
      this.onMessage(packet);
      if (!this.deps.queue.overBound()) return cb();
      // Read nothing more from this connection until the queue is under its bound. A pump of
      // a connection that has closed since is not resumed (its messages are redelivered).
      const gen = this.gen;
      this.held = new Promise<void>((resolve) =>
        this.deps.queue.whenBelow(() => {
          this.held = undefined;
          if (gen === this.gen) cb();
          resolve();
        }),
      );
    };
    client.on('connect', (connack) => {
      this.backoff = c.reconnect.initial;
      this.lastError = undefined;
      this.deps.log.info({ broker: c.name, sessionPresent: connack.sessionPresent }, 'connected to external MQTT broker');
      client.subscribe(Object.fromEntries(c.subscriptions.map((topic) => [topic, { qos: c.qos }])), (err, granted) => {
        if (err) return this.error('subscribe_failed', err);
        for (const g of granted ?? []) if (g.qos === 128 || g.qos > 2) this.error('subscribe_refused', new Error(`subscription to ${g.topic} refused`));
      });
    });
    client.on('close', () => {
      this.gen++;
      this.connection.closed = true;
      this.connection = { closed: false };
      this.pendingAcks.clear();
      this.ackChain = Promise.resolve();
      this.scheduleReconnect();
    });
    client.on('error', (err) => this.error('connection', err));
    client.connect();
  }

  /** `stream`, whose incoming bytes pass a PublishTrimmer (see publish-trimmer.ts) on their way to mqtt.js. */
  private trimmed(stream: IStream): IStream {
    const c = this.deps.config;
    const trimmer = new PublishTrimmer(c.maxPacketBytes, c.protocolVersion === 5, (bytes) =>
      this.error('packet_too_large', new Error(`a message of ${bytes} bytes (over maxPacketBytes ${c.maxPacketBytes}): its payload was dropped`)),
    );
    const push = stream.push.bind(stream);
    stream.push = (chunk: unknown, encoding?: BufferEncoding): boolean => {
      if (!(chunk instanceof Uint8Array)) return push(chunk, encoding);
      const out = trimmer.feed(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
      if (out === null) {
        this.error('packet_too_large', new Error(`a packet over maxPacketBytes ${c.maxPacketBytes} that is not a message, or malformed: connection closed`));
        stream.destroy();
        return false;
      }
      return out.length > 0 ? push(out) : true;
    };
    return stream;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    const client = this.client;
    this.client = null;
    if (client?.connected) await this.drain(client);
    this.gen++;
    this.connection.closed = true;
    if (!client) return;
    const clean = client.connected;
    const guard = setTimeout(() => client.stream?.destroy(), DISCONNECT_MS);
    await new Promise<void>((r) => client.end(!clean, {}, () => r()));
    clearTimeout(guard);
  }

  /**
   * A stop while messages flow (stop-drain.ts): QoS 1 messages parsed from now on are not taken
   * (mqtt.js then parses nothing more), the PUBACKs of the taken ones (and of one held while the
   * queue was over its bound) are written as their commits complete, and then the client sends
   * DISCONNECT, after them on the same connection. Before, a stop while messages flowed had
   * 85-164 of 600 messages delivered twice after the restart (external.test, 30 ms commits). A
   * crash (SIGKILL, power) still leaves a commit's messages unacknowledged until its fsync ends.
   */
  private drain(client: MqttClient): Promise<void> {
    this.draining = true;
    return drainBeforeStop(
      () => this.held ?? this.chained.whenZero(),
      () => !client.connected || this.deps.queue.isRefusing(),
    );
  }

  private onMessage(packet: IPublishPacket): void {
    const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
    const inputs = this.deps.router.route('external', packet.topic, payload, Date.now());
    const qos = packet.qos;
    const metrics = this.deps.metrics;
    if (!inputs) {
      metrics.outcome(this.source, qos, 'rejected'); // acknowledged: resending it would not make it decode
      // Its PUBACK waits for those of earlier messages (PUBACKs in arrival order, MQTT-4.6.0-2).
      if (qos > 0 && packet.messageId !== undefined) this.pendingAcks.set(packet.messageId, Promise.resolve(true));
      return;
    }
    if (qos === 0 || packet.messageId === undefined) {
      this.deps.queue.offer(inputs, (err, ok) => metrics.outcome(this.source, qos, err ? 'abandoned' : ok ? 'committed' : 'refused'), payload.length);
      return;
    }
    const commit = new Promise<boolean>((resolve, reject) => {
      this.deps.queue.commit(
        inputs,
        this.connection,
        (err, committed) => {
          metrics.outcome(this.source, qos, err ? 'refused' : committed ? 'committed' : 'abandoned');
          if (err) reject(err);
          else resolve(committed);
        },
        payload.length,
      );
    });
    commit.catch(() => undefined); // handled where the PUBACK waits for it
    this.pendingAcks.set(packet.messageId, commit);
  }

  /** Wraps the client's packet writer so that each PUBACK waits for its commit (see above). */
  private deferPubacks(client: MqttClient): void {
    const internal = client as unknown as { _sendPacket?: SendPacket };
    const send = internal._sendPacket?.bind(client);
    if (!send) throw new Error('mqtt.js has no _sendPacket: this version is not supported by the external MQTT subscriber');
    internal._sendPacket = (packet, cb, cbStorePut, noStore) => {
      const id = packet.messageId;
      const commit = packet.cmd === 'puback' && id !== undefined ? this.pendingAcks.get(id) : undefined;
      if (commit === undefined) return send(packet, cb, cbStorePut, noStore);
      this.pendingAcks.delete(id!);
      const gen = this.gen;
      this.chained.add();
      this.ackChain = this.ackChain
        .then(() => commit)
        .then(
          (committed) => {
            this.chained.done();
            if (committed && gen === this.gen && client.connected) send(packet);
          },
          () => {
            this.chained.done();
            // Refused past maxHold (or stopping): no PUBACK. Drop the connection so the
            // broker redelivers once we are back.
            if (gen === this.gen && !this.stopped) {
              this.deps.events.emit('device_error', { family: 'mqtt', reason: 'external_hold_expired' }, 1, { broker: this.deps.config.name });
              client.stream?.destroy();
            }
          },
        );
      cb?.(); // the packet pump goes on at once
    };
  }

  private scheduleReconnect(): void {
    if (this.stopped || this.reconnectTimer || !this.client) return;
    const delay = jitter(this.backoff);
    this.backoff = Math.min(this.backoff * 2, this.deps.config.reconnect.max);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      if (!this.stopped && this.client && !this.client.connected) this.client.reconnect();
    }, delay);
  }

  private error(reason: string, err: Error): void {
    this.lastError = err.message;
    this.deps.events.emit('device_error', { family: 'mqtt', reason: `external_${reason}` }, 1, { broker: this.deps.config.name, error: err.message });
  }
}
