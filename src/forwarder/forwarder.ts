/**
 * Moves readings from the buffer into Kafka: lease the highest-priority oldest batch,
 * send it with acks=all, and only then ack it out of the buffer. On failure the lease is
 * released (nothing leaves the buffer) and the loop backs off; readings keep buffering.
 */
import type { ReadingBuffer, Lease } from '../buffer/types.js';
import type { Logger } from '../logger.js';
import type { Events } from '../metrics/events.js';
import { KafkaClientError, type KafkaClient } from './client.js';
import { allTopics, routeLease, type RoutingOptions } from './routing.js';
import { backoffDelay, KAFKA_STATES, type ForwarderStatus, type KafkaState } from './state.js';

export interface ForwarderOptions {
  routing: RoutingOptions;
  createTopics: boolean;
  batchMaxReadings: number;
  batchMaxBytes: number;
  sendTimeoutMs: number;
  connectTimeoutMs: number;
  retryInitialMs: number;
  retryMaxMs: number;
  /** After this many consecutive failures the state is offline (before: degraded). */
  offlineAfterFailures?: number;
  now?: () => number;
}

export class Forwarder {
  private stopping = false;
  private loopDone: Promise<void> | null = null;
  private wake: (() => void) | null = null;
  private readonly unsubscribe: () => void;
  private topicsReady = false;
  private readonly now: () => number;
  private readonly st: ForwarderStatus;

  constructor(
    private readonly buffer: ReadingBuffer,
    private readonly client: KafkaClient,
    private readonly opts: ForwarderOptions,
    private readonly events: Events,
    private readonly log: Logger,
  ) {
    this.now = opts.now ?? Date.now;
    this.st = {
      state: 'offline',
      reason: 'starting',
      since: this.now(),
      lastSuccessAt: null,
      lastFailureAt: null,
      offlineSince: this.now(),
      consecutiveFailures: 0,
      forwarded: 0,
      inFlight: 0,
      configError: null,
    };
    this.unsubscribe = buffer.onCommit(() => this.poke());
    this.publishState();
  }

  start(): void {
    if (!this.loopDone) this.loopDone = this.loop();
  }

  status(): ForwarderStatus {
    return { ...this.st };
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

  async stop(): Promise<void> {
    this.stopping = true;
    this.poke();
    await this.loopDone;
    this.unsubscribe();
    await this.client.close(2000);
  }

  private poke(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  /** Sleeps until poked (new data, stop) or ms elapse. */
  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => { this.wake = null; resolve(); }, ms);
      this.wake = () => { clearTimeout(t); resolve(); };
    });
  }

  private setState(state: KafkaState, reason: string): void {
    if (this.st.state === state && this.st.reason === reason) return;
    const from = this.st.state;
    this.st.state = state;
    this.st.reason = reason;
    this.st.since = this.now();
    if (state === 'online' || state === 'draining') this.st.offlineSince = null;
    else if (this.st.offlineSince === null) this.st.offlineSince = this.st.lastSuccessAt ?? this.now();
    const level = state === 'offline' ? 'warn' : 'info';
    this.log[level]({ from, to: state, reason }, `kafka ${state}`);
    this.publishState();
  }

  private publishState(): void {
    for (const s of KAFKA_STATES) this.events.gauges.kafkaState.set({ state: s }, s === this.st.state ? 1 : 0);
    this.events.gauges.offlineSeconds.set(this.st.offlineSince === null ? 0 : (this.now() - this.st.offlineSince) / 1000);
  }

  private async loop(): Promise<void> {
    while (!this.stopping) {
      try {
        if (!this.topicsReady) {
          await this.client.ensureTopics(allTopics(this.opts.routing), this.opts.createTopics, this.opts.connectTimeoutMs);
          await this.client.connect(this.opts.connectTimeoutMs);
          this.topicsReady = true;
          this.st.configError = null;
        }
        const lease = this.buffer.lease({ maxReadings: this.opts.batchMaxReadings, maxBytes: this.opts.batchMaxBytes });
        if (!lease) {
          if (this.st.consecutiveFailures === 0) this.setState('online', 'idle');
          this.publishState();
          await this.sleep(1000);
          continue;
        }
        await this.sendLease(lease);
      } catch (e) {
        if (this.stopping) break;
        await this.onFailure(e);
      }
    }
  }

  private async sendLease(lease: Lease): Promise<void> {
    const batches = routeLease(lease, this.opts.routing);
    this.st.inFlight = lease.readings.length;
    this.events.gauges.inFlight.set(lease.readings.length);
    try {
      await this.client.send(batches, this.opts.sendTimeoutMs);
    } catch (e) {
      this.buffer.release(lease.id);
      throw e;
    } finally {
      this.st.inFlight = 0;
      this.events.gauges.inFlight.set(0);
    }
    this.buffer.ack(lease.id);
    const n = lease.readings.length;
    this.st.forwarded += n;
    this.st.lastSuccessAt = this.now();
    this.st.consecutiveFailures = 0;
    this.events.forwarded.inc({ class: lease.priority }, n);
    const backlog = this.buffer.stats().totalReadings;
    this.setState(backlog > this.opts.batchMaxReadings ? 'draining' : 'online', backlog > this.opts.batchMaxReadings ? 'backlog' : 'acknowledged');
  }

  private async onFailure(e: unknown): Promise<void> {
    const kind = e instanceof KafkaClientError ? e.kind : 'transient';
    const message = e instanceof Error ? e.message : String(e);
    this.st.consecutiveFailures++;
    this.st.lastFailureAt = this.now();
    let delay: number;
    if (kind === 'config') {
      // An operator must act: say so once per distinct error, retry slowly, keep buffering.
      if (this.st.configError !== message) this.events.emit('kafka_config_error', { reason: message.slice(0, 80) }, 1, { error: message });
      this.st.configError = message;
      this.topicsReady = false;
      this.setState('offline', `config_error: ${message}`);
      delay = this.opts.retryMaxMs;
    } else {
      this.events.emit('kafka_send_failed', { kind }, 1, { error: message });
      this.topicsReady = this.topicsReady && kind === 'transient';
      const offlineAfter = this.opts.offlineAfterFailures ?? 2;
      this.setState(this.st.consecutiveFailures >= offlineAfter ? 'offline' : 'degraded', `${kind}: ${message}`);
      delay = backoffDelay(this.st.consecutiveFailures - 1, this.opts.retryInitialMs, this.opts.retryMaxMs);
    }
    this.publishState();
    // Sleep without waking on new data: the backoff must hold even while readings arrive.
    const until = this.now() + delay;
    while (!this.stopping && this.now() < until) {
      await new Promise((r) => setTimeout(r, Math.min(200, until - this.now())));
    }
  }
}
