/**
 * Counters of the MQTT family that are not events: message outcomes per source and QoS
 * (QoS 0 is counted apart from QoS 1, which is acknowledged end to end), and payload
 * rejections per rule. Rejections are also emitted as `frame_rejected` events (counted and
 * logged there); this adds the per-rule breakdown.
 */
import { Counter, type Registry } from 'prom-client';

export type Outcome = 'committed' | 'refused' | 'rejected' | 'abandoned';

export interface MqttMetrics {
  readonly messages: Counter<'source' | 'qos' | 'outcome'>;
  readonly rejected: Counter<'rule' | 'reason'>;
}

function counter<L extends string>(registry: Registry, name: string, help: string, labelNames: L[]): Counter<L> {
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as Counter<L>;
  return new Counter({ name, help, labelNames, registers: [registry] });
}

/** The family's counters in `registry` (created once per registry). */
export function mqttMetrics(registry: Registry): MqttMetrics {
  return {
    messages: counter(registry, 'wardgate_mqtt_messages_total', 'MQTT messages by source (embedded, external:<name>), QoS and outcome', ['source', 'qos', 'outcome']),
    rejected: counter(registry, 'wardgate_mqtt_payload_rejected_total', 'MQTT payloads that did not decode, by rule and reason', ['rule', 'reason']),
  };
}
