/**
 * Counters of the MQTT family that are not events: message outcomes per source and QoS
 * (QoS 0 is counted apart from QoS 1, which is acknowledged end to end), and payload
 * rejections per rule. Rejections are also emitted as `frame_rejected` events (counted and
 * logged there); this adds the per-rule breakdown.
 *
 * Outcomes are counted on the hot path in plain numbers and handed to prom-client when the
 * registry is read (its `collect` hook): one Map update per message instead of a labelled
 * counter increment.
 */
import { Counter, type Registry } from 'prom-client';

export type Outcome = 'committed' | 'refused' | 'rejected' | 'abandoned';

export interface MqttMetrics {
  /** Counts one message of `source` ('embedded', 'external:<name>') with QoS `qos`. */
  outcome(source: string, qos: number, outcome: Outcome): void;
  readonly rejected: Counter<'rule' | 'reason'>;
  /** PUBLISHes (and wills) from clients with the retain flag: delivered, not kept by the embedded broker. */
  readonly retainIgnored: Counter;
}

const OUTCOMES: readonly Outcome[] = ['committed', 'refused', 'rejected', 'abandoned'];

const byRegistry = new WeakMap<Registry, MqttMetrics>();

/** The family's counters in `registry` (created once per registry). */
export function mqttMetrics(registry: Registry): MqttMetrics {
  const existing = byRegistry.get(registry);
  if (existing) return existing;
  /** Per source: counts indexed by qos * 4 + outcome index. */
  const pending = new Map<string, number[]>();
  new Counter({
    name: 'wardgate_mqtt_messages_total',
    help: 'MQTT messages by source (embedded, external:<name>), QoS and outcome',
    labelNames: ['source', 'qos', 'outcome'],
    registers: [registry],
    collect() {
      for (const [source, counts] of pending) {
        counts.forEach((n, i) => {
          if (n > 0) this.inc({ source, qos: String(Math.floor(i / 4)), outcome: OUTCOMES[i % 4]! }, n);
        });
        counts.fill(0);
      }
    },
  });
  const m: MqttMetrics = {
    outcome(source, qos, outcome) {
      let counts = pending.get(source);
      if (!counts) {
        counts = new Array<number>(12).fill(0);
        pending.set(source, counts);
      }
      counts[Math.min(qos, 2) * 4 + OUTCOMES.indexOf(outcome)]!++;
    },
    rejected: new Counter({
      name: 'wardgate_mqtt_payload_rejected_total',
      help: 'MQTT payloads that did not decode, by rule and reason',
      labelNames: ['rule', 'reason'],
      registers: [registry],
    }),
    retainIgnored: new Counter({
      name: 'wardgate_mqtt_retain_ignored_total',
      help: 'Client PUBLISHes and wills with the retain flag: delivered, not kept (the embedded broker keeps no retained message of a client)',
      registers: [registry],
    }),
  };
  byRegistry.set(registry, m);
  return m;
}
