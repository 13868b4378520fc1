/**
 * wardgate JSON v1: one Kafka message per reading. The schema is docs/schemas/reading-v1.json;
 * gatewayId + seq identify a reading uniquely, so consumers can drop at-least-once duplicates.
 */
import { CATALOGUE } from '../../catalogue.js';
import type { Reading } from '../../reading.js';

export const JSON_V1_SCHEMA = 'wardgate.reading.v1';

export interface ReadingJsonV1 {
  schema: typeof JSON_V1_SCHEMA;
  gatewayId: string;
  seq: number;
  deviceId: string;
  deviceKind: string;
  bed: string;
  patientId?: string;
  metric: string;
  mdc?: { code: number; refId: string };
  loinc?: string;
  value: number;
  unit: string;
  deviceTime?: string;
  gatewayTime: string;
  priority: string;
  quality: string[];
  extra?: Record<string, string | number | boolean>;
}

export function toJsonV1(r: Reading): ReadingJsonV1 {
  const def = CATALOGUE[r.metric];
  const out: ReadingJsonV1 = {
    schema: JSON_V1_SCHEMA,
    gatewayId: r.gatewayId,
    seq: r.seq,
    deviceId: r.deviceId,
    deviceKind: r.deviceKind,
    bed: r.bed,
    metric: r.metric,
    value: r.value,
    unit: r.unit,
    gatewayTime: new Date(r.gatewayTime).toISOString(),
    priority: r.priority,
    quality: [...r.quality],
  };
  if (r.patientId !== undefined) out.patientId = r.patientId;
  if (def.mdcCode !== undefined && def.mdcRefId !== undefined) out.mdc = { code: def.mdcCode, refId: def.mdcRefId };
  if (def.loinc[0] !== undefined) out.loinc = def.loinc[0];
  if (r.deviceTime !== undefined) out.deviceTime = new Date(r.deviceTime).toISOString();
  if (r.extra !== undefined) out.extra = { ...r.extra };
  return out;
}

/**
 * Headers on every message, whatever the format: what a consumer needs before it parses the
 * body, to drop duplicates (gateway id, seq) and to pick a parser (schema). Nothing the topic
 * or the body already says: kafkajs encodes every header with encoders of its own, and at
 * ward rates each header is bytes on the uplink and work for both ends.
 */
export function readingHeaders(r: Reading, schema: string): Record<string, string> {
  return {
    'wardgate-gateway-id': r.gatewayId,
    'wardgate-seq': String(r.seq),
    'wardgate-schema': schema,
  };
}

/**
 * The JSON text of toJsonV1(r), written directly: the drain encodes every reading it sends
 * (tens of thousands a second on a small box), and building the text from pre-made pieces
 * costs a fraction of an object per reading plus JSON.stringify. The same keys in the same
 * order; test/unit/formats.test.ts checks it against JSON.stringify(toJsonV1(r)).
 */
export function jsonV1Text(r: Reading): string {
  let s = `{"schema":"${JSON_V1_SCHEMA}","gatewayId":${str(r.gatewayId)},"seq":${r.seq},"deviceId":${str(r.deviceId)},"deviceKind":${str(r.deviceKind)},"bed":${str(r.bed)},"metric":${str(r.metric)},"value":${num(r.value)},"unit":${str(r.unit)},"gatewayTime":"${isoTime(r.gatewayTime)}","priority":"${r.priority}","quality":[`;
  for (let i = 0; i < r.quality.length; i++) s += i === 0 ? str(r.quality[i]!) : `,${str(r.quality[i]!)}`;
  s += ']';
  if (r.patientId !== undefined) s += `,"patientId":${str(r.patientId)}`;
  s += metricTail(r.metric);
  if (r.deviceTime !== undefined) s += `,"deviceTime":"${isoTime(r.deviceTime)}"`;
  if (r.extra !== undefined) s += `,"extra":${JSON.stringify(r.extra)}`;
  return `${s}}`;
}

/** A JSON string literal: most strings here need no escaping, and the test is cheaper than the escape. */
const NEEDS_ESCAPE = /["\\\u0000-\u001f\u2028\u2029\ud800-\udfff]/;
function str(v: string): string {
  return NEEDS_ESCAPE.test(v) ? JSON.stringify(v) : `"${v}"`;
}

/** JSON has no NaN or Infinity (the buffer refuses them; JSON.stringify would write null). */
const num = (v: number): string => (Number.isFinite(v) ? String(v) : 'null');

/** ISO 8601 of a time, remembering the last few (the readings of one commit share their gateway time). */
const isoCache = new Map<number, string>();
function isoTime(ms: number): string {
  let t = isoCache.get(ms);
  if (t === undefined) {
    if (isoCache.size >= 256) isoCache.clear();
    t = new Date(ms).toISOString();
    isoCache.set(ms, t);
  }
  return t;
}

/** The metric's fixed fields (mdc, loinc), made once per metric. */
const tails = new Map<string, string>();
function metricTail(metric: Reading['metric']): string {
  let t = tails.get(metric);
  if (t === undefined) {
    const def = CATALOGUE[metric];
    t = '';
    if (def.mdcCode !== undefined && def.mdcRefId !== undefined) t += `,"mdc":${JSON.stringify({ code: def.mdcCode, refId: def.mdcRefId })}`;
    if (def.loinc[0] !== undefined) t += `,"loinc":${JSON.stringify(def.loinc[0])}`;
    tails.set(metric, t);
  }
  return t;
}

export function encodeJsonV1(r: Reading): { key: string; value: string; headers: Record<string, string> } {
  return { key: r.deviceId, value: jsonV1Text(r), headers: readingHeaders(r, JSON_V1_SCHEMA) };
}
