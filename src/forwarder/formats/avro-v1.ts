/**
 * wardgate reading v1 in Avro binary (opt-in, `kafka.format: avro-v1`): the same fields as JSON v1
 * (formats/json-v1.ts, docs/schemas/reading-v1.json) but "schema", which the header wardgate-schema
 * ('wardgate.reading.v1+avro') names, for sites whose uplink is thin. Each Kafka message value is
 * one plain Avro binary datum of docs/schemas/reading-v1.avsc: no object container, no
 * single-object header (it would add 10 bytes to every reading; the header already names the
 * schema). A consumer decodes it with stock tools and the .avsc, e.g. with the `avsc` npm package:
 * `avro.Type.forSchema(JSON.parse(fs.readFileSync('reading-v1.avsc', 'utf8'))).fromBuffer(value)`,
 * or Apache avro-tools: `java -jar avro-tools.jar fragtojson --schema-file reading-v1.avsc value.bin`.
 * Times are timestamp-millis (ms since the epoch, UTC). READING_V1_AVSC is the .avsc file's
 * content, its enums taken from the append-only lists in src/reading.ts and src/catalogue.ts;
 * test/forwarder/avro-v1.test.ts checks the two are the same.
 */
import avro from 'avsc';
import { readingAt } from '../../buffer/codec.js';
import type { UnitSlice } from '../../buffer/types.js';
import { CATALOGUE } from '../../catalogue.js';
import { DEVICE_KINDS, PRIORITY_CLASSES, QUALITY_FLAGS, type Reading } from '../../reading.js';
import type { OutMessage } from '../client.js';
import { encodeJsonV1, readingHeaders, seqHeaders } from './json-v1.js';

export const AVRO_V1_SCHEMA = 'wardgate.reading.v1+avro';

export const READING_V1_AVSC = {
  type: 'record',
  name: 'Reading',
  namespace: 'wardgate.reading.v1',
  doc:
    'wardgate reading v1, Avro binary form of docs/schemas/reading-v1.json (the same fields but "schema", which the header wardgate-schema names). ' +
    'One plain binary datum per Kafka message, no container, no fingerprint.',
  fields: [
    {
      name: 'gatewayId',
      type: 'string',
    },
    {
      name: 'seq',
      type: 'long',
    },
    {
      name: 'deviceId',
      type: 'string',
    },
    {
      name: 'deviceKind',
      type: {
        type: 'enum',
        name: 'DeviceKind',
        symbols: [...DEVICE_KINDS],
      },
    },
    {
      name: 'bed',
      type: 'string',
    },
    {
      name: 'patientId',
      type: ['null', 'string'],
      default: null,
    },
    {
      name: 'metric',
      type: {
        type: 'enum',
        name: 'Metric',
        symbols: Object.keys(CATALOGUE),
      },
    },
    {
      name: 'mdc',
      type: [
        'null',
        {
          type: 'record',
          name: 'Mdc',
          fields: [
            {
              name: 'code',
              type: 'long',
            },
            {
              name: 'refId',
              type: 'string',
            },
          ],
        },
      ],
      default: null,
    },
    {
      name: 'loinc',
      type: ['null', 'string'],
      default: null,
    },
    {
      name: 'value',
      type: ['null', 'double'],
      doc: 'null exactly when quality holds a value_* flag',
      default: null,
    },
    {
      name: 'unit',
      type: 'string',
    },
    {
      name: 'deviceTime',
      type: [
        'null',
        {
          type: 'long',
          logicalType: 'timestamp-millis',
        },
      ],
      default: null,
    },
    {
      name: 'gatewayTime',
      type: {
        type: 'long',
        logicalType: 'timestamp-millis',
      },
    },
    {
      name: 'priority',
      type: {
        type: 'enum',
        name: 'Priority',
        symbols: [...PRIORITY_CLASSES],
      },
    },
    {
      name: 'quality',
      type: {
        type: 'array',
        items: {
          type: 'enum',
          name: 'QualityFlag',
          symbols: [...QUALITY_FLAGS],
        },
      },
    },
    {
      name: 'extra',
      type: [
        'null',
        {
          type: 'map',
          values: ['string', 'double', 'boolean'],
        },
      ],
      default: null,
    },
  ],
};

const type = avro.Type.forSchema(READING_V1_AVSC as unknown as avro.Schema);

/** The metric's mdc and loinc fields, made once per metric (none for a metric the catalogue does not know: the schema refuses it). */
const fixed = new Map<string, { mdc: { code: number; refId: string } | null; loinc: string | null }>();
function metricFields(metric: Reading['metric']): { mdc: { code: number; refId: string } | null; loinc: string | null } {
  let f = fixed.get(metric);
  if (f === undefined) {
    const def = Object.hasOwn(CATALOGUE, metric) ? CATALOGUE[metric] : undefined;
    if (def === undefined) return { mdc: null, loinc: null };
    f = { mdc: def.mdcCode !== undefined && def.mdcRefId !== undefined ? { code: def.mdcCode, refId: def.mdcRefId } : null, loinc: def.loinc[0] ?? null };
    fixed.set(metric, f);
  }
  return f;
}

