/**
 * Connectivity state of the forwarder, with the reason, as operators see it in
 * `wardgate status`, metrics and logs.
 *   online   - Kafka acknowledges and the backlog fits in one batch
 *   draining - Kafka acknowledges and a backlog is being worked off (after an outage, or
 *              while readings arrive faster than the link or the rate cap lets them out)
 *   degraded - a send failed (error or timeout) since the last acknowledgement; retrying
 *              with backoff, not yet offline; or the cluster answers but refuses writes
 *              (fewer in-sync replicas than required, no leader: reason starts with
 *              `refused:`), however long that lasts; or Kafka acknowledges but its metadata
 *              lists fewer brokers than expected (reason `brokers: 2 of 3`): the drain goes on
 *   offline  - Kafka unreachable (`offlineAfter` failures in a row, the first connection not
 *              made yet), or refusing for a configuration reason (authentication, ACL, missing
 *              topic: reason starts with `config_error:`); readings keep buffering
 */
export const KAFKA_STATES = ['online', 'draining', 'degraded', 'offline'] as const;
export type KafkaState = (typeof KAFKA_STATES)[number];

export interface ForwarderStatus {
  state: KafkaState;
  reason: string;
  since: number;
  lastSuccessAt: number | null;
  lastFailureAt: number | null;
  /** When Kafka was last reachable before the current outage (null while online or draining). */
  offlineSince: number | null;
  consecutiveFailures: number;
  /** Readings acknowledged by Kafka since start. */
  forwarded: number;
  /** Readings sent and not yet acknowledged (all lanes). */
  inFlight: number;
  configError: string | null;
  /** The cluster's last metadata check: brokers it listed, brokers expected (bootstrap list, or most listed at once). */
  cluster?: { brokers: number; expected: number; checkedAt: number } | null;
  /** Readings acknowledged per second, over the last few seconds. */
  drainRate?: number;
  /** Readings waiting in the buffer, not leased. */
  backlog?: number;
  /** Readings of sends that failed after they may have reached Kafka (timeouts, dropped connections): they were sent again and may be duplicated downstream. */
  unknownFate?: number;
  /** Next attempt after a failure (ms since the epoch), or null. */
  retryAt?: number | null;
  /** Set when a rate cap is configured: the cap, and whether it is holding sends back right now. */
  rateCap?: { readingsPerSecond: number | null; bytesPerSecond: number | null; limiting: boolean } | null;
}

/** Exponential backoff with jitter between half and all of the capped delay. */
export function backoffDelay(attempt: number, initialMs: number, maxMs: number, random: () => number = Math.random): number {
  const capped = Math.min(maxMs, initialMs * 2 ** Math.min(attempt, 30));
  return Math.round(capped * (0.5 + random() * 0.5));
}

export type FailureKind = 'transient' | 'timeout' | 'fatal' | 'config' | 'refused';

export interface Transition {
  from: KafkaState;
  to: KafkaState;
  reason: string;
}

/**
 * The state machine alone (no I/O): fed with successes and failures, it says which state
 * the forwarder is in, why, and how long to wait before the next attempt.
 */
export class ConnectivityState {
  private s: { state: KafkaState; reason: string; since: number };
  /** Kafka last acknowledged a batch. */
  lastSuccessAt: number | null = null;
  /** Kafka last answered anything: an acknowledgement, a connect, an idle metadata probe. */
  lastContactAt: number | null = null;
  lastFailureAt: number | null = null;
  offlineSince: number | null;
  consecutiveFailures = 0;
  /** Failures since Kafka last refused a write (it answered): fewer than offlineAfter keeps the state degraded. */
  private failuresSinceRefusal = Infinity;
  configError: string | null = null;
  /** Set while the cluster's metadata lists fewer brokers than expected (`brokers: 2 of 3`). */
  private shortOfBrokers: string | null = null;

  constructor(
    private readonly opts: { offlineAfter: number; retryInitialMs: number; retryMaxMs: number; random?: () => number },
    private readonly now: () => number,
  ) {
    this.s = { state: 'offline', reason: 'starting', since: now() };
    this.offlineSince = now();
  }

  get state(): KafkaState {
    return this.s.state;
  }

  get reason(): string {
    return this.s.reason;
  }

  get since(): number {
    return this.s.since;
  }

  /** Seconds since Kafka was last reachable, 0 while online or draining. */
  offlineSeconds(): number {
    return this.offlineSince === null ? 0 : Math.max(0, this.now() - this.offlineSince) / 1000;
  }

