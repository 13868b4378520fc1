/**
 * Avro v1 (formats/avro-v1.ts): every message decodes, with avsc and the schema FILE
 * docs/schemas/reading-v1.avsc, to the fields of the JSON v1 message of the same reading
 * (JSON v1 parsed back from its bytes, times compared as instants); and kafka.format avro-v1
 * makes the routing send Avro, named in the wardgate-schema header.
 */
import { readFileSync } from 'node:fs';
import avro from 'avsc';
import { describe, expect, it } from 'vitest';
import type { Lease } from '../../src/buffer/types.js';
import { AVRO_V1_SCHEMA, encodeAvroV1, READING_V1_AVSC } from '../../src/forwarder/formats/avro-v1.js';
import { encodeJsonV1 } from '../../src/forwarder/formats/json-v1.js';
import { routeLease } from '../../src/forwarder/routing.js';
import type { Reading } from '../../src/reading.js';

const file = JSON.parse(readFileSync(new URL('../../docs/schemas/reading-v1.avsc', import.meta.url), 'utf8')) as avro.Schema;
const fromFile = avro.Type.forSchema(file);
const t0 = Date.parse('2026-12-06T05:00:00.123Z');

const base: Reading = {
  gatewayId: 'gw-7',
  seq: 41,
  deviceId: 'mon-3',
  deviceKind: 'serial',
  bed: 'BED-03',
  metric: 'heart_rate',
  value: 72,
  unit: '/min',
  gatewayTime: t0,
  priorityClass: 'vital',
  quality: [],
};

const cases: { name: string; r: Reading }[] = [
  { name: 'plain integer value, no patient, no device time', r: base },
  {
    name: 'fraction, patient, device time',
    r: { ...base, seq: 2 ** 40 + 3, value: 36.6, metric: 'body_temp', unit: 'Cel', patientId: 'P-ü-1', deviceTime: t0 - 17 },
  },
  { name: 'null value with its quality flag', r: { ...base, value: Number.NaN, quality: ['value_nres', 'questionable'] } },
  { name: 'alarm with extras of each kind', r: { ...base, priorityClass: 'alarm', extra: { alarm: 'HR_HIGH', limit: 120.5, acked: false, n: 3 } } },
  {
    name: 'gateway event, no mdc or loinc',
    r: { ...base, deviceKind: 'gateway', metric: 'gateway_event', value: 0, unit: '1', priorityClass: 'status', extra: { event: 'gap' } },
  },
  {
    name: 'negative value, several flags',
    r: { ...base, metric: 'signal_strength', value: -67, unit: 'dBm', quality: ['simulated', 'device_clock_skew', 'out_of_range'] },
  },
];

/** The decoded Avro record in JSON v1's shape: absent optional fields dropped, times as ISO text. */
function asJsonV1(d: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { schema: 'wardgate.reading.v1' };
  for (const [k, v] of Object.entries(d)) {
    if (v === null && k !== 'value') continue;
    out[k] = k === 'gatewayTime' || k === 'deviceTime' ? new Date(v as number).toISOString() : v;
  }
  return out;
}

describe('Avro v1', () => {
  it('the schema file is the schema the encoder uses', () => {
    expect(READING_V1_AVSC).toEqual(file);
  });

  it.each(cases)('$name: decodes with the .avsc to the JSON v1 fields', ({ r }) => {
    const bytes = encodeAvroV1(r);
    const decoded = fromFile.fromBuffer(bytes) as Record<string, unknown>;
    const json = JSON.parse(String(encodeJsonV1(r).value)) as Record<string, unknown>;
    expect(asJsonV1({ ...decoded })).toEqual(json);
    expect(bytes.length).toBeLessThan(encodeJsonV1(r).value.length);
  });

  it('kafka.format avro-v1 sends Avro; the default sends JSON v1', () => {
    const readings = cases.map((c) => c.r);
    const lease: Lease = { id: 1, priorityClass: 'vital', bytes: 0, partial: false, readings };
    const topics = { alarm: 'a', vital: 'v', status: 's', waveform: 'w' };
    const [avroBatch] = routeLease(lease, { topics, key: 'patient', format: 'avro-v1' });
    expect(avroBatch!.topic).toBe('v');
    expect(avroBatch!.messages.map((m) => m.key)).toEqual(readings.map((r) => r.patientId ?? r.deviceId));
    avroBatch!.messages.forEach((m, i) => {
      expect(m.headers['wardgate-schema']).toBe(AVRO_V1_SCHEMA);
      expect(m.headers['wardgate-seq']).toBe(String(readings[i]!.seq));
      expect((fromFile.fromBuffer(m.value as Buffer) as { seq: number }).seq).toBe(readings[i]!.seq);
    });
    const [jsonBatch] = routeLease(lease, { topics, key: 'device' });
    expect(jsonBatch!.messages.map((m) => (JSON.parse(String(m.value)) as { seq: number }).seq)).toEqual(readings.map((r) => r.seq));
  });
});
