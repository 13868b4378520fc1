/**
 * Every observable event (rejected, dropped, evicted, error) is named here once.
 * Emitting an event both counts it (Prometheus) and logs it (rate-limited), so nothing
 * is counted without being logged or logged without being counted.
 */
import { Counter, Gauge, Registry } from 'prom-client';
import type { Logger } from '../logger.js';
import { steadyNow } from '../steady-clock.js';

const EVENT_DEFS = {
  reading_rejected: { help: 'Readings refused by validation, by reason', labels: ['reason', 'family'], level: 'warn' },
  reading_flagged: { help: 'Readings kept but flagged, by flag', labels: ['flag'], level: 'debug' },
  reading_refused: { help: 'Readings the buffer refused to store (device not acknowledged), by reason', labels: ['reason'], level: 'error' },
  reading_evicted: { help: 'Buffered readings evicted by a cap, by class and reason', labels: ['class', 'reason'], level: 'error' },
  unit_quarantined: { help: 'Sealed units that failed authentication or decoding, moved to quarantine', labels: ['reason'], level: 'error' },
  frame_rejected: { help: 'Device frames or payloads that did not parse, by family and reason', labels: ['family', 'reason'], level: 'warn' },
  kafka_send_failed: { help: 'Kafka batch sends that failed, by error kind', labels: ['kind'], level: 'warn' },
  kafka_config_error: { help: 'Kafka refusals that need an operator (auth, ACL, missing topic)', labels: ['reason'], level: 'error' },
  kafka_unknown_fate: {
    help: 'Readings of failed sends that may have reached Kafka anyway (sent again: possible duplicates, identified by gateway id + seq)',
    labels: ['class'],
    level: 'debug',
  },
  kafka_format_fallback: {
    help: 'Readings the configured format (avro-v1) could not carry, sent as JSON v1 instead (header wardgate-avro-invalid), by format and field',
    labels: ['format', 'field'],
    level: 'warn',
  },
  device_error: { help: 'Device adapter errors, by family and reason', labels: ['family', 'reason'], level: 'warn' },
  source_paused: {
    help: 'Times device sources stopped being read because readings waiting for their commit reached their bound (memory), by family',
    labels: ['family'],
    level: 'info',
  },
  login_failed: {
    help: 'Failed or refused device logins (wrong credentials, throttled, backoff), by family and reason',
    labels: ['family', 'reason'],
    level: 'warn',
  },
  client_disconnected: { help: 'Clients disconnected for misbehaving, by family and reason', labels: ['family', 'reason'], level: 'warn' },
  buffer_error: {
    help: 'Buffer operations that failed (commit, fsync, delete, quarantine, eviction, shedding, maintenance) or units it cannot send, by operation',
    labels: ['op'],
    level: 'error',
  },
  buffer_warning: {
    help: 'Buffer conditions short of a failure (no disk-full reserve, a gap record, an ack of an unknown lease), by operation',
    labels: ['op'],
    level: 'warn',
  },
} as const satisfies Record<string, { help: string; labels: readonly string[]; level: 'debug' | 'info' | 'warn' | 'error' }>;

export type EventName = keyof typeof EVENT_DEFS;

/** Events that lose readings, summed into wardgate_dropped_total{reason="<prefix>_<reason>"}. */
const DROP_EVENTS = { reading_rejected: 'rejected', reading_refused: 'refused', reading_evicted: 'evicted' } as const;
type LabelsOf<E extends EventName> = Record<(typeof EVENT_DEFS)[E]['labels'][number], string>;

/** Log at most one line per event+labels per window; the next line says how many were suppressed. */
const LOG_WINDOW_MS = 10_000;

export class Events {
  readonly registry: Registry;
  private readonly counters = new Map<EventName, Counter<string>>();
  private readonly lastLog = new Map<string, { at: number; suppressed: number }>();
  private readonly loggedListeners = new Set<(name: EventName, labels: Record<string, string>, count: number, detail?: Record<string, unknown>) => void>();
  readonly gauges: {
    bufferReadings: Gauge<'class'>;
    bufferBytes: Gauge<'class'>;
    oldestUnsentAgeSeconds: Gauge<'class'>;
    inFlight: Gauge<string>;
    kafkaState: Gauge<'state'>;
    offlineSeconds: Gauge<string>;
    drainRate: Gauge<string>;
    kafkaConfigError: Gauge<string>;
    kafkaBrokers: Gauge<string>;
    kafkaBrokersExpected: Gauge<string>;
  };
  readonly forwarded: Counter<'class'>;
  readonly forwardedBytes: Counter<'class'>;
  /** Readings lost or refused, by reason (rejected_*, refused_*, evicted_*): what operators call "dropped". */
  readonly dropped: Counter<'reason'>;
  readonly ingested: Counter<'family' | 'class'>;

