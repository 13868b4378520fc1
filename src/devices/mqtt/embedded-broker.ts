/**
 * The embedded broker (aedes, MQTT 3.1/3.1.1): sensors connect to the gateway itself over
 * TCP, TLS or WebSocket.
 *
 * End-to-end acknowledgement. aedes handles an inbound PUBLISH as
 *     authorizePublish(client, packet, cb)  ->  cb()  ->  write PUBACK  ->  deliver to subscribers
 * (lib/handlers/publish.js, enqueuePublish, case 1). So the PUBACK of a QoS 1 message goes
 * out exactly when we call `cb`, and we call it only after the readings are durably
 * committed. When the buffer refuses, `cb` is held (the commit queue retries with backoff);
 * after `ack.maxHold` it is called with an error, aedes destroys the connection without a
 * PUBACK, and the sensor resends the message when it reconnects (MQTT §4.4). While a
 * message of a socket read is held aedes reads nothing more from that socket
 * (lib/client.js, nextBatch): the sensor is back-pressured.
 * QoS 0 messages are submitted best effort and `cb` is called at once.
 *
 * Memory is bounded whatever the clients send: while the commit queue is over its bound
 * (QoS 0 floods, or many connections each with a socket read of held QoS 1 messages), no
 * PUBLISH is read from any connection: a connection's bytes are handed to aedes up to the
 * next PUBLISH, the rest is put back (unshift) and the connection is stalled (the reads aedes
 * asks for return nothing, so the socket's buffer fills and TCP holds the sender back); once
 * the queue is back under half of its bound, each stalled connection is read again. Packets
 * before it (CONNECT, SUBSCRIBE, PINGREQ, the acknowledgements of alarms delivered) add
 * nothing to the queue and are still read, so a subscriber such as a ward display keeps its
 * session through a long pause (keepalive) and can connect and subscribe during one.
 */

