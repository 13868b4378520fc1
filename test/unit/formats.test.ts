import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { toFhirObservation } from '../../src/forwarder/formats/fhir-r4.js';
import { encodeJsonV1, JSON_V1_SCHEMA, toJsonV1 } from '../../src/forwarder/formats/json-v1.js';
import type { Reading } from '../../src/reading.js';
import { SAMPLE_READING, SAMPLE_T0 } from '../helpers/sample-reading.js';

const _t0 = SAMPLE_T0;
const reading: Reading = SAMPLE_READING;

const schema = JSON.parse(readFileSync(join(import.meta.dirname, '../../docs/schemas/reading-v1.json'), 'utf8')) as {
  required: string[];
  properties: Record<string, { enum?: string[] }>;
};

describe('wardgate JSON v1', () => {
  it('carries identity, clinical codes and both clocks; key = device id; headers name gateway, seq and schema', () => {
    const m = encodeJsonV1(reading);
    expect(m.key).toBe('mon-7');
    expect(m.headers).toMatchObject({ 'wardgate-gateway-id': 'gw-test', 'wardgate-seq': '42', 'wardgate-schema': JSON_V1_SCHEMA });
    const body = JSON.parse(String(m.value));
    expect(body).toMatchObject({ gatewayId: 'gw-test', seq: 42, loinc: '2708-6', mdc: { code: 150456, refId: 'MDC_PULS_OXIM_SAT_O2' }, unit: '%' });
    expect(body.deviceTime).toBe('2026-11-25T09:59:59.700Z');
    expect(body.gatewayTime).toBe('2026-11-25T10:00:00.000Z');
  });

  it('every body has the fields the JSON Schema requires and no others', () => {
    const body = toJsonV1(reading) as unknown as Record<string, unknown>;
    for (const f of schema.required) expect(body).toHaveProperty(f);
    for (const k of Object.keys(body)) expect(Object.keys(schema.properties)).toContain(k);
    expect(schema.properties.metric!.enum).toContain(body.metric);
  });
});

describe('FHIR R4 Observation', () => {
  it('has the vital-signs shape: status, category, LOINC first, UCUM quantity, effectiveDateTime, device and subject', () => {
    const o = toFhirObservation(reading)!;
    expect(o.resourceType).toBe('Observation');
    expect(o.status).toBe('final');
    expect(o.category[0]!.coding[0]).toMatchObject({ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'vital-signs' });
    expect(o.code.coding[0]).toMatchObject({ system: 'http://loinc.org', code: '2708-6' });
    expect(o.code.coding.map((c) => c.system)).toContain('urn:iso:std:iso:11073:10101');
    expect(o.valueQuantity).toEqual({ value: 97, unit: '%', system: 'http://unitsofmeasure.org', code: '%' });
    expect(o.effectiveDateTime).toBe('2026-11-25T09:59:59.700Z');
    expect(o.subject).toEqual({ reference: 'Patient/P-0001', identifier: { system: 'urn:wardgate:patient-id', value: 'P-0001' } });
    expect(o.device).toEqual({ reference: 'Device/mon-7', identifier: { system: 'urn:wardgate:device-id', value: 'mon-7' } });
    expect(o.meta?.profile).toContain('http://hl7.org/fhir/StructureDefinition/vitalsigns');
  });

  it('without a patient it makes no vital-signs profile claim', () => {
    const { patientId: _p, ...noPatient } = reading;
    const o = toFhirObservation(noPatient)!;
    expect(o.subject).toBeUndefined();
    expect(o.meta).toBeUndefined();
  });

  it('falls back to the gateway time when the device clock is unknown, and says so', () => {
    const { deviceTime: _d, ...noClock } = reading;
    const o = toFhirObservation({ ...noClock, quality: ['device_clock_unknown'] })!;
    expect(o.effectiveDateTime).toBe('2026-11-25T10:00:00.000Z');
    expect(o.note?.[0]?.text).toMatch(/gateway receive time/);
  });

  it('has no FHIR form for RSSI (not UCUM) or gateway events', () => {
    expect(toFhirObservation({ ...reading, metric: 'signal_strength', unit: 'dBm', value: -60 })).toBeNull();
    expect(toFhirObservation({ ...reading, metric: 'gateway_event', unit: '1', value: 3 })).toBeNull();
  });
});

describe('routing a lease to topics', async () => {
  const { routeLease, allTopics } = await import('../../src/forwarder/routing.js');
  const topics = { alarm: 'a', vital: 'v', status: 's', waveform: 'w' };
  const lease = {
    id: 1,
    priorityClass: 'vital' as const,
    bytes: 0,
    partial: false,
    readings: [reading, { ...reading, seq: 43, metric: 'signal_strength' as const, unit: 'dBm', value: -60 }],
  };

  it('sends JSON v1 on the class topic, keyed by device', () => {
    const out = routeLease(lease, { topics, key: 'device' });
    expect(out).toHaveLength(1);
    expect(out[0]!.topic).toBe('v');
    expect(out[0]!.messages.map((m) => m.key)).toEqual(['mon-7', 'mon-7']);
  });

  it('keys by patient when configured, falling back to the device', () => {
    const { patientId: _p, ...anon } = reading;
    const out = routeLease({ ...lease, readings: [reading, anon] }, { topics, key: 'patient' });
    expect(out[0]!.messages.map((m) => m.key)).toEqual(['P-0001', 'mon-7']);
  });

  it('adds FHIR Observations on the FHIR topic of the class, skipping readings with no FHIR form', () => {
    const out = routeLease(lease, { topics, key: 'device', fhirTopics: { vital: 'fhir.v' } });
    expect(out.map((b) => b.topic)).toEqual(['v', 'fhir.v']);
    expect(out[1]!.messages).toHaveLength(1);
    expect(JSON.parse(String(out[1]!.messages[0]!.value)).resourceType).toBe('Observation');
    expect(out[1]!.messages[0]!.headers['wardgate-schema']).toBe('fhir.r4.observation');
    expect(routeLease({ ...lease, priorityClass: 'alarm' }, { topics, key: 'device', fhirTopics: { vital: 'fhir.v' } })).toHaveLength(1);
    expect(allTopics({ topics, key: 'device', fhirTopics: { vital: 'fhir.v' } })).toEqual(['a', 'v', 's', 'w', 'fhir.v']);
  });
});
