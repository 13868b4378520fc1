/**
 * wardgate JSON v1: one Kafka message per reading. The schema is docs/schemas/reading-v1.json;
 * gatewayId + seq identify a reading uniquely, so consumers can drop at-least-once duplicates.
 */
import type { UnitColumns } from '../../buffer/codec.js';
import type { UnitSlice } from '../../buffer/types.js';
import { CATALOGUE } from '../../catalogue.js';
import type { QualityFlag, Reading } from '../../reading.js';
import type { OutMessage } from '../client.js';

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
  /** null when the reading carries no number (a value-absent quality flag says why). */
  value: number | null;
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
    value: Number.isFinite(r.value) ? r.value : null,
    unit: r.unit,
    gatewayTime: new Date(r.gatewayTime).toISOString(),
    priority: r.priorityClass,
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
  return seqHeaders(r.gatewayId, r.seq, schema);
}

/** readingHeaders from the fields alone (the paths that write from decoded units have no Reading). */
export function seqHeaders(gatewayId: string, seq: number, schema: string): Record<string, string> {
  return { 'wardgate-gateway-id': gatewayId, 'wardgate-seq': String(seq), 'wardgate-schema': schema };
}

/**
 * The JSON text of toJsonV1(r), written directly: the drain encodes every reading it sends
 * (tens of thousands a second on a small box), and building the text from pre-made pieces
 * costs a fraction of an object per reading plus JSON.stringify. The same keys in the same
 * order; test/unit/formats.test.ts checks it against JSON.stringify(toJsonV1(r)).
 */
export function jsonV1Text(r: Reading): string {
  let s =
    `${gatewayHead(r.gatewayId)}${r.seq}${sourceHead(r)}${metricHead(r.metric)}${num(r.value)},"unit":${str(r.unit)},` +
    `"gatewayTime":"${gatewayClock.iso(r.gatewayTime)}","priority":"${r.priorityClass}","quality":[`;
  for (let i = 0; i < r.quality.length; i++) s += i === 0 ? str(r.quality[i]!) : `,${str(r.quality[i]!)}`;
  s += ']';
  if (r.patientId !== undefined) s += `,"patientId":${str(r.patientId)}`;
  s += metricTail(r.metric);
  if (r.deviceTime !== undefined) s += `,"deviceTime":"${deviceClock.iso(r.deviceTime)}"`;
  if (r.extra !== undefined) s += `,"extra":${JSON.stringify(r.extra)}`;
  return `${s}}`;
}

