/**
 * FHIR R4 Observations: the vital-signs shape of every form (single reading, blood-pressure
 * panel, partial panel), checked by one structural validator over a table of cases, then the
 * panel's own rules. Routing of a whole lease is in routing.test.ts.
 */
import { describe, expect, it } from 'vitest';
import {
  BP_PANEL_LOINC,
  type FhirObservation,
  type FhirQuantity,
  toBpPanel,
  toFhirObservation,
  toFhirObservations,
} from '../../src/forwarder/formats/fhir-r4.js';
import type { Reading } from '../../src/reading.js';

const LOINC = 'http://loinc.org';
const UCUM = 'http://unitsofmeasure.org';
const MDC = 'urn:iso:std:iso:11073:10101';
const VITALS = 'http://hl7.org/fhir/StructureDefinition/vitalsigns';
const BP = 'http://hl7.org/fhir/StructureDefinition/bp';
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/;

const t0 = Date.parse('2026-11-25T10:00:00.000Z');
let nextSeq = 100;
/** A committed reading of mon-7 in bed ICU-07 for patient P-0001, measured 300 ms before receipt. */
function rd(metric: Reading['metric'], value: number, over: Partial<Reading> = {}): Reading {
  const unit = { spo2: '%', heart_rate: '/min', pulse_rate_nibp: '/min', body_temp: 'Cel' }[metric as string] ?? 'mm[Hg]';
  return {
    gatewayId: 'gw-test',
    seq: nextSeq++,
    deviceId: 'mon-7',
    deviceKind: 'serial',
    bed: 'ICU-07',
    patientId: 'P-0001',
    metric,
    value,
    unit,
    deviceTime: t0 - 300,
    gatewayTime: t0,
    priorityClass: 'vital',
    quality: [],
    ...over,
  };
}

function expectQuantity(q: FhirQuantity | undefined, unit: string): void {
  expect(q).toBeDefined();
  expect(q!.system).toBe(UCUM);
  expect(q!.code).toBe(unit);
  expect(q!.unit).toBe(unit);
  expect(Number.isFinite(q!.value)).toBe(true);
}

/** What every Observation wardgate sends must have, whatever its form. */
function expectVitalSignsShape(o: FhirObservation): void {
  expect(o.resourceType).toBe('Observation');
  expect(o.status).toBe('final');
  expect(o.category).toEqual([
    { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'vital-signs', display: 'Vital Signs' }] },
  ]);
  expect(o.code.coding[0]!.system).toBe(LOINC);
  expect(o.code.coding[0]!.code).toMatch(/^\d+-\d$/);
  for (const c of o.code.coding) expect(c.system).toMatch(/^(http|urn):/);
  expect(o.effectiveDateTime).toMatch(ISO);
  expect(o.issued).toMatch(ISO);
  expect(o.device.reference).toMatch(/^Device\//);
  expect(o.id).toMatch(/^[A-Za-z0-9\-.]{1,64}$/);
  expect(o.identifier.length).toBeGreaterThan(0);
  // A value or components, never both (vs-2 / the BP profile: the panel has no value of its own).
  if (o.component) {
    expect(o.valueQuantity).toBeUndefined();
    expect(o.component.length).toBeGreaterThan(0);
    for (const c of o.component) {
      expect(c.code.coding[0]!.system).toBe(LOINC);
      expectQuantity(c.valueQuantity, 'mm[Hg]');
    }
  } else {
    expect(o.valueQuantity).toBeDefined();
    expectQuantity(o.valueQuantity, o.valueQuantity!.code);
  }
}

const codes = (o: FhirObservation | { code: FhirObservation['code'] }) =>
  o.code.coding.map((c) => `${c.system === LOINC ? 'loinc' : c.system === MDC ? 'mdc' : c.system}:${c.code}`);
const componentCodes = (o: FhirObservation) => (o.component ?? []).map((c) => c.code.coding[0]!.code);

interface Case {
  name: string;
  readings: Reading[];
  code: string;
  /** First codes of the components, in order; undefined for a single-value Observation. */
  components?: string[];
  values: number[];
  profiles?: string[];
}

