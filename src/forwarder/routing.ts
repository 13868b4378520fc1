/**
 * Turns a lease into Kafka topic batches: JSON v1 on the class's topic, and, where configured,
 * a FHIR R4 Observation on the class's FHIR topic. All of them are sent in one call and the
 * lease is acked only when every message of it is acknowledged.
 */
import type { Lease } from '../buffer/types.js';
import type { Priority, Reading } from '../reading.js';
import type { OutMessage, TopicBatch } from './client.js';
import { encodeJsonV1, readingHeaders } from './formats/json-v1.js';
import { FHIR_SCHEMA, toFhirObservation } from './formats/fhir-r4.js';

export interface RoutingOptions {
  topics: Record<Priority, string>;
  key: 'device' | 'patient';
  fhirTopics?: Partial<Record<Priority, string>>;
}

/** Every topic the routing can write to (for ensureTopics). */
export function allTopics(o: RoutingOptions): string[] {
  return [...new Set([...Object.values(o.topics), ...Object.values(o.fhirTopics ?? {}).filter((t): t is string => !!t)])];
}

const keyOf = (r: Reading, key: RoutingOptions['key']): string => (key === 'patient' && r.patientId !== undefined ? r.patientId : r.deviceId);

export function routeLease(lease: Lease, o: RoutingOptions): TopicBatch[] {
  const json: OutMessage[] = [];
  const fhir: OutMessage[] = [];
  const fhirTopic = o.fhirTopics?.[lease.priority];
  for (const r of lease.readings) {
    const m = encodeJsonV1(r);
    json.push({ key: keyOf(r, o.key), value: m.value, headers: m.headers });
    if (fhirTopic) {
      const obs = toFhirObservation(r);
      if (obs) fhir.push({ key: keyOf(r, o.key), value: JSON.stringify(obs), headers: { ...readingHeaders(r, FHIR_SCHEMA), 'content-type': 'application/fhir+json' } });
    }
  }
  const out: TopicBatch[] = [{ topic: o.topics[lease.priority], messages: json }];
  if (fhirTopic && fhir.length) out.push({ topic: fhirTopic, messages: fhir });
  return out;
}
