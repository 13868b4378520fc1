/**
 * Every FHIR R4 Observation wardgate makes, validated by HAPI FHIR's instance validator (the
 * engine of HL7's reference validator, 8.8.1, offline) against base R4 and the profiles it claims
 * (vitalsigns, bp), plus the FHIR id rule on every reference: 0 errors. The expected side of each
 * check is the readings the test built (test/fhir/readings.ts). One JVM for the file.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { CATALOGUE } from '../../src/catalogue.js';
import { FHIR_ID, fhirId } from '../../src/forwarder/formats/fhir-id.js';
import { DEVICE_ALARM_EXTENSION, type FhirObservation, type FhirOut, toFhirObservations } from '../../src/forwarder/formats/fhir-r4.js';
import type { Reading } from '../../src/reading.js';
import { type FhirAnswer, fhirProblems, fhirValidator } from './java-checker.js';
import { ALARM_CASES, alarmReadings, commit, everyMetricAndUnit, ID_CASES, idCaseReadings, simulatedWard, T0 } from './readings.js';

const VITALS = 'http://hl7.org/fhir/StructureDefinition/vitalsigns';
// The JVM validates a few resources a second on a loaded 2-core box: generous per-test timeouts
// (never a pass condition), few but varied resources.
vi.setConfig({ testTimeout: 240_000, hookTimeout: 240_000 });
const validator = fhirValidator(true);
beforeAll(() => validator.start());
afterAll(() => validator.stop());

const errorsOf = (a: FhirAnswer): string[] =>
  fhirProblems({ ...a, results: a.results.map((r) => ({ ...r, messages: r.messages.filter((m) => m.severity === 'error' || m.severity === 'fatal') })) });
/**
 * The warnings an offline validation gives every Observation (docs/formats.md): LOINC and MDC are
 * not loaded, so their codes cannot be looked up, and so the extensible Vital Signs value-set
 * binding cannot be confirmed either (for EtCO2, 19891-1, it is a true miss). Any other warning
 * (a wrong display, an unknown extension, a best-practice rule) fails the test.
 */
const EXPECTED_WARNINGS = [
  /^CodeSystem is unknown and can't be validated: (http:\/\/loinc\.org|urn:iso:std:iso:11073:10101) for /,
  /^None of the codings provided are in the value set 'Vital Signs' \(http:\/\/hl7\.org\/fhir\/ValueSet\/observation-vitalsignresult\|4\.0\.1\)/,
];
async function validate(obs: FhirObservation[]): Promise<FhirAnswer> {
  const a = await validator.check(obs);
  expect(a.count).toBe(obs.length);
  const other = a.results.flatMap((r) =>
    r.messages
      .filter((m) => m.severity === 'warning' && !EXPECTED_WARNINGS.some((w) => w.test(m.message)))
      .map((m) => `#${r.index} ${m.location}: ${m.message}`),
  );
  expect(other).toEqual([]);
  return a;
}

describe('the validator can fail (negative controls)', () => {
  it('flags a vital-signs claim without a subject, an invalid id and a reference id that is not a FHIR id', async () => {
    const [good] = toFhirObservations(simulatedWard(1, 1).slice(0, 1)).map((f) => f.observation);
    const noSubject = { ...good!, subject: undefined };
    const badId = { ...good!, id: 'gw_1-5' };
    const badRef = { ...good!, device: { reference: 'Device/AA:BB' } };
    const a = await validate([good!, noSubject as FhirObservation, badId, badRef as FhirObservation]);
    const errs = a.results.map((r) =>
      r.messages
        .filter((m) => m.severity === 'error')
        .map((m) => m.message)
        .join(' | '),
    );
    expect(errs[0]).toBe('');
    expect(errs[1]).toMatch(/subject/i);
    expect(errs[2]).toMatch(/Invalid Resource id/);
    expect(errs[3]).toMatch(/not a valid FHIR id/);
  });
});

describe('simulated ward', () => {
  it('every Observation of 4 beds (2 ICU) over 20 s (vital signs, arterial and NIBP panels, EtCO2, temperature, alarms) has 0 errors', async () => {
    const readings = simulatedWard(4, 20);
    expect(readings.some((r) => r.priorityClass === 'alarm')).toBe(true);
    const out = toFhirObservations(readings);
    // Every reading with a FHIR form is carried by exactly one Observation.
    const carried = out.flatMap((f) => f.readings.map((r) => r.seq)).sort((a, b) => a - b);
    const expected = readings.filter((r) => CATALOGUE[r.metric].loinc.length > 0).map((r) => r.seq);
    expect(carried).toEqual(expected);
    expect(out.length).toBeGreaterThan(400);
    expect(out.filter((f) => f.observation.component).length).toBeGreaterThan(10);
    const a = await validate(out.map((f) => f.observation));
    expect(errorsOf(a)).toEqual([]);
  });
});