const cases: Case[] = [
  { name: 'SpO2 (single value)', readings: [rd('spo2', 97)], code: '2708-6', values: [97], profiles: [VITALS] },
  { name: 'heart rate (single value)', readings: [rd('heart_rate', 72)], code: '8867-4', values: [72], profiles: [VITALS] },
  { name: 'pulse rate from the NIBP cuff stays its own Observation', readings: [rd('pulse_rate_nibp', 71)], code: '8867-4', values: [71], profiles: [VITALS] },
  {
    name: 'NIBP systolic + diastolic = one panel',
    readings: [rd('nibp_sys', 120), rd('nibp_dia', 80)],
    code: BP_PANEL_LOINC,
    components: ['8480-6', '8462-4'],
    values: [120, 80],
    profiles: [VITALS, BP],
  },
  {
    name: 'NIBP with mean = three components',
    readings: [rd('nibp_sys', 120), rd('nibp_dia', 80), rd('nibp_mean', 93)],
    code: BP_PANEL_LOINC,
    components: ['8480-6', '8462-4', '8478-0'],
    values: [120, 80, 93],
    profiles: [VITALS, BP],
  },
  {
    name: 'members out of role order are put in sys, dia, mean order',
    readings: [rd('nibp_mean', 93), rd('nibp_dia', 80), rd('nibp_sys', 120)],
    code: BP_PANEL_LOINC,
    components: ['8480-6', '8462-4', '8478-0'],
    values: [120, 80, 93],
    profiles: [VITALS, BP],
  },
  {
    name: 'lone systolic = panel with one component, no BP profile claim',
    readings: [rd('nibp_sys', 120)],
    code: BP_PANEL_LOINC,
    components: ['8480-6'],
    values: [120],
    profiles: [VITALS],
  },
  {
    name: 'lone diastolic = panel with one component',
    readings: [rd('nibp_dia', 80)],
    code: BP_PANEL_LOINC,
    components: ['8462-4'],
    values: [80],
    profiles: [VITALS],
  },
  {
    name: 'invasive arterial pressure = panel with the profile codes first',
    readings: [rd('abp_sys', 131), rd('abp_dia', 72), rd('abp_mean', 92)],
    code: BP_PANEL_LOINC,
    components: ['8480-6', '8462-4', '8478-0'],
    values: [131, 72, 92],
    profiles: [VITALS, BP],
  },
  {
    name: 'no patient: no subject, no profile claim',
    readings: [rd('nibp_sys', 120, { patientId: undefined }), rd('nibp_dia', 80, { patientId: undefined })],
    code: BP_PANEL_LOINC,
    components: ['8480-6', '8462-4'],
    values: [120, 80],
  },
];

describe('FHIR R4 Observation forms (table)', () => {
  it.each(cases)('$name', (c) => {
    const readings = c.readings.map((r) => (r.patientId === undefined ? (({ patientId: _p, ...rest }) => rest)(r) : r));
    const out = toFhirObservations(readings);
    expect(out).toHaveLength(1);
    const o = out[0]!.observation;
    expectVitalSignsShape(o);
    expect(o.code.coding[0]!.code).toBe(c.code);
    if (c.components) {
      expect(componentCodes(o)).toEqual(c.components);
      expect(o.component!.map((x) => x.valueQuantity!.value)).toEqual(c.values);
    } else {
      expect(o.component).toBeUndefined();
      expect(o.valueQuantity!.value).toBe(c.values[0]);
    }
    expect(o.meta?.profile).toEqual(c.profiles);
    expect(o.subject).toEqual(c.profiles ? { reference: 'Patient/P-0001', identifier: { system: 'urn:wardgate:patient-id', value: 'P-0001' } } : undefined);
    expect(o.device).toEqual({ reference: 'Device/mon-7', identifier: { system: 'urn:wardgate:device-id', value: 'mon-7' } });
    expect(o.effectiveDateTime).toBe('2026-11-25T09:59:59.700Z');
    expect(o.issued).toBe('2026-11-25T10:00:00.000Z');
    // Identity: id from the lowest seq, one identifier per reading carried.
    const seqs = readings.map((r) => r.seq).sort((a, b) => a - b);
    expect(o.id).toBe(`gw-test-${seqs[0]}`);
    expect(o.identifier).toEqual(seqs.map((s) => ({ system: 'urn:wardgate:reading', value: `gw-test/${s}` })));
    expect(out[0]!.readings.map((r) => r.seq)).toEqual(seqs);
  });
});