/**
 * A time as whole ms. The buffer keeps fractional times (an MQTT sensor's epoch seconds with a
 * fraction, times 1000, rarely come out whole) and Avro's long takes integers only: the fraction
 * is dropped toward zero, which is what JSON v1's ISO text (Date) does with it, so both name the same instant.
 */
const ms = (t: number): number => (Number.isInteger(t) ? t : Math.trunc(t));

/** The Avro record of a reading: JSON v1's fields (formats/json-v1.ts toJsonV1) without "schema", times as ms, absent optional fields as null. */
function toAvroV1(r: Reading): Record<string, unknown> {
  const f = metricFields(r.metric);
  return {
    gatewayId: r.gatewayId,
    seq: r.seq,
    deviceId: r.deviceId,
    deviceKind: r.deviceKind,
    bed: r.bed,
    patientId: r.patientId ?? null,
    metric: r.metric,
    mdc: f.mdc,
    loinc: f.loinc,
    value: Number.isFinite(r.value) ? r.value : null,
    unit: r.unit,
    deviceTime: r.deviceTime === undefined ? null : ms(r.deviceTime),
    gatewayTime: ms(r.gatewayTime),
    priority: r.priorityClass,
    quality: r.quality,
    extra: r.extra ?? null,
  };
}

/** One reading's Avro binary datum. */
export function encodeAvroV1(r: Reading): Buffer {
  return type.toBuffer(toAvroV1(r));
}

/** The header on a reading the schema refused, sent as JSON v1 instead: the first field the schema refused. */
export const AVRO_INVALID_HEADER = 'wardgate-avro-invalid';

/**
 * The first field of the reading's record the schema refuses (e.g. `deviceKind`: a symbol the
 * schema's enum lacks), the name only: a field's value may be patient data.
 */
function avroInvalidField(r: Reading): string {
  let field = '';
  type.isValid(toAvroV1(r), {
    errorHook: (path: string[]) => {
      field ||= path[0] ?? '';
    },
  });
  return field || 'record';
}

/**
 * The Avro v1 messages of many readings, in order, appended to `out`. A reading the schema
 * does not allow (a value no validated reading has: an enum symbol the schema lacks, say from a
 * catalogue newer than the schema, or a reading that bypassed validation) is not dropped and
 * does not stop the lease: it goes out in its place as its JSON v1 message (header
 * wardgate-schema wardgate.reading.v1, as with kafka.format json-v1) with the header
 * wardgate-avro-invalid naming the refused field, and `onInvalid` is told (the forwarder counts
 * and logs it).
 */
export function avroV1Messages(
  readings: readonly Reading[],
  keyOf: (r: Reading) => string,
  out: OutMessage[],
  onInvalid?: (r: Reading, field: string) => void,
): void {
  for (const r of readings) {
    let value: Buffer;
    try {
      value = encodeAvroV1(r);
    } catch {
      const field = avroInvalidField(r);
      const json = encodeJsonV1(r);
      out.push({ key: keyOf(r), value: json.value, headers: { ...json.headers, [AVRO_INVALID_HEADER]: field } });
      onInvalid?.(r, field);
      continue;
    }
    out.push({ key: keyOf(r), value, headers: readingHeaders(r, AVRO_V1_SCHEMA) });
  }
}

/**
 * The same messages as avroV1Messages of the same readings, written from a lease's decoded units
 * (src/buffer/codec.ts UnitColumns) without a Reading object per reading (one is made only for
 * a reading the schema refuses, for its JSON v1 message).
 */
export function avroV1UnitMessages(
  units: readonly UnitSlice[],
  key: 'device' | 'patient',
  out: OutMessage[],
  onInvalid?: (r: Reading, field: string) => void,
): void {
  for (const u of units) {
    const c = u.columns;
    for (let i = u.from; i < u.to; i++) {
      const s = c.sources[c.source[i]!]!;
      const metric = c.metric[i]!;
      const f = metricFields(metric.id);
      const seq = c.firstSeq + i;
      const v = c.value[i]!;
      const record = {
        gatewayId: c.gatewayId,
        seq,
        deviceId: s.deviceId,
        deviceKind: s.deviceKind,
        bed: s.bed,
        patientId: s.patientId ?? null,
        metric: metric.id,
        mdc: f.mdc,
        loinc: f.loinc,
        value: Number.isFinite(v) ? v : null,
        unit: c.unit[i]!,
        deviceTime: c.hasDeviceTime[i] === 1 ? ms(c.deviceTime[i]!) : null,
        gatewayTime: ms(c.gatewayTime[i]!),
        priority: c.priorityClass,
        quality: c.quality[i]!,
        extra: c.extra[i] ?? null,
      };
      const messageKey = key === 'patient' && s.patientId !== undefined ? s.patientId : s.deviceId;
      let value: Buffer;
      try {
        value = type.toBuffer(record);
      } catch {
        avroV1Messages([readingAt(c, i)], () => messageKey, out, onInvalid);
        continue;
      }
      out.push({ key: messageKey, value, headers: seqHeaders(c.gatewayId, seq, AVRO_V1_SCHEMA) });
    }
  }
}