describe('edge-case ids', () => {
  const outs = new Map<string, FhirOut[]>(ID_CASES.map((c) => [c.name, toFhirObservations(idCaseReadings(c))]));

  it('0 validator errors for every case', async () => {
    const all = [...outs.values()].flatMap((o) => o.map((f) => f.observation));
    const a = await validate(all);
    expect(errorsOf(a)).toEqual([]);
  });

  it.each(ID_CASES)('$name: valid ids, originals kept as identifiers', (c) => {
    const out = outs.get(c.name)!;
    expect(out).toHaveLength(2); // SpO2 + the BP panel
    for (const f of out) {
      const o = f.observation;
      const first = f.readings[0]!;
      expect(o.id).toMatch(FHIR_ID);
      expect(o.identifier).toEqual(f.readings.map((r) => ({ system: 'urn:wardgate:reading', value: `${c.gatewayId}/${r.seq}` })));
      expect(o.device.identifier).toEqual({ system: 'urn:wardgate:device-id', value: c.deviceId });
      expect(o.device.reference.slice('Device/'.length)).toMatch(FHIR_ID);
      if (c.patientId === undefined) expect(o.subject).toBeUndefined();
      else {
        expect(o.subject!.identifier).toEqual({ system: 'urn:wardgate:patient-id', value: c.patientId });
        expect(o.subject!.reference.slice('Patient/'.length)).toMatch(FHIR_ID);
      }
      expect(first.gatewayId).toBe(c.gatewayId);
    }
  });

  it('plain ids are unchanged; the mapping is deterministic and distinct ids stay distinct', () => {
    expect(fhirId('mon-7')).toBe('mon-7');
    expect(fhirId('P-0001')).toBe('P-0001');
    expect(toFhirObservations(idCaseReadings(ID_CASES[0]!))[0]!.observation.id).toBe(`gw-ward-3-${ID_CASES[0]!.seq}`);
    const raws = [...new Set(ID_CASES.flatMap((c) => [c.gatewayId, c.deviceId, c.bed, ...(c.patientId ? [c.patientId] : [])]))];
    // Near misses of each other: escapes, dots, case, long ids differing only at the end.
    raws.push('gw.5Fward.5F3', 'gw ward 3', 'GW_WARD_3', 'a_5F', 'a.2E5F', `${'d'.repeat(127)}e`, 'd'.repeat(129), 'AA-BB-CC-DD-EE-FF', 'aa:bb:cc:dd:ee:ff');
    const ids = raws.map((r) => fhirId(r));
    expect(raws.map((r) => fhirId(r))).toEqual(ids);
    expect(new Set(ids).size).toBe(raws.length);
    for (const id of ids) expect(id).toMatch(FHIR_ID);
  });

  it('a custom identifier system is used for patient and device', () => {
    const [o] = toFhirObservations(idCaseReadings(ID_CASES[3]!), { patientSystem: 'urn:oid:1.2.3.4', deviceSystem: 'https://hospital.example/devices' });
    expect(o!.observation.subject!.identifier).toEqual({ system: 'urn:oid:1.2.3.4', value: 'MRN 0001 234' });
    expect(o!.observation.device.identifier.system).toBe('https://hospital.example/devices');
  });
});

describe('every catalogue metric and unit conversion', () => {
  const readings = everyMetricAndUnit();
  const out = toFhirObservations(readings);

  it('0 validator errors', async () => {
    const a = await validate(out.map((f) => f.observation));
    expect(errorsOf(a)).toEqual([]);
  });

  it("values and units are the readings' (converted to the catalogue unit), codes the catalogue's", () => {
    const fhirMetrics = new Set(readings.filter((r) => CATALOGUE[r.metric].loinc.length > 0).map((r) => r.metric));
    expect(fhirMetrics.size).toBeGreaterThan(10);
    for (const f of out) {
      const o = f.observation;
      if (o.component) {
        expect(o.component.map((c) => c.valueQuantity!.value)).toEqual(expect.arrayContaining(f.readings.map((r) => r.value)));
        continue;
      }
      const r = f.readings[0]!;
      const def = CATALOGUE[r.metric];
      expect(o.valueQuantity).toEqual({ value: r.value, unit: def.unit, system: 'http://unitsofmeasure.org', code: def.unit });
      expect(o.code.coding[0]).toMatchObject({ system: 'http://loinc.org', code: def.loinc[0] });
    }
  });

  it('glucose is a point-of-care laboratory result without the vital-signs profile; the vital signs keep it', () => {
    for (const f of out) {
      const o = f.observation;
      const metric = f.readings[0]!.metric;
      const cat = o.category[0]!.coding[0]!.code;
      if (metric === 'glucose') {
        expect(cat).toBe('laboratory');
        expect(o.meta?.profile ?? []).not.toContain(VITALS);
      } else {
        expect(cat).toBe('vital-signs');
        expect(o.meta?.profile ?? []).toEqual(f.readings[0]!.patientId !== undefined ? expect.arrayContaining([VITALS]) : []);
      }
    }
    expect(out.filter((f) => f.readings[0]!.metric === 'glucose').length).toBe(2 * (1 + Object.keys(CATALOGUE.glucose.convert!).length));
  });
});