describe('blood-pressure panel', () => {
  it('has no value of its own, LOINC 85354-9 with its display, and each component keeps its MDC code as an extra coding', () => {
    const o = toBpPanel([rd('nibp_sys', 120), rd('nibp_dia', 80), rd('nibp_mean', 93)]);
    expect(o.valueQuantity).toBeUndefined();
    expect(o.code.coding).toEqual([{ system: LOINC, code: '85354-9', display: 'Blood pressure panel with all children optional' }]);
    expect(o.component!.map(codes)).toEqual([
      ['loinc:8480-6', 'mdc:150021'],
      ['loinc:8462-4', 'mdc:150022'],
      ['loinc:8478-0', 'mdc:150023'],
    ]);
    expect(o.component![0]!.code.coding[1]).toEqual({ system: MDC, code: '150021', display: 'MDC_PRESS_BLD_NONINV_SYS' });
    expect(o.component![0]!.valueQuantity).toEqual({ value: 120, unit: 'mm[Hg]', system: UCUM, code: 'mm[Hg]' });
  });

  it('invasive components carry the profile code, then the invasive LOINC and the ABP MDC code', () => {
    const o = toBpPanel([rd('abp_sys', 131), rd('abp_dia', 72), rd('abp_mean', 92)]);
    expect(o.component!.map(codes)).toEqual([
      ['loinc:8480-6', 'loinc:76215-3', 'mdc:150037'],
      ['loinc:8462-4', 'loinc:76213-8', 'mdc:150038'],
      ['loinc:8478-0', 'loinc:76214-6', 'mdc:150039'],
    ]);
    expect(o.code.text).toMatch(/invasive/i);
    expect(toBpPanel([rd('nibp_sys', 120)]).code.text).toMatch(/non-invasive/i);
  });

  it('puts out_of_range on the component it concerns, not on the panel', () => {
    const o = toBpPanel([rd('nibp_sys', 310, { quality: ['out_of_range'] }), rd('nibp_dia', 80)]);
    expect(o.interpretation).toBeUndefined();
    expect(o.component![0]!.interpretation).toEqual([
      { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation', code: 'A', display: 'Abnormal' }] },
    ]);
    expect(o.component![1]!.interpretation).toBeUndefined();
  });

  it('without a device clock uses the gateway time and says so; simulated members add a note', () => {
    const { deviceTime: _a, ...s } = rd('nibp_sys', 120, { quality: ['device_clock_unknown', 'simulated'] });
    const { deviceTime: _b, ...d } = rd('nibp_dia', 80, { quality: ['device_clock_unknown', 'simulated'] });
    const o = toBpPanel([s, d]);
    expect(o.effectiveDateTime).toBe('2026-11-25T10:00:00.000Z');
    expect(o.note?.map((n) => n.text)).toEqual(['effectiveDateTime is the gateway receive time (device clock unknown or skewed)', 'simulated device']);
  });

  it('issued is the latest receive time of its members', () => {
    const o = toBpPanel([rd('nibp_sys', 120), rd('nibp_dia', 80, { gatewayTime: t0 + 40 })]);
    expect(o.issued).toBe('2026-11-25T10:00:00.040Z');
    expect(o.effectiveDateTime).toBe('2026-11-25T09:59:59.700Z');
  });

  it('refuses to mix invasive and non-invasive pressures, or non-pressure metrics', () => {
    expect(() => toBpPanel([rd('nibp_sys', 120), rd('abp_dia', 80)])).toThrow(TypeError);
    expect(() => toBpPanel([rd('spo2', 97)])).toThrow(TypeError);
    expect(() => toBpPanel([])).toThrow(TypeError);
  });

  it('a BP reading on its own has the panel as its FHIR form', () => {
    const o = toFhirObservation(rd('nibp_dia', 80))!;
    expect(o.code.coding[0]!.code).toBe(BP_PANEL_LOINC);
    expect(componentCodes(o)).toEqual(['8462-4']);
  });

  it('keeps the device precision of a component value (no rounding)', () => {
    const o = toBpPanel([rd('nibp_sys', 120.5), rd('nibp_dia', 80.25)]);
    expect(o.component!.map((c) => c.valueQuantity!.value)).toEqual([120.5, 80.25]);
  });
});