  /** `acking`: Kafka acknowledges (a degraded cluster that still takes writes is not an outage). */
  private set(state: KafkaState, reason: string, acking = false): Transition | null {
    if (this.s.state === state && this.s.reason === reason) return null;
    const from = this.s.state;
    this.s = { state, reason, since: this.s.state === state ? this.s.since : this.now() };
    if (state === 'online' || state === 'draining' || acking) this.offlineSince = null;
    else if (this.offlineSince === null) this.offlineSince = this.lastContactAt ?? this.now();
    return { from, to: state, reason };
  }

  /**
   * Kafka acknowledged a batch (`forwarded`), or answered a connect or probe. `backlogged` =
   * more than one batch still waits.
   */
  success(backlogged: boolean, reason = 'acknowledged', forwarded = true): Transition | null {
    if (forwarded) this.lastSuccessAt = this.now();
    this.lastContactAt = this.now();
    this.consecutiveFailures = 0;
    this.failuresSinceRefusal = Infinity;
    this.configError = null;
    return this.healthy(backlogged, reason);
  }

  /** The backlog changed (or emptied) while sends keep succeeding. */
  backlog(backlogged: boolean): Transition | null {
    if (this.consecutiveFailures > 0 || this.lastContactAt === null) return null;
    return this.healthy(backlogged, 'acknowledged');
  }

  /**
   * The cluster's metadata was read: `short` is the reason while it lists fewer brokers than
   * expected (`brokers: 2 of 3`), null when it lists them all. It shows while sends succeed; a
   * failed send's reason takes its place until the next acknowledgement.
   */
  cluster(short: string | null, backlogged: boolean): Transition | null {
    this.shortOfBrokers = short;
    return this.backlog(backlogged);
  }

  /** Kafka acknowledges: online or draining, or degraded while the cluster is short of brokers. */
  private healthy(backlogged: boolean, reason: string): Transition | null {
    if (this.shortOfBrokers !== null) return this.set('degraded', this.shortOfBrokers, true);
    return this.set(backlogged ? 'draining' : 'online', backlogged ? 'backlog' : reason);
  }

  /**
   * A send, connect or topic check failed. Returns the transition (if any) and the delay
   * before the next attempt: exponential with jitter for transient failures, the cap for
   * configuration errors (an operator must act; retrying faster only fills the logs).
   */
  failure(kind: FailureKind, message: string): { transition: Transition | null; delayMs: number } {
    this.consecutiveFailures++;
    this.lastFailureAt = this.now();
    if (kind === 'config') {
      this.configError = message;
      return { transition: this.set('offline', `config_error: ${message}`), delayMs: this.opts.retryMaxMs };
    }
    this.configError = null;
    if (kind === 'refused') {
      // Kafka answered: reachable, but not taking writes.
      this.lastContactAt = this.now();
      this.failuresSinceRefusal = 0;
    } else this.failuresSinceRefusal++;
    const refusedLately = this.failuresSinceRefusal < this.opts.offlineAfter;
    const state: KafkaState = !refusedLately && (this.consecutiveFailures >= this.opts.offlineAfter || this.lastContactAt === null) ? 'offline' : 'degraded';
    return {
      transition: this.set(state, `${kind}: ${message}`),
      delayMs: backoffDelay(this.consecutiveFailures - 1, this.opts.retryInitialMs, this.opts.retryMaxMs, this.opts.random),
    };
  }
}

/** Events per second over a sliding window of whole seconds (for the drain-rate gauge). */
export class RateMeter {
  private readonly buckets: number[];
  private head = 0;
  private headSecond: number;

  constructor(
    private readonly windowSeconds: number,
    private readonly now: () => number,
  ) {
    this.buckets = new Array<number>(windowSeconds).fill(0);
    this.headSecond = Math.floor(now() / 1000);
  }

  private advance(): void {
    const sec = Math.floor(this.now() / 1000);
    const steps = Math.min(this.windowSeconds, Math.max(0, sec - this.headSecond));
    for (let i = 0; i < steps; i++) {
      this.head = (this.head + 1) % this.windowSeconds;
      this.buckets[this.head] = 0;
    }
    if (sec > this.headSecond) this.headSecond = sec;
  }

  add(n: number): void {
    this.advance();
    this.buckets[this.head]! += n;
  }

  /** Average per second over the completed seconds of the window (the current one is partial). */
  rate(): number {
    this.advance();
    let sum = 0;
    for (let i = 0; i < this.windowSeconds; i++) if (i !== this.head) sum += this.buckets[i]!;
    return this.windowSeconds > 1 ? sum / (this.windowSeconds - 1) : sum;
  }
}