import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage } from 'node:http';
import { type AddressInfo, createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { createServer as createTlsServer, type TLSSocket } from 'node:tls';
import { Aedes, type AedesPublishPacket, type AuthenticateError, type Client, type PublishPacket } from 'aedes';
import mqttPacket from 'mqtt-packet';
import { createWebSocketStream, WebSocketServer } from 'ws';
import type { Logger } from '../../logger.js';
import type { Events } from '../../metrics/events.js';
import { PendingCount } from '../../pending-count.js';
import type { PendingReading } from '../../reading.js';
import { steadyNow } from '../../steady-clock.js';
import { alarmPayload, alarmTopic } from './alarm.js';
import type { Authenticator, AuthFailure, Identity } from './auth.js';
import { type CommitQueue, HoldExpired } from './commit-queue.js';
import type { EmbeddedConfig } from './config.js';
import { FrameGuard } from './frame-guard.js';
import { boundInflightQos2 } from './inflight-qos2.js';
import { ConnectionLimiter, LoginLimiter, type LoginRefusal, sourceKey } from './login-limiter.js';
import type { MqttMetrics } from './metrics.js';
import { boundOfflineQueues } from './offline-queue.js';
import { PasswordThread } from './password-thread.js';
import { TokenBucket } from './rate-limit.js';
import type { MessageRouter } from './router.js';
import { SessionExpiry } from './session-expiry.js';
import { drainBeforeStop } from './stop-drain.js';
import { SubscriptionLimits } from './subscription-limits.js';
import { levelsMatch } from './topics.js';
import { VerifiedLogins } from './verified-logins.js';

export interface EmbeddedAddresses {
  tcp?: AddressInfo;
  tls?: AddressInfo;
  ws?: AddressInfo;
}

export interface EmbeddedBrokerDeps {
  config: EmbeddedConfig;
  authenticator: Authenticator;
  router: MessageRouter;
  queue: CommitQueue;
  events: Events;
  metrics: MqttMetrics;
  log: Logger;
  /** The clock of the rate and login limits (default steadyNow: a step of the wall clock must not empty a bucket for the step's length). */
  now?: () => number;
}

interface Session {
  identity: Identity;
  bucket: TokenBucket;
}

type Disconnect =
  | 'connection_limit'
  | 'source_connection_limit'
  | 'connection_rate'
  | 'packet_too_large'
  | 'malformed_packet'
  | 'auth_failed'
  | 'acl_publish'
  | 'rate_limit'
  | 'buffer_refused'
  | 'tls_handshake'
  | 'credentials_revoked'
  | 'slow_subscriber'
  | 'inflight_limit';

type BoundPersistence = Parameters<typeof boundOfflineQueues>[0] &
  Parameters<typeof boundInflightQos2>[0] &
  Parameters<SubscriptionLimits['wrap']>[0] &
  ConstructorParameters<typeof SessionExpiry>[0];

const RETURN_CODE: Record<AuthFailure, number> = { bad_credentials: 4, not_authorized: 5, bad_client_id: 2 };

export class EmbeddedBroker {
  private aedes: Aedes | null = null;
  private expiry: SessionExpiry | null = null;
  private readonly servers: { kind: keyof EmbeddedAddresses; server: NetServer }[] = [];
  private wss: WebSocketServer | null = null;
  private readonly sockets = new Set<Socket>();
  /** The stream aedes reads and writes of each connection (the TCP socket, the TLS socket or the WebSocket's stream). */
  private readonly conns = new Set<Duplex>();
  private readonly sessions = new WeakMap<Client, Session>();
  private readonly certificateCN = new WeakMap<object, string>();
  private readonly reserved: string[][];
  private readonly now: () => number;
  /** Remote address of WebSocket connections (the stream has none of its own). */
  private readonly remote = new WeakMap<object, string>();
  private readonly limiter: LoginLimiter;
  private readonly connections: ConnectionLimiter;
  /** Password checks run here, not on libuv's thread pool (which the WAL fsync needs). */
  readonly passwords = new PasswordThread();
  /** Credentials that passed a check: their next logins need neither the limiter nor scrypt (verified-logins.ts). */
  private readonly verified = new VerifiedLogins();
  /** Connections whose read was refused while the commit queue was over its bound. */
  private readonly stalled = new Set<Duplex>();
  private resumeRegistered = false;
  /** Stopping: QoS 1/2 messages are no longer taken (stop-drain.ts). */
  private stopping = false;
  /** Commits of QoS 1/2 messages under way (a stop waits for them). */
  private readonly committing = new PendingCount();
  /** Topic filters held, per client and in all (subscription-limits.ts). */
  private readonly subscriptions: SubscriptionLimits;

  constructor(private readonly deps: EmbeddedBrokerDeps) {
    this.now = deps.now ?? steadyNow;
    // Clients may not publish where the gateway echoes alarms, nor under wardgate/.
    this.reserved = [deps.config.alarms.topic.split('{bed}').join('+').split('/'), ['wardgate', '#']];
    this.limiter = new LoginLimiter(deps.config.limits.logins, this.now);
    const l = deps.config.limits;
    this.subscriptions = new SubscriptionLimits({ perClient: l.subscriptionsPerClient, total: l.subscriptions, maxFilterLength: l.maxFilterLength });
    this.connections = new ConnectionLimiter(
      { perSource: l.maxConnectionsPerSource, perSecond: l.connectionsPerSecondPerSource, burst: l.connectionBurstPerSource, maxTracked: l.logins.maxTracked },
      this.now,
    );
  }

  async start(): Promise<void> {
    const c = this.deps.config;
    // mqtt-packet writes packet ids from a table of 65,536 two-byte Buffers it builds at the first
    // packet it writes: 6 MiB of the heap for the process's life (a sixth of a ward gateway's live
    // heap), which every full GC walks. Its documented switch makes it write each id as it goes
    // (MQTT.js's writeCache: false sets the same; README, Performance).
    mqttPacket.writeToStream.cacheNumbers = false;
    const aedes = await Aedes.createBroker({
      connectTimeout: c.limits.connectTimeout,
      maxClientsIdLength: 128,
      authenticate: (client, username, password, done) => this.authenticate(client, username, password, done),
      authorizePublish: (client, packet, done) => this.authorizePublish(client, packet, done),
      authorizeSubscribe: (client, sub, done) => {
        const s = this.sessions.get(client);
        const refused = s?.identity.acl.canSubscribe(sub.topic) ? this.subscriptions.admit(client, sub) : 'acl_subscribe';
        if (!refused) return done(null, sub);
        this.deps.events.emit('device_error', { family: 'mqtt', reason: refused }, 1, { user: s?.identity.user });
        done(null, null); // SUBACK 0x80 for this filter; the client stays connected
      },
      authorizeForward: (client, packet) => this.authorizeForward(client, packet),
    });
    this.aedes = aedes;
    // aedes calls its persistence through broker.persistence (not in its type declarations): each bound wraps it in place.
    const persistence = (aedes as unknown as { persistence: BoundPersistence }).persistence;
    boundOfflineQueues(persistence, { perClient: c.limits.queuedPerSubscriber, totalBytes: c.limits.queuedBytes }, (n) =>
      this.deps.events.emit('device_error', { family: 'mqtt', reason: 'subscriber_queue_full' }, n),
    );
    boundInflightQos2(persistence, c.limits.inflightBytes, () => this.disconnected('inflight_limit'));
    this.subscriptions.wrap(persistence);
    const expiry = new SessionExpiry(
      persistence,
      { afterMs: c.limits.persistentSessionExpiry, maxAway: c.limits.awaySessions },
      (id) => (aedes as unknown as { clients: Record<string, unknown> }).clients[id] !== undefined,
      (dropped) => {
        this.deps.events.emit('device_error', { family: 'mqtt', reason: 'session_expired' }, 1);
        if (dropped > 0) this.deps.events.emit('device_error', { family: 'mqtt', reason: 'subscriber_queue_expired' }, dropped);
      },
      (e) => this.deps.log.warn({ err: e instanceof Error ? e.message : String(e) }, 'mqtt: ending a persistent session away too long failed'),
    );
    this.expiry = expiry;
    expiry.start();
    aedes.on('unsubscribe', (topics, client) => this.subscriptions.unsubscribed(client, topics));
    aedes.on('client', (client) => expiry.arrived(client.id));
    aedes.on('clientDisconnect', (client) => {
      this.subscriptions.disconnected(client);
      expiry.left(client);
    });
    aedes.on('clientError', (client, err) => this.deps.log.debug({ user: this.sessions.get(client)?.identity.user, err: err.message }, 'mqtt client error'));
    aedes.on('keepaliveTimeout', (client) => this.deps.log.info({ user: this.sessions.get(client)?.identity.user }, 'mqtt client keepalive timeout'));
    try {
      if (c.tcp)
        await this.listen(
          'tcp',
          createNetServer((sock) => this.accept(sock)),
          c.tcp.host,
          c.tcp.port,
        );
      if (c.tls) await this.startTls(c.tls);
      if (c.ws) await this.startWs(c.ws);
    } catch (e) {
      await this.stop();
      throw e;
    }
  }

  addresses(): EmbeddedAddresses {
    const out: EmbeddedAddresses = {};
    for (const s of this.servers) {
      const a = s.server.address();
      if (a && typeof a === 'object') out[s.kind] = a;
    }
    return out;
  }

  connectedClients(): number {
    return this.aedes?.connectedClients ?? 0;
  }

  /**
   * New users (SIGHUP): new logins are checked against them at once, and every connected
   * client whose user was removed or changed (password hash or ACL), or an anonymous one whose
   * anonymous ACL changed, is disconnected: a revoked credential keeps no open session.
   * Returns how many clients were disconnected.
   */
  setAuthenticator(next: Authenticator): number {
    const previous = this.deps.authenticator;
    this.deps.authenticator = next;
    const a = this.aedes;
    if (!a) return 0;
    let closed = 0;
    // aedes keeps its connected clients by id (not in its type declarations).
    for (const client of Object.values((a as unknown as { clients: Record<string, Client> }).clients)) {
      const s = this.sessions.get(client);
      if (!s || next.stillGrants(previous, s.identity)) continue;
      closed++;
      this.disconnected('credentials_revoked', { user: s.identity.user });
      client.close();
    }
    return closed;
  }

  /** Publishes an alarm on the local alarm topic of its bed. Never throws. */
  publishAlarm(r: PendingReading): void {
    const a = this.aedes;
    const cfg = this.deps.config.alarms;
    if (!a || a.closed || !cfg.enabled) return;
    const packet: PublishPacket = {
      cmd: 'publish',
      topic: alarmTopic(cfg.topic, r.bed),
      payload: alarmPayload(r),
      qos: cfg.qos,
      retain: cfg.retain,
      dup: false,
    };
    try {
      a.publish(packet, (err) => {
        if (err) this.deps.events.emit('device_error', { family: 'mqtt', reason: 'alarm_echo' }, 1, { error: err.message });
      });
    } catch (e) {
      this.deps.events.emit('device_error', { family: 'mqtt', reason: 'alarm_echo' }, 1, { error: String(e) });
    }
  }

  async stop(): Promise<void> {
    this.stopping = true;
    const closing = this.servers.map((s) => new Promise<void>((r) => s.server.close(() => r())));
    this.wss?.close();
    this.wss = null;
    this.expiry?.stop();
    this.expiry = null;
    // The PUBACKs of what was taken go out before the connections close (stop-drain.ts); each
    // connection is then ended after what it has written (its TLS or WebSocket stream, then a
    // FIN; destroying the socket could drop what Node has not yet written).
    await drainBeforeStop(
      () => this.committing.whenZero(),
      () => this.deps.queue.isRefusing(),
    );
    await endStreams(this.conns);
    for (const sock of this.sockets) sock.destroy();
    this.stalled.clear();
    const a = this.aedes;
    this.aedes = null;
    if (a) await new Promise<void>((r) => a.close(() => r()));
    await Promise.all(closing);
    await this.passwords.close();
    this.servers.length = 0;
  }

  // ---- listeners ----

  private listen(kind: keyof EmbeddedAddresses, server: NetServer, host: string, port: number): Promise<void> {
    // Before the listener's own handler: a refused connection never reaches aedes or TLS.
    server.prependListener('connection', (sock: Socket) => this.track(sock));
    this.servers.push({ kind, server });
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        server.on('error', (e) => this.deps.events.emit('device_error', { family: 'mqtt', reason: `${kind}_listener` }, 1, { error: e.message }));
        resolve();
      });
    });
  }

  private async startTls(t: NonNullable<EmbeddedConfig['tls']>): Promise<void> {
    const server = createTlsServer({
      cert: readFileSync(t.cert),
      key: readFileSync(t.key),
      ...(t.ca !== undefined ? { ca: readFileSync(t.ca) } : {}),
      requestCert: t.clientCertificates !== 'off',
      rejectUnauthorized: t.clientCertificates === 'required',
      minVersion: t.minVersion,
    });
    server.on('secureConnection', (sock: TLSSocket) => {
      if (sock.authorized) {
        const cn = sock.getPeerCertificate()?.subject?.CN;
        if (typeof cn === 'string' && cn.length > 0) this.certificateCN.set(sock, cn);
      }
      this.accept(sock);
    });
    server.on('tlsClientError', (err) => this.disconnected('tls_handshake', { error: err.message }));
    await this.listen('tls', server, t.host, t.port);
  }

  private async startWs(w: NonNullable<EmbeddedConfig['ws']>): Promise<void> {
    const http = createHttpServer((_req, res) => {
      res.writeHead(404).end();
    });
    const wss = new WebSocketServer({ server: http, path: w.path, maxPayload: this.deps.config.limits.maxPacketBytes + 5 });
    wss.on('error', () => undefined); // the http server's errors, re-emitted; handled in listen()
    wss.on('connection', (ws, req: IncomingMessage) => {
      const stream = createWebSocketStream(ws);
      if (req.socket.remoteAddress !== undefined) this.remote.set(stream, req.socket.remoteAddress);
      stream.on('error', () => ws.terminate());
      this.accept(stream, req);
    });
    this.wss = wss;
    await this.listen('ws', http, w.host, w.port);
  }

  /** Every raw socket of every listener: counted against the connection limit, closed at stop. */
  private track(sock: Socket): void {
    if (this.sockets.size >= this.deps.config.limits.maxConnections) {
      this.disconnected('connection_limit');
      sock.destroy();
      return;
    }
    const admitted = this.connections.admit(sourceKey(sock.remoteAddress));
    if (typeof admitted === 'string') {
      this.disconnected(admitted, { source: sock.remoteAddress });
      sock.destroy();
      return;
    }
    this.sockets.add(sock);
    sock.once('close', () => {
      this.sockets.delete(sock);
      admitted();
    });
  }

  /** Hands a connection to aedes behind a guard that stops oversized packets at their header. */
  private accept(conn: Duplex, req?: IncomingMessage): void {
    if (conn.destroyed || !this.aedes) return;
    const guard = new FrameGuard(this.deps.config.limits.maxPacketBytes);
    const read = conn.read.bind(conn);
    const checked = (buf: Uint8Array): Uint8Array | null => {
      const v = guard.feed(buf);
      if (v === 'ok') return buf;
      this.disconnected(v === 'too_large' ? 'packet_too_large' : 'malformed_packet');
      conn.destroy();
      return null;
    };
    conn.read = (size?: number): unknown => {
      if (this.deps.queue.overBound()) {
        // Not a PUBLISH more; what comes before the next one is still read (see the top).
        if (this.stalled.has(conn)) return null;
        const buf: unknown = read(size);
        if (!(buf instanceof Uint8Array)) return buf;
        const at = guard.firstPublish(buf);
        if (at < 0) return checked(buf);
        conn.unshift(buf.subarray(at));
        this.stall(conn);
        return at === 0 ? null : checked(buf.subarray(0, at));
      }
      this.stalled.delete(conn);
      const buf: unknown = read(size);
      return buf instanceof Uint8Array ? checked(buf) : buf;
    };
    this.conns.add(conn);
    conn.once('close', () => this.conns.delete(conn));
    this.aedes.handle(conn, req);
  }

  /** Reads `conn` again once the commit queue is under its bound (see the top). */
  private stall(conn: Duplex): void {
    this.stalled.add(conn); // at most maxConnections; a closed one is skipped and dropped at release
    if (this.resumeRegistered) return;
    this.resumeRegistered = true;
    this.deps.queue.whenBelow(() => {
      this.resumeRegistered = false;
      const conns = [...this.stalled];
      this.stalled.clear();
      // aedes reads on 'readable' (lib/client.js, nextBatch): this is the read it was
      // refused (a spurious one only finds nothing new, or what the read gate lets through).
      for (const c of conns) if (!c.destroyed) c.emit('readable');
    });
  }

  // ---- hooks ----

  /**
   * Logins. A login that needs a password check is first admitted by the limiter (per source
   * address and in all, at once and per second, backoff after failures: login-limiter.ts);
   * a refused one costs no check and gets CONNACK 3 (server unavailable: try later). The
   * check runs on the password thread. Every failed or refused login is counted per reason
   * (login_failed) and logged, rate-limited, with its source address and username; never
   * with the password.
   */
  private authenticate(
    client: Client,
    username: string | undefined,
    password: Buffer | undefined,
    done: (error: AuthenticateError | null, success: boolean | null) => void,
  ): void {
    const conn = client.conn as Duplex & { remoteAddress?: string };
    const address = this.remote.get(conn) ?? conn.remoteAddress;
    const source = sourceKey(address);
    const cn = this.certificateCN.get(conn);
    const creds = {
      clientId: client.id,
      ...(username !== undefined ? { username } : {}),
      ...(password !== undefined ? { password } : {}),
      ...(cn !== undefined ? { certificateCN: cn } : {}),
    };
    const refuse = (reason: LoginRefusal | AuthFailure | 'auth_error', returnCode: number): void => {
      this.deps.events.emit('login_failed', { family: 'mqtt', reason }, 1, { source: address ?? 'unknown', username: printable(username) });
      this.disconnected('auth_failed', { why: reason });
      const e = new Error(`authentication failed: ${reason}`) as AuthenticateError;
      e.returnCode = returnCode;
      done(e, false);
    };
    const checked = this.deps.authenticator.needsPasswordCheck(creds);
    // A sensor that logged in with this very password before is let through without a check
    // (a flood, or a starved password thread, must not lock it out); any other login is limited.
    const known = checked && username !== undefined && password !== undefined && this.knownLogin(username, password);
    const ticket = checked && !known ? this.limiter.admit(source, username ?? '') : null;
    if (typeof ticket === 'string') {
      refuse(ticket, 3);
      return;
    }
    const authenticator = this.deps.authenticator;
    authenticator.authenticate(creds, this.verifyFor(username)).then(
      (r) => {
        // The users were reloaded while the password was checked: the new ones must grant it too.
        if (typeof r !== 'string' && this.deps.authenticator !== authenticator && !this.deps.authenticator.stillGrants(authenticator, r)) r = 'not_authorized';
        if (typeof r === 'string') {
          // Only a wrong password counts towards the backoff (a login with no check costs nothing).
          ticket?.done(r === 'bad_credentials' ? 'failed' : 'error');
          return refuse(r, RETURN_CODE[r]);
        }
        ticket?.done('ok');
        const l = this.deps.config.limits;
        this.sessions.set(client, { identity: r, bucket: new TokenBucket(l.messagesPerSecond, l.burst, this.now()) });
        done(null, true);
      },
      (err: unknown) => {
        ticket?.done('error');
        this.deps.events.emit('device_error', { family: 'mqtt', reason: 'auth_error' }, 1, { error: String(err) });
        refuse('auth_error', 3);
      },
    );
  }

  private knownLogin(username: string, password: Buffer): boolean {
    const encoded = this.deps.authenticator.passwordHashOf(username);
    return encoded !== undefined && this.verified.matches(username, password, encoded);
  }

  /** The password check for one login: a remembered credential, or scrypt on the password thread (remembered when right). */
  private verifyFor(username: string | undefined): (password: Buffer, encoded: string) => Promise<boolean> {
    return async (password, encoded) => {
      if (username !== undefined && this.verified.matches(username, password, encoded)) return true;
      const ok = await this.passwords.verify(password, encoded);
      if (ok && username !== undefined) this.verified.remember(username, password, encoded);
      return ok;
    };
  }

  /**
   * A subscriber that does not read what it is sent (a frozen display, a paused socket) is dropped
   * once more than limits.subscriberBacklogBytes wait in its socket's write buffer. Otherwise the
   * buffer grew, aedes waited for writes that never completed, its message queue grew behind
   * them, and working that queue off overflowed the stack: the gateway crashed (probed: one paused
   * subscriber to ward/#, 12,000 messages of 30 KB published).
   */
  private authorizeForward(client: Client, packet: AedesPublishPacket): AedesPublishPacket | null {
    const conn = client.conn as Duplex | undefined;
    if (!conn || conn.writableLength <= this.deps.config.limits.subscriberBacklogBytes) return packet;
    if (!conn.destroyed) {
      this.disconnected('slow_subscriber', { user: this.sessions.get(client)?.identity.user, waitingBytes: conn.writableLength });
      conn.destroy();
    }
    return null;
  }

  private authorizePublish(client: Client | null, packet: PublishPacket, done: (error?: Error | null) => void): void {
    // Delivered, never kept: aedes would hold a retained message per topic in memory for ever, and
    // a client that publishes retained messages on topics of its own making would grow it without
    // bound (probed: 7,600 of 60 KB, RSS 550 MB). The gateway's own alarm echo may still retain.
    if (packet.retain) {
      packet.retain = false;
      this.deps.metrics.retainIgnored.inc();
    }
    if (!client) {
      done(null); // broker-internal (stored wills)
      return;
    }
    const s = this.sessions.get(client);
    const levels = packet.topic.split('/');
    if (!s || packet.topic.startsWith('$') || this.isReserved(levels) || !s.identity.acl.canPublish(levels)) {
      this.disconnected('acl_publish', { user: s?.identity.user });
      done(new Error('not authorized to publish here'));
      return;
    }
    // A will message (published by the broker when the client drops): authorised, not a reading.
    if (packet.cmd !== 'publish') {
      done(null);
      return;
    }
    // Stopping: not taken, never acknowledged (aedes reads nothing more from this connection);
    // the sensor sends it again when it reconnects.
    if (this.stopping && packet.qos > 0) return;
    const now = this.now();
    if (!s.bucket.take(now)) {
      this.disconnected('rate_limit', { user: s.identity.user });
      done(new Error('message rate limit exceeded'));
      return;
    }
    const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
    // The wall clock for the readings (a SenML relative time counts from it); the limits keep their steady clock.
    const inputs = this.deps.router.route('embedded', packet.topic, payload, Date.now(), levels);
    const qos = packet.qos;
    const metrics = this.deps.metrics;
    if (!inputs) {
      // Did not decode: counted by the router. Acknowledged so the sensor does not resend it forever.
      metrics.outcome('embedded', qos, 'rejected');
      done(null);
      return;
    }
    if (qos === 0) {
      done(null);
      this.deps.queue.offer(inputs, (err, ok) => metrics.outcome('embedded', 0, err ? 'abandoned' : ok ? 'committed' : 'refused'), payload.length);
      return;
    }
    this.committing.add();
    this.deps.queue.commit(
      inputs,
      client,
      (err, committed) => {
        this.committing.done();
        if (err) {
          // Refused for longer than maxHold, or stopping: no PUBACK; the connection is dropped
          // and the sensor resends when it is back.
          metrics.outcome('embedded', qos, 'refused');
          if (err instanceof HoldExpired) this.disconnected('buffer_refused', { user: s.identity.user });
          if (!client.closed) done(err);
          return;
        }
        metrics.outcome('embedded', qos, committed ? 'committed' : 'abandoned');
        if (committed && !client.closed) done(null); // -> PUBACK (QoS 1) / PUBREC (QoS 2)
      },
      payload.length,
    );
  }

  private isReserved(levels: readonly string[]): boolean {
    for (const r of this.reserved) if (levelsMatch(r, levels)) return true;
    return false;
  }

  private disconnected(reason: Disconnect, detail?: Record<string, unknown>): void {
    this.deps.events.emit('client_disconnected', { family: 'mqtt', reason }, 1, detail);
  }
}

/** A username as it may be logged: printable, at most 64 characters. */
function printable(username: string | undefined): string | undefined {
  if (username === undefined) return undefined;
  const s = username.replace(/[^\x20-\x7e]/g, '?');
  return s.length > 64 ? `${s.slice(0, 64)}...` : s;
}

/** How long a connection ended at stop may take to close before it is destroyed. */
const END_MS = 1000;

/** Ends each stream (what it has written, then its close) and destroys those still open after END_MS. */
async function endStreams(streams: ReadonlySet<Duplex>): Promise<void> {
  const open = [...streams].filter((s) => !s.destroyed);
  const closed = open.map((s) => new Promise<void>((r) => s.once('close', () => r())));
  for (const s of open) s.end();
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([Promise.all(closed), new Promise<void>((r) => (timer = setTimeout(r, END_MS)))]);
  clearTimeout(timer);
  for (const s of open) s.destroy();
}