describe('extreme values a device may send (kept, flagged out_of_range)', () => {
  it("0 validator errors; the value is the reading's, flagged A", async () => {
    const readings = commit(
      [1e25, 1e-7, -2.5e-9, 0].map((value) => ({
        deviceId: 'mon-x',
        deviceKind: 'serial' as const,
        bed: 'BED-X',
        patientId: 'P-9',
        metric: 'body_temp',
        value,
        deviceTime: T0,
      })),
      'gw-ward-3',
      6000,
    );
    const out = toFhirObservations(readings);
    const a = await validate(out.map((f) => f.observation));
    expect(errorsOf(a)).toEqual([]);
    out.forEach((f, i) => {
      expect(f.observation.valueQuantity!.value).toBe(readings[i]!.value);
      expect(f.observation.interpretation![0]!.coding[0]!.code).toBe('A');
    });
  });
});

describe('special values: no number, a data-absent reason (dataAbsentReason instead of valueQuantity)', () => {
  it('0 validator errors for every value-absent flag, alone and as a BP panel component', async () => {
    const base = { deviceId: 'ox-1', deviceKind: 'ble' as const, bed: 'BED-S', patientId: 'P-5', deviceTime: T0 };
    const flags = ['value_nan', 'value_nres', 'value_positive_infinity', 'value_negative_infinity', 'value_reserved'] as const;
    const readings = commit(
      [
        ...flags.map((flag) => ({ ...base, metric: 'spo2', value: NaN, quality: [flag] })),
        { ...base, metric: 'nibp_sys', value: 120, unit: 'mm[Hg]' },
        { ...base, metric: 'nibp_dia', value: NaN, unit: 'mm[Hg]', quality: ['value_nan' as const] },
      ],
      'gw-ward-3',
      7000,
    );
    const out = toFhirObservations(readings);
    const a = await validate(out.map((f) => f.observation));
    expect(errorsOf(a)).toEqual([]);
    expect(out.slice(0, 5).map((f) => [f.observation.valueQuantity, f.observation.dataAbsentReason?.coding[0]?.code])).toEqual([
      [undefined, 'not-a-number'],
      [undefined, 'error'],
      [undefined, 'positive-infinity'],
      [undefined, 'negative-infinity'],
      [undefined, 'error'],
    ]);
    const panel = out[5]!.observation;
    expect(panel.component!.map((c) => [c.valueQuantity?.value, c.dataAbsentReason?.coding[0]?.code])).toEqual([
      [120, undefined],
      [undefined, 'not-a-number'],
    ]);
  });

  it('the validator refuses an Observation with neither a value nor a data-absent reason (negative control)', async () => {
    const [r] = commit(
      [{ deviceId: 'ox-1', deviceKind: 'ble', bed: 'BED-S', patientId: 'P-5', deviceTime: T0, metric: 'spo2', value: NaN, quality: ['value_nan'] }],
      'gw-ward-3',
      7100,
    );
    const obs = toFhirObservations([r!])[0]!.observation;
    const { dataAbsentReason: _d, ...neither } = obs;
    const a = await validator.check([neither as FhirObservation]);
    expect(errorsOf(a).length).toBeGreaterThan(0);
  });
});

describe('alarms', () => {
  const readings = alarmReadings();
  const out = toFhirObservations(readings);
  const byReading = (r: Reading) => out.find((f) => f.readings.some((x) => x.seq === r.seq))!;

  it('0 validator errors', async () => {
    const a = await validate(out.map((f) => f.observation));
    expect(errorsOf(a)).toEqual([]);
  });

  it.each(ALARM_CASES.map((c, i) => ({ ...c, i })))('$name -> $interpretation, with the device alarm', (c) => {
    const r = readings[c.i]!;
    const f = byReading(r);
    const target = f.observation.component ? f.observation.component[0]! : f.observation;
    expect(target.interpretation![0]!.coding[0]).toMatchObject({
      system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation',
      code: c.interpretation,
    });
    const ext = target.extension!.find((e) => e.url === DEVICE_ALARM_EXTENSION)!;
    const sub = Object.fromEntries(ext.extension!.map((e) => [e.url, e.valueString ?? e.valueCode ?? e.valueBoolean]));
    expect(sub.condition).toBe(String(c.extra.alarm));
    expect(sub.priority).toBe(c.extra.severity);
    expect(sub.state).toBe(c.extra.state);
    expect(sub.silenced).toBe(c.extra.silenced);
  });

  it('the same readings as routine vitals carry neither interpretation nor the alarm extension', () => {
    for (const f of toFhirObservations(alarmReadings('vital'))) {
      const o = f.observation;
      for (const t of [o, ...(o.component ?? [])]) {
        expect(t.extension).toBeUndefined();
        // An out-of-range value is still flagged A, an in-range one not at all.
        expect(t.interpretation?.[0]?.coding[0]?.code ?? null).toBe(
          f.readings.some((r) => r.quality.includes('out_of_range')) && t === o && !o.component ? 'A' : t.interpretation ? 'A' : null,
        );
      }
    }
    expect(T0).toBeGreaterThan(0);
  });
});