  constructor(
    private readonly log: Logger,
    /** The clock of the log's rate limit (a step of the wall clock must not silence it). */
    private readonly now: () => number = steadyNow,
  ) {
    this.registry = new Registry();
    for (const [name, d] of Object.entries(EVENT_DEFS) as [EventName, (typeof EVENT_DEFS)[EventName]][]) {
      this.counters.set(name, new Counter({ name: `wardgate_${name}_total`, help: d.help, labelNames: [...d.labels], registers: [this.registry] }));
    }
    const r = [this.registry];
    this.gauges = {
      bufferReadings: new Gauge({ name: 'wardgate_buffer_readings', help: 'Readings waiting in the buffer, per class', labelNames: ['class'], registers: r }),
      bufferBytes: new Gauge({ name: 'wardgate_buffer_bytes', help: 'Encoded bytes waiting in the buffer, per class', labelNames: ['class'], registers: r }),
      oldestUnsentAgeSeconds: new Gauge({
        name: 'wardgate_oldest_unsent_age_seconds',
        help: 'Age of the oldest unsent reading, per class',
        labelNames: ['class'],
        registers: r,
      }),
      inFlight: new Gauge({ name: 'wardgate_unacknowledged_in_flight', help: 'Readings sent to Kafka and not yet acknowledged', registers: r }),
      kafkaState: new Gauge({ name: 'wardgate_kafka_state', help: '1 for the current connectivity state', labelNames: ['state'], registers: r }),
      offlineSeconds: new Gauge({ name: 'wardgate_offline_duration_seconds', help: 'Seconds since Kafka was last reachable (0 when online)', registers: r }),
      drainRate: new Gauge({
        name: 'wardgate_drain_rate_readings_per_second',
        help: 'Readings acknowledged by Kafka per second, over the last 5 s',
        registers: r,
      }),
      kafkaConfigError: new Gauge({
        name: 'wardgate_kafka_config_error',
        help: '1 while Kafka refuses for a configuration reason (auth, ACL, missing topic)',
        registers: r,
      }),
      kafkaBrokers: new Gauge({ name: 'wardgate_kafka_brokers', help: "Brokers the cluster's metadata listed at the last check", registers: r }),
      kafkaBrokersExpected: new Gauge({
        name: 'wardgate_kafka_brokers_expected',
        help: 'Brokers expected: the bootstrap list, or the most the metadata ever listed at once',
        registers: r,
      }),
    };
    this.forwardedBytes = new Counter({
      name: 'wardgate_forwarded_bytes_total',
      help: 'Message bytes (key, value, headers; before compression) acknowledged by Kafka, per class',
      labelNames: ['class'],
      registers: r,
    });
    this.dropped = new Counter({
      name: 'wardgate_dropped_total',
      help: 'Readings lost or refused, by reason: rejected_* (invalid), refused_* (buffer refused), evicted_* (cap or disk full)',
      labelNames: ['reason'],
      registers: r,
    });
    this.forwarded = new Counter({ name: 'wardgate_forwarded_total', help: 'Readings acknowledged by Kafka, per class', labelNames: ['class'], registers: r });
    this.ingested = new Counter({
      name: 'wardgate_ingested_total',
      help: 'Readings durably committed to the buffer',
      labelNames: ['family', 'class'],
      registers: r,
    });
  }

  /** Counts `n` occurrences of the event and logs it, rate-limited per event and labels. */
  emit<E extends EventName>(name: E, labels: LabelsOf<E>, n = 1, detail?: Record<string, unknown>): void {
    this.counters.get(name)!.inc(labels as Record<string, string>, n);
    const drop = DROP_EVENTS[name as keyof typeof DROP_EVENTS];
    if (drop) this.dropped.inc({ reason: `${drop}_${(labels as Record<string, string>).reason ?? 'unknown'}` }, n);
    const def = EVENT_DEFS[name];
    const key = `${name}|${Object.values(labels).join('|')}`;
    const t = this.now();
    const last = this.lastLog.get(key);
    if (last && t - last.at < LOG_WINDOW_MS) {
      last.suppressed += n;
      return;
    }
    const suppressed = last?.suppressed ?? 0;
    this.lastLog.set(key, { at: t, suppressed: 0 });
    const fields: Record<string, unknown> = { event: name, ...labels, count: n, suppressedSinceLastLog: suppressed, ...detail };
    this.log[def.level](fields, def.help);
    for (const l of this.loggedListeners) l(name, labels as Record<string, string>, n + suppressed, detail);
  }

  /**
   * Called with each event as it is logged (rate-limited like the log: `count` includes the
   * occurrences suppressed since the last line). The audit log listens here. Returns an unsubscribe function.
   */
  onLogged(listener: (name: EventName, labels: Record<string, string>, count: number, detail?: Record<string, unknown>) => void): () => void {
    this.loggedListeners.add(listener);
    return () => this.loggedListeners.delete(listener);
  }

  /** Current total of a counter for the given labels (all label combinations when omitted). */
  async count<E extends EventName>(name: E, labels?: Partial<LabelsOf<E>>): Promise<number> {
    const m = await this.counters.get(name)!.get();
    return m.values.filter((v) => !labels || Object.entries(labels).every(([k, val]) => v.labels[k] === val)).reduce((a, v) => a + v.value, 0);
  }
}
