/**
 * wardgate JSON v1: one Kafka message per reading. The schema is docs/schemas/reading-v1.json;
 * gatewayId + seq identify a reading uniquely, so consumers can drop at-least-once duplicates.
 */
import { CATALOGUE } from '../../catalogue.js';
import { READING_SCHEMA_VERSION, type Reading } from '../../reading.js';

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

/** Headers on every message, whatever the format. */
export function readingHeaders(r: Reading, schema: string): Record<string, string> {
  return {
    'wardgate-gateway-id': r.gatewayId,
    'wardgate-seq': String(r.seq),
    'wardgate-schema': schema,
    'wardgate-schema-version': String(READING_SCHEMA_VERSION),
    'wardgate-priority': r.priority,
    'content-type': 'application/json',
  };
}

export function encodeJsonV1(r: Reading): { key: string; value: string; headers: Record<string, string> } {
  return { key: r.deviceId, value: JSON.stringify(toJsonV1(r)), headers: readingHeaders(r, JSON_V1_SCHEMA) };
}
