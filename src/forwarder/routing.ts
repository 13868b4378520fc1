/**
 * Turns a lease into Kafka topic batches: JSON v1 on the class's topic (for the waveform class,
 * optionally waveform batches, see formats/waveform-batch.ts), and, where configured, FHIR R4
 * Observations on the class's FHIR topic. All of them are sent in one call and the lease is
 * acked only when every message of it is acknowledged.
 */
import type { Lease } from '../buffer/types.js';
import type { PriorityClass, Reading } from '../reading.js';
import type { OutMessage, TopicBatch } from './client.js';
import { avroV1Messages, avroV1UnitMessages } from './formats/avro-v1.js';
import { FHIR_SCHEMA, type FhirOptions, type FhirOut, toFhirObservations } from './formats/fhir-r4.js';
import { HL7V2_SCHEMA, type Hl7Out, type Hl7v2Options, toPcd01Messages } from './formats/hl7v2-pcd01.js';
import { encodeJsonV1, jsonV1Messages, jsonV1UnitMessages, readingHeaders } from './formats/json-v1.js';
import { packWaveforms, WAVEFORM_BATCH_SCHEMA, type WaveformPart } from './formats/waveform-batch.js';

export interface RoutingOptions {
  topics: Record<PriorityClass, string>;
  key: 'device' | 'patient';
  fhirTopics?: Partial<Record<PriorityClass, string>>;
  fhir?: FhirOptions;
  /** HL7 v2 PCD-01 topics per class (formats/hl7v2-pcd01.ts) and the message settings. */
  hl7v2Topics?: Partial<Record<PriorityClass, string>>;
  hl7v2?: Hl7v2Options;
  /** The waveform class's topic: one JSON v1 message per reading (default), or waveform samples batched per device and metric. */
  waveformFormat?: 'json-v1' | 'batch';
  /** Reading messages as JSON v1 (default) or the same fields in Avro binary (formats/avro-v1.ts). */
  format?: 'json-v1' | 'avro-v1';
}

/** The topics a class's readings go to: its own, and its FHIR and HL7 v2 topics where configured. */
export function topicsOfClass(o: RoutingOptions, c: PriorityClass): string[] {
  return [...new Set([o.topics[c], o.fhirTopics?.[c], o.hl7v2Topics?.[c]].filter((t): t is string => !!t))];
}

/** Every topic the routing can write to (for ensureTopics). */
export function allTopics(o: RoutingOptions): string[] {
  const extra = [...Object.values(o.fhirTopics ?? {}), ...Object.values(o.hl7v2Topics ?? {})].filter((t): t is string => !!t);
  return [...new Set([...Object.values(o.topics), ...extra])];
}

const keyOf = (r: Reading, key: RoutingOptions['key']): string => (key === 'patient' && r.patientId !== undefined ? r.patientId : r.deviceId);

/**
 * One FHIR message. Its identity headers are those of its first (lowest-seq) reading; a message
 * that carries several readings (a blood-pressure panel) also lists all of them in
 * `wardgate-seqs` (comma-separated, ascending), so a consumer can drop duplicates per reading.
 */
function fhirMessage(f: FhirOut, key: RoutingOptions['key']): OutMessage {
  const first = f.readings[0]!;
  const headers: Record<string, string> = { ...readingHeaders(first, FHIR_SCHEMA), 'content-type': 'application/fhir+json' };
  if (f.readings.length > 1) headers['wardgate-seqs'] = f.readings.map((r) => r.seq).join(',');
  return { key: keyOf(first, key), value: JSON.stringify(f.observation), headers };
}

/** One HL7 v2 message: identity headers of its first reading and, always, every seq it carries. */
function hl7Message(m: Hl7Out, key: RoutingOptions['key']): OutMessage {
  const first = m.readings[0]!;
  const headers: Record<string, string> = {
    ...readingHeaders(first, HL7V2_SCHEMA),
    'wardgate-seqs': m.readings.map((r) => r.seq).join(','),
    'content-type': 'application/hl7-v2',
  };
  return { key: keyOf(first, key), value: m.text, headers };
}

function jsonMessage(r: Reading, key: RoutingOptions['key']): OutMessage {
  const m = encodeJsonV1(r);
  return { key: keyOf(r, key), value: m.value, headers: m.headers };
}

/**
 * A waveform batch: identity headers of its first sample, plus the last seq and the sample
 * count (the exact seqs are in the body's seqRuns).
 */
function waveformMessage(p: WaveformPart, key: RoutingOptions['key']): OutMessage {
  if (p.kind === 'single') return jsonMessage(p.reading, key);
  const first = p.readings[0]!;
  const headers = { ...readingHeaders(first, WAVEFORM_BATCH_SCHEMA), 'wardgate-seq-last': String(p.batch.seqLast), 'wardgate-count': String(p.batch.count) };
  return { key: keyOf(first, key), value: JSON.stringify(p.batch), headers };
}

/** How many readings a lease holds (without making its Reading objects). */
export function leaseSize(lease: Lease): number {
  if (!lease.units) return lease.readings.length;
  let n = 0;
  for (const u of lease.units) n += u.to - u.from;
  return n;
}

/**
 * `onInvalid` hears of each reading the configured format's schema refused and that went out as
 * JSON v1 instead (formats/avro-v1.ts avroV1Messages).
 */
export function routeLease(lease: Lease, o: RoutingOptions, onInvalid?: (r: Reading, field: string) => void): TopicBatch[] {
  let json: OutMessage[];
  if (lease.priorityClass === 'waveform' && o.waveformFormat === 'batch') {
    json = packWaveforms(lease.readings).map((p) => waveformMessage(p, o.key));
  } else {
    json = [];
    // JSON v1 from the decoded units when the lease has them: no Reading objects.
    if (o.format === 'avro-v1') {
      if (lease.units) avroV1UnitMessages(lease.units, o.key, json, onInvalid);
      else avroV1Messages(lease.readings, (r) => keyOf(r, o.key), json, onInvalid);
    } else if (lease.units) jsonV1UnitMessages(lease.units, o.key, json);
    else jsonV1Messages(lease.readings, (r) => keyOf(r, o.key), json);
  }
  const out: TopicBatch[] = [{ topic: o.topics[lease.priorityClass], messages: json }];
  const fhirTopic = o.fhirTopics?.[lease.priorityClass];
  if (fhirTopic) {
    const fhir = toFhirObservations(lease.readings, o.fhir).map((f) => fhirMessage(f, o.key));
    if (fhir.length) out.push({ topic: fhirTopic, messages: fhir });
  }
  const hl7Topic = o.hl7v2Topics?.[lease.priorityClass];
  if (hl7Topic) {
    const hl7 = toPcd01Messages(lease.readings, o.hl7v2).map((m) => hl7Message(m, o.key));
    if (hl7.length) out.push({ topic: hl7Topic, messages: hl7 });
  }
  return out;
}