/** A JSON string literal: most strings here need no escaping, and the test is cheaper than the escape. */
const NEEDS_ESCAPE = /["\\\u0000-\u001f\u2028\u2029\ud800-\udfff]/;
function str(v: string): string {
  return NEEDS_ESCAPE.test(v) ? JSON.stringify(v) : `"${v}"`;
}

/**
 * A reading with no number (value-absent flag, value NaN) is written with value null, as JSON.stringify
 * of toJsonV1 does. A small integer is written from its int32 form: a value read from a Float64Array
 * is a heap double, and V8 turns those into text much more slowly than the same integer as a small int
 * (-0 becomes "0" either way).
 */
const num = (v: number): string => (v === (v | 0) ? String(v | 0) : Number.isFinite(v) ? String(v) : 'null');

/** `{"schema":…,"gatewayId":…,"seq":` for the last gateway id (one per process in practice). */
let gwId: string | undefined;
let gwHead = '';
function gatewayHead(id: string): string {
  if (id !== gwId) {
    gwId = id;
    gwHead = `{"schema":"${JSON_V1_SCHEMA}","gatewayId":${str(id)},"seq":`;
  }
  return gwHead;
}

/** `,"deviceId":…,"deviceKind":…,"bed":…` per device (a ward has tens of them). */
const sources = new Map<string, { kind: string; bed: string; text: string }>();
function sourceHead(r: Reading): string {
  const c = sources.get(r.deviceId);
  if (c !== undefined && c.kind === r.deviceKind && c.bed === r.bed) return c.text;
  if (sources.size >= 4096) sources.clear();
  const text = `,"deviceId":${str(r.deviceId)},"deviceKind":${str(r.deviceKind)},"bed":${str(r.bed)}`;
  sources.set(r.deviceId, { kind: r.deviceKind, bed: r.bed, text });
  return text;
}

/** `,"metric":…,"value":` per metric. */
const metricHeads = new Map<string, string>();
function metricHead(metric: string): string {
  let t = metricHeads.get(metric);
  if (t === undefined) {
    t = `,"metric":${str(metric)},"value":`;
    metricHeads.set(metric, t);
  }
  return t;
}

/**
 * ISO 8601 (`toISOString`) of a time, from the date-and-second part of the last second seen
 * plus the milliseconds: readings come in time order, so most share the previous one's second.
 */
class IsoClock {
  private sec = NaN;
  private head = '';
  iso(ms: number): string {
    // Outside 0000-9999 (or fractional) toISOString uses another shape: leave those to it.
    if (!(ms >= 0 && ms < 253402300800000) || !Number.isInteger(ms)) return new Date(ms).toISOString();
    const sec = Math.floor(ms / 1000);
    if (sec !== this.sec) {
      this.sec = sec;
      this.head = new Date(sec * 1000).toISOString().slice(0, 19);
    }
    return this.head + MILLIS[ms - sec * 1000]!;
  }
}
const MILLIS = Array.from({ length: 1000 }, (_, i) => `.${String(i).padStart(3, '0')}Z`);
const gatewayClock = new IsoClock();
const deviceClock = new IsoClock();

/** The metric's fixed fields (mdc, loinc), made once per metric. */
const tails = new Map<string, string>();
function metricTail(metric: Reading['metric']): string {
  let t = tails.get(metric);
  if (t === undefined) {
    // A metric the catalogue does not know (a reading that bypassed validation) has no fixed fields.
    const def = Object.hasOwn(CATALOGUE, metric) ? CATALOGUE[metric] : { loinc: [] as readonly string[], mdcCode: undefined, mdcRefId: undefined };
    t = '';
    if (def.mdcCode !== undefined && def.mdcRefId !== undefined) t += `,"mdc":${JSON.stringify({ code: def.mdcCode, refId: def.mdcRefId })}`;
    if (def.loinc[0] !== undefined) t += `,"loinc":${JSON.stringify(def.loinc[0])}`;
    tails.set(metric, t);
  }
  return t;
}

/**
 * One reading as its Kafka message (key = device id). The value is bytes made here: the text is
 * built from many pieces, and its bytes are smaller and cheaper for the garbage collector to
 * hold while the batch waits for its send.
 */
export function encodeJsonV1(r: Reading): { key: string; value: Buffer; headers: Record<string, string> } {
  return { key: r.deviceId, value: Buffer.from(jsonV1Text(r)), headers: readingHeaders(r, JSON_V1_SCHEMA) };
}

/** Readings whose texts are turned into bytes together (one ~40 KiB buffer, below V8's large-object size as text). */
const BYTES_GROUP = 128;

/**
 * The JSON v1 messages of many readings, in order, appended to `out`: the same keys, bytes and
 * headers as encodeJsonV1 one by one, made faster. The texts of up to BYTES_GROUP readings are
 * joined and encoded at once, and each value is a view of those bytes: per reading one flat copy
 * of the text instead of a string, a scan and a buffer of its own. A group with any non-ASCII
 * character (a bed or patient id, say) encodes its texts one by one, as characters and bytes
 * then differ.
 */
export function jsonV1Messages(readings: readonly Reading[], keyOf: (r: Reading) => string, out: OutMessage[]): void {
  const texts: string[] = [];
  for (let i = 0; i < readings.length; i += BYTES_GROUP) {
    const n = Math.min(BYTES_GROUP, readings.length - i);
    texts.length = n;
    for (let k = 0; k < n; k++) texts[k] = jsonV1Text(readings[i + k]!);
    const all = texts.join('');
    const bytes = Buffer.from(all);
    const ascii = bytes.length === all.length;
    let at = 0;
    for (let k = 0; k < n; k++) {
      const r = readings[i + k]!;
      const t = texts[k]!;
      out.push({ key: keyOf(r), value: ascii ? bytes.subarray(at, at + t.length) : Buffer.from(t), headers: readingHeaders(r, JSON_V1_SCHEMA) });
      at += t.length;
    }
  }
}

/**
 * The JSON v1 messages of decoded units, in order, appended to `out`: byte for byte the messages
 * jsonV1Messages makes of the same readings as Reading objects (test/unit/json-v1-columns.test.ts),
 * written from the unit's columns. Each unit's source table (device, kind, bed, patient) is
 * turned into text once, not looked up per reading, and no Reading object is made.
 */
export function jsonV1UnitMessages(units: readonly UnitSlice[], key: 'device' | 'patient', out: OutMessage[]): void {
  const texts: string[] = [];
  const keys: string[] = [];
  const heads: Record<string, string>[] = [];
  for (const u of units) {
    const c = u.columns;
    const src = sourceTexts(c, key);
    const head = gatewayHead(c.gatewayId);
    const mid = `","priority":"${c.priorityClass}","quality":`;
    for (let i = u.from; i < u.to; i++) {
      const s = c.source[i]!;
      const metric = c.metric[i]!.id;
      let t =
        `${head}${c.firstSeq + i}${src.head[s]!}${metricHead(metric)}${num(c.value[i]!)},"unit":${str(c.unit[i]!)},` +
        `"gatewayTime":"${gatewayClock.iso(c.gatewayTime[i]!)}${mid}${qualityText(c.quality[i]!)}${src.patient[s]!}${metricTail(metric)}`;
      if (c.hasDeviceTime[i] === 1) t += `,"deviceTime":"${deviceClock.iso(c.deviceTime[i]!)}"`;
      const x = c.extra[i];
      if (x !== undefined) t += `,"extra":${JSON.stringify(x)}`;
      texts.push(`${t}}`);
      keys.push(src.key[s]!);
      heads.push(seqHeaders(c.gatewayId, c.firstSeq + i, JSON_V1_SCHEMA));
      if (texts.length === BYTES_GROUP) flushTexts(texts, keys, heads, out);
    }
  }
  if (texts.length > 0) flushTexts(texts, keys, heads, out);
}

/** Per source of a unit: the device fields' text, the patient field's text, the message key. */
function sourceTexts(c: UnitColumns, key: 'device' | 'patient'): { head: string[]; patient: string[]; key: string[] } {
  const head: string[] = [];
  const patient: string[] = [];
  const keys: string[] = [];
  for (const s of c.sources) {
    head.push(`,"deviceId":${str(s.deviceId)},"deviceKind":${str(s.deviceKind)},"bed":${str(s.bed)}`);
    patient.push(s.patientId === undefined ? '' : `,"patientId":${str(s.patientId)}`);
    keys.push(key === 'patient' && s.patientId !== undefined ? s.patientId : s.deviceId);
  }
  return { head, patient, key: keys };
}

/** `[…]` of a quality list; the decoder shares one list per set of flags, so the text is made once per list. */
const qualityTexts = new WeakMap<readonly QualityFlag[], string>();
function qualityText(q: readonly QualityFlag[]): string {
  let t = qualityTexts.get(q);
  if (t === undefined) {
    t = '[';
    for (let i = 0; i < q.length; i++) t += i === 0 ? str(q[i]!) : `,${str(q[i]!)}`;
    t += ']';
    qualityTexts.set(q, t);
  }
  return t;
}

/** Turns a group of texts into messages (one shared buffer when all ASCII, as jsonV1Messages does) and empties the group. */
function flushTexts(texts: string[], keys: string[], heads: Record<string, string>[], out: OutMessage[]): void {
  const all = texts.join('');
  const bytes = Buffer.from(all);
  const ascii = bytes.length === all.length;
  let at = 0;
  for (let k = 0; k < texts.length; k++) {
    const t = texts[k]!;
    out.push({ key: keys[k]!, value: ascii ? bytes.subarray(at, at + t.length) : Buffer.from(t), headers: heads[k]! });
    at += t.length;
  }
  texts.length = 0;
  keys.length = 0;
  heads.length = 0;
}
