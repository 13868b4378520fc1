/**
 * One Kafka message of a ward topic -> a wardgate JSON v1 reading (docs/schemas/reading-v1.json),
 * with what it announces about missing seqs. Pure: no I/O, nothing logged (bodies carry patient
 * data; a caller counts skips by reason only).
 */
import type { Range } from './ranges.js';
import type { Announcement } from './tracker.js';
import { samplesOf, WAVEFORM_SCHEMA, type WaveformSample } from './waveform.js';

export const READING_SCHEMA = 'wardgate.reading.v1';

/** The JSON v1 body (only what this consumer relies on is typed). */
export interface ReadingV1 {
  schema: typeof READING_SCHEMA;
  gatewayId: string;
  seq: number;
  deviceId: string;
  deviceKind: string;
  bed: string;
  patientId?: string;
  metric: string;
  mdc?: { code: number; refId: string };
  loinc?: string;
  /** null when the device sent a special value, not a number (a value_* quality flag says which). */
  value: number | null;
  unit: string;
  deviceTime?: string;
  gatewayTime: string;
  priority: string;
  quality: string[];
  extra?: Record<string, string | number | boolean>;
}

export interface RawMessage {
  topic: string;
  partition: number;
  offset: string;
  headers?: Record<string, Buffer | string | (Buffer | string)[] | undefined>;
  value: Buffer | null;
}

export interface ParsedReading {
  kind: 'reading';
  topic: string;
  partition: number;
  offset: string;
  reading: ReadingV1;
  announcements: Announcement[];
}

/** A waveform batch, as its samples (one per seq). */
export interface ParsedSamples {
  kind: 'samples';
  topic: string;
  partition: number;
  offset: string;
  samples: WaveformSample[];
}

/** Why a message was not taken: another format on the topic (FHIR, waveform batch), or not a valid reading. */
export type SkipReason = 'other_schema' | 'malformed';
export interface Skipped {
  kind: 'skip';
  reason: SkipReason;
}

function header(m: RawMessage, name: string): string | undefined {
  const v = m.headers?.[name];
  const one = Array.isArray(v) ? v[v.length - 1] : v;
  return one === undefined ? undefined : one.toString();
}

const isStr = (v: unknown): v is string => typeof v === 'string' && v.length > 0;
const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v);

function validReading(b: unknown): b is ReadingV1 {
  if (typeof b !== 'object' || b === null) return false;
  const r = b as Record<string, unknown>;
  return (
    r.schema === READING_SCHEMA &&
    isStr(r.gatewayId) &&
    isInt(r.seq) &&
    (r.seq as number) >= 1 &&
    isStr(r.deviceId) &&
    isStr(r.deviceKind) &&
    isStr(r.bed) &&
    isStr(r.metric) &&
    (typeof r.value === 'number' || r.value === null) &&
    typeof r.unit === 'string' &&
    isStr(r.gatewayTime) &&
    isStr(r.priority) &&
    Array.isArray(r.quality) &&
    (r.extra === undefined || (typeof r.extra === 'object' && r.extra !== null))
  );
}

/** "a-b,c-d" (a damaged database's lost ranges); null when unusable. */
function parseRanges(text: string): Range[] | null {
  const out: Range[] = [];
  for (const part of text.split(',')) {
    const m = /^(\d+)-(\d+)$/.exec(part.trim());
    if (!m) return null;
    out.push([Number(m[1]), Number(m[2])]);
  }
  return out;
}

/** The gateway truncates `ranges` to this many characters (src/buffer/sqlite.ts). */
const RANGES_MAX_CHARS = 1000;

/** What a reading announces about missing seqs of its gateway. */
export function announcementsOf(r: Pick<ReadingV1, 'metric' | 'extra'>): Announcement[] {
  if (r.metric !== 'gateway_event' || !r.extra) return [];
  const x = r.extra;
  if (x.event === 'gap' && isInt(x.firstSeq) && isInt(x.lastSeq)) {
    let ranges: Range[] = [[x.firstSeq, x.lastSeq]];
    // A damaged database's loss is a list of ranges; a truncated list falls back to the whole span.
    if (typeof x.ranges === 'string' && x.ranges.length < RANGES_MAX_CHARS) ranges = parseRanges(x.ranges) ?? ranges;
    return [{ kind: 'gap', ranges, reason: String(x.reason ?? 'unknown'), class: String(x.class ?? 'unknown') }];
  }
  if (x.event === 'buffer_corrupt' && isInt(x.seqFloor)) return [{ kind: 'seq_floor', seqFloor: x.seqFloor }];
  return [];
}

export function parseMessage(m: RawMessage): ParsedReading | ParsedSamples | Skipped {
  const schema = header(m, 'wardgate-schema');
  if (schema !== undefined && schema !== READING_SCHEMA && schema !== WAVEFORM_SCHEMA) return { kind: 'skip', reason: 'other_schema' };
  if (!m.value) return { kind: 'skip', reason: 'malformed' };
  let body: unknown;
  try {
    body = JSON.parse(m.value.toString('utf8'));
  } catch {
    return { kind: 'skip', reason: 'malformed' };
  }
  // Headers, when present, must say the same as the body (for a batch: its first sample).
  const hGw = header(m, 'wardgate-gateway-id');
  const hSeq = header(m, 'wardgate-seq');
  const agrees = (gatewayId: string, seq: number) => (hGw === undefined || hGw === gatewayId) && (hSeq === undefined || hSeq === String(seq));
  const where = { topic: m.topic, partition: m.partition, offset: m.offset };
  if ((schema ?? (body as { schema?: unknown } | null)?.schema) === WAVEFORM_SCHEMA) {
    const samples = samplesOf(body);
    if (!samples || !agrees(samples[0]!.gatewayId, samples[0]!.seq)) return { kind: 'skip', reason: 'malformed' };
    return { kind: 'samples', ...where, samples };
  }
  if (!validReading(body) || !agrees(body.gatewayId, body.seq)) return { kind: 'skip', reason: 'malformed' };
  return { kind: 'reading', ...where, reading: body, announcements: announcementsOf(body) };
}
