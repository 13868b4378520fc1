/**
 * The MQTT device adapter: one embedded broker (optional), any number of external broker
 * subscriptions, one set of topic rules, one commit queue in front of the sink. Also the
 * local alarm echo (`publishAlarm`) on the embedded broker.
 */
import type { PendingReading } from '../../reading.js';
import type { AdapterContext, AdapterStatus, DeviceAdapter, ReadingReceiver } from '../types.js';
import { Authenticator } from './auth.js';
import { CommitQueue } from './commit-queue.js';
import type { MqttConfig, UserConfig } from './config.js';
import { type EmbeddedAddresses, EmbeddedBroker } from './embedded-broker.js';
import { ExternalSubscriber } from './external.js';
import { compileRules } from './mapping.js';
import { mqttMetrics } from './metrics.js';
import { MessageRouter } from './router.js';
import { drainBeforeStop } from './stop-drain.js';
import { readUsersFile } from './users-file.js';

export class MqttAdapter implements DeviceAdapter {
  readonly family = 'mqtt';
  private state: AdapterStatus['state'] = 'stopped';
  private embedded: EmbeddedBroker | null = null;
  private externals: ExternalSubscriber[] = [];
  private queue: CommitQueue | null = null;
  private router: MessageRouter | null = null;

  constructor(private config: MqttConfig) {}

  async start(ctx: AdapterContext): Promise<void> {
    if (this.state !== 'stopped') throw new Error('the MQTT adapter is already started');
    this.state = 'starting';
    const c = this.config;
    const metrics = mqttMetrics(ctx.events.registry);
    const queue = new CommitQueue(ctx.sink, {
      maxHoldMs: c.ack.maxHold,
      retryInitialMs: c.ack.retryInitial,
      retryMaxMs: c.ack.retryMax,
      maxBatch: c.ack.maxBatch,
      maxPendingReadings: c.ack.maxPending,
      maxPendingBytes: c.ack.maxPendingBytes,
      onPressure: (over, readings, bytes) => {
        if (over) ctx.events.emit('source_paused', { family: 'mqtt' }, 1, { pendingReadings: readings, pendingBytes: bytes });
      },
      onRefusing: (refusing, error) => {
        if (refusing)
          ctx.log.warn(
            { error: error instanceof Error ? error.message : String(error) },
            'buffer refuses MQTT readings: QoS 1 messages are held without PUBACK',
          );
        else ctx.log.info('buffer accepts MQTT readings again');
      },
      onDropped: (reason, readings) => ctx.events.emit('reading_refused', { reason: `mqtt_qos0_${reason}` }, readings),
    });
    this.queue = queue;
    const router = new MessageRouter(compileRules(c.rules), ctx.events, metrics);
    this.router = router;
    try {
      if (c.embedded) {
        const e = c.embedded;
        const users = configuredUsers(e);
        const embedded = new EmbeddedBroker({
          config: e,
          authenticator: new Authenticator(users, e.auth.anonymous),
          router,
          queue,
          events: ctx.events,
          metrics,
          log: ctx.log.child({ part: 'embedded' }),
        });
        this.embedded = embedded;
        await embedded.start();
        ctx.log.info({ listeners: embedded.addresses(), users: users.length }, 'embedded MQTT broker listening');
      }
      for (const x of c.external) {
        const sub = new ExternalSubscriber({ config: x, router, queue, events: ctx.events, metrics, log: ctx.log.child({ part: 'external', broker: x.name }) });
        this.externals.push(sub);
        sub.start();
      }
    } catch (e) {
      await this.stop();
      throw e;
    }
    this.state = 'running';
  }

  async stop(): Promise<void> {
    const externals = this.externals;
    this.externals = [];
    await Promise.all(externals.map((x) => x.stop()));
    const embedded = this.embedded;
    this.embedded = null;
    await embedded?.stop();
    // No message comes in now: what the queue took (QoS 0 too, whose senders never resend) goes
    // to the buffer first, for at most the same drain (stop-drain.ts); the rest is dropped, counted.
    const queue = this.queue;
    if (queue)
      await drainBeforeStop(
        () => queue.whenSettled(),
        () => queue.isRefusing(),
      );
    queue?.close();
    this.queue = null;
    this.router = null;
    this.state = 'stopped';
  }

  /**
   * SIGHUP: applies `next` without dropping a connection when only the topic rules and the
   * embedded broker's users (its users file read again) differ: messages routed from now on use
   * the new rules, new logins the new users, and sessions of removed or changed users are
   * disconnected (EmbeddedBroker.setAuthenticator). Returns false, changing nothing, when
   * anything else differs: the adapter must then be stopped and started with `next`.
   */
  reconfigure(next: MqttConfig): boolean {
    const rest = (c: MqttConfig) => JSON.stringify({ ...c, rules: [], embedded: c.embedded && { ...c.embedded, auth: null } });
    if (this.state !== 'running' || !this.router || rest(this.config) !== rest(next)) return false;
    const users = next.embedded ? configuredUsers(next.embedded) : [];
    this.router.setRules(compileRules(next.rules));
    if (this.embedded && next.embedded) this.embedded.setAuthenticator(new Authenticator(users, next.embedded.auth.anonymous));
    this.config = next;
    return true;
  }

  status(): AdapterStatus {
    const ext = this.externals.map((x) => x.status());
    const clients = this.embedded?.connectedClients() ?? 0;
    const refusing = this.queue?.isRefusing() ?? false;
    const down = ext.filter((x) => !x.connected);
    const parts: string[] = [];
    if (this.embedded) parts.push(`embedded: ${clients} clients`);
    for (const x of ext) parts.push(`${x.name}: ${x.connected ? 'connected' : 'disconnected'}`);
    if (refusing) parts.push(`buffer refusing, ${this.queue?.pending() ?? 0} messages held`);
    if (this.queue?.overBound()) parts.push(`not reading: ${this.queue.pendingReadings()} readings waiting for their commit`);
    const state = this.state === 'running' && (refusing || down.length > 0) ? 'degraded' : this.state;
    return { state, devices: clients, detail: parts.join('; ') };
  }

  /** Bound listener addresses (port 0 in config means "any free port"). */
  addresses(): EmbeddedAddresses {
    return this.embedded?.addresses() ?? {};
  }

  /**
   * Local alarm echo: publishes a small JSON (no patient id) on the alarm topic of the
   * reading's bed (default wardgate/alarms/{bed}) of the embedded broker. No-op without one.
   * Meant for Ingest's `onAlarm` hook; never throws.
   */
  publishAlarm(r: PendingReading): void {
    this.embedded?.publishAlarm(r);
  }

  /** The local alarm echo, registered with the pipeline at start-up. */
  receivers(): readonly ReadingReceiver[] {
    return [{ name: 'mqtt-alarm-echo', classes: ['alarm'], receive: (r) => this.publishAlarm(r) }];
  }
}

/** The embedded broker's users: those of the configuration, then those of its users file (read now). */
function configuredUsers(e: NonNullable<MqttConfig['embedded']>): UserConfig[] {
  return [...e.auth.users, ...(e.auth.usersFile !== undefined ? readUsersFile(e.auth.usersFile) : [])];
}
