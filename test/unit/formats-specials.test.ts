/**
 * Special values (IEEE 11073 NaN, NRes, +/-INFINITY, reserved; a monitor's FLOAT specials): a
 * reading with a value-absent flag and no number, through normalise -> the unit codec -> JSON v1
 * (value null), FHIR R4 (dataAbsentReason) and HL7 v2 PCD-01 (OBX-5 empty, OBX-11 X).
 */
import { describe, expect, it } from 'vitest';
import { decodeUnit, decodeUnitColumns, encodeUnit } from '../../src/buffer/codec.js';
import type { OutMessage } from '../../src/forwarder/client.js';
import { toBpPanel, toFhirObservation } from '../../src/forwarder/formats/fhir-r4.js';
import { toPcd01Message } from '../../src/forwarder/formats/hl7v2-pcd01.js';
import { jsonV1Text, jsonV1UnitMessages, toJsonV1 } from '../../src/forwarder/formats/json-v1.js';
import { normalise, type QualityFlag, type ReadingInput, ReadingRejected } from '../../src/reading.js';

const now = Date.parse('2026-12-06T04:00:00.000Z');
const opts = { now, clockSkewToleranceMs: 5000 };
const input: ReadingInput = { deviceId: 'ox-1', deviceKind: 'ble', bed: 'B7', patientId: 'P-7', metric: 'spo2', value: NaN, unit: '%', deviceTime: now - 100 };
const ctx = { gatewayId: 'gw-1', priorityClass: 'vital' as const, firstSeq: 500 };

/** flag, the value a device adapter hands over, the FHIR data-absent-reason code, the HL7 NTE's words. */
const SPECIALS: [QualityFlag, number, string, string][] = [
  ['value_nan', NaN, 'not-a-number', 'NaN (not a number)'],
  ['value_nres', NaN, 'error', 'NRes (not at this resolution)'],
  ['value_positive_infinity', Infinity, 'positive-infinity', '+INFINITY'],
  ['value_negative_infinity', -Infinity, 'negative-infinity', '-INFINITY'],
  ['value_reserved', NaN, 'error', 'a reserved special value'],
];

const reject = (i: ReadingInput): string => {
  try {
    normalise(i, opts);
    return 'accepted';
  } catch (e) {
    return e instanceof ReadingRejected ? e.reason : String(e);
  }
};

describe('special values', () => {
  it.each(SPECIALS)('%s: normalise -> codec -> JSON v1 null, FHIR dataAbsentReason, HL7 empty OBX-5', (flag, value, absentCode, nteWords) => {
    const p = normalise({ ...input, value, quality: [flag] }, opts);
    expect(Number.isNaN(p.value)).toBe(true);
    expect(p.quality).toEqual([flag]);
    // Through the unit codec, and both JSON v1 writers.
    const [r] = decodeUnit(encodeUnit([p]), ctx);
    expect(Number.isNaN(r!.value)).toBe(true);
    expect(r!.quality).toEqual([flag]);
    const text = jsonV1Text(r!);
    expect(text).toBe(JSON.stringify(toJsonV1(r!)));
    const body = JSON.parse(text);
    expect(body.value).toBeNull();
    expect(body.quality).toEqual([flag]);
    expect(body).toMatchObject({ metric: 'spo2', unit: '%', seq: 500, bed: 'B7' });
    const out: OutMessage[] = [];
    jsonV1UnitMessages([{ columns: decodeUnitColumns(encodeUnit([p]), ctx), from: 0, to: 1 }], 'device', out);
    expect(String(out[0]!.value)).toBe(text);
    // FHIR R4: no valueQuantity, the data-absent reason instead.
    const obs = toFhirObservation(r!)!;
    expect(obs.valueQuantity).toBeUndefined();
    expect(obs.dataAbsentReason).toEqual({
      coding: [expect.objectContaining({ system: 'http://terminology.hl7.org/CodeSystem/data-absent-reason', code: absentCode })],
    });
    // HL7 v2: the reading's OBX has an empty OBX-5 and OBX-11 X, and the NTE after it says which special.
    const segs = toPcd01Message([r!]).text.split('\r');
    const i = segs.findIndex((s) => s.startsWith('OBX|2|'));
    const obx = segs[i]!.split('|');
    expect(obx[2]).toBe('NM');
    expect(obx[5]).toBe('');
    expect(obx[11]).toBe('X');
    expect(segs[i + 1]).toBe(`NTE|1||no value: the device sent ${nteWords}`);
  });

  it('a number keeps valueQuantity, OBX-5 and OBX-11 R (the same reading with a value)', () => {
    const [r] = decodeUnit(encodeUnit([normalise({ ...input, value: 97 }, opts)]), ctx);
    expect(JSON.parse(jsonV1Text(r!)).value).toBe(97);
    expect(toFhirObservation(r!)!.valueQuantity?.value).toBe(97);
    expect(toFhirObservation(r!)!.dataAbsentReason).toBeUndefined();
    const obx = toPcd01Message([r!])
      .text.split('\r')
      .find((s) => s.startsWith('OBX|2|'))!
      .split('|');
    expect([obx[5], obx[11]]).toEqual(['97', 'R']);
  });

  it('normalise refuses a non-finite value without a flag, a number with one, and two different ones', () => {
    expect(reject({ ...input, value: NaN })).toBe('non_finite');
    expect(reject({ ...input, value: Infinity })).toBe('non_finite');
    expect(reject({ ...input, value: 97, quality: ['value_nan'] })).toBe('bad_field');
    expect(reject({ ...input, value: NaN, quality: ['value_nan', 'value_nres'] })).toBe('bad_field');
    expect(reject({ ...input, value: NaN, quality: ['value_nan', 'value_nan'] })).toBe('accepted');
    // The unit is still checked; a converted unit is not flagged (no number was converted), nor out_of_range.
    expect(reject({ ...input, metric: 'body_temp', unit: 'furlong', quality: ['value_nan'] })).toBe('bad_unit');
    const f = normalise({ ...input, metric: 'body_temp', unit: '[degF]', quality: ['value_nan'] }, opts);
    expect(f.unit).toBe('Cel');
    expect(f.quality).toEqual(['value_nan']);
  });

  it('a blood-pressure panel with a NaN diastolic: that component has dataAbsentReason, the systolic its value', () => {
    const at = { ...input, metric: 'nibp_sys', unit: 'mm[Hg]', deviceTime: now - 100 };
    const rs = decodeUnit(
      encodeUnit([normalise({ ...at, value: 120 }, opts), normalise({ ...at, metric: 'nibp_dia', value: NaN, quality: ['value_nan'] }, opts)]),
      ctx,
    );
    const panel = toBpPanel(rs);
    expect(panel.component!.map((c) => [c.valueQuantity?.value, c.dataAbsentReason?.coding[0]?.code])).toEqual([
      [120, undefined],
      [undefined, 'not-a-number'],
    ]);
  });

  it('a unit written before the value-absent flags existed still decodes to the same readings', () => {
    // encodeUnit at commit 7062be4 (four readings: patient, device time, a canonical and a reordered flag list, unicode ids, extras).
    const OLD =
      '01040080d095ffbc310301056d6f6e2d310242310103502d31020873747261702dc3bc145a696d6d6572203320e280932046656e737465720004026777012d00080004c20100c80' +
      '1410006de0524f403850101555555555555d53f03010002645002110004c80104056576656e74040367617005636f756e7402180362696703000000000000f43f026f6b01';
    const rs = decodeUnit(Buffer.from(OLD, 'hex'), { gatewayId: 'g', priorityClass: 'vital', firstSeq: 1 }, 4);
    expect(rs).toEqual([
      {
        gatewayId: 'g',
        seq: 1,
        deviceId: 'mon-1',
        deviceKind: 'serial',
        bed: 'B1',
        patientId: 'P-1',
        metric: 'spo2',
        value: 97,
        unit: '%',
        deviceTime: 1700000000100,
        gatewayTime: 1700000000000,
        priorityClass: 'vital',
        quality: [],
      },
      {
        gatewayId: 'g',
        seq: 2,
        deviceId: 'mon-1',
        deviceKind: 'serial',
        bed: 'B1',
        patientId: 'P-1',
        metric: 'body_temp',
        value: 36.7,
        unit: 'Cel',
        gatewayTime: 1700000000250,
        priorityClass: 'vital',
        quality: ['device_clock_unknown', 'questionable'],
      },
      {
        gatewayId: 'g',
        seq: 3,
        deviceId: 'strap-ü',
        deviceKind: 'ble',
        bed: 'Zimmer 3 – Fenster',
        metric: 'heart_rate',
        value: 1 / 3,
        unit: '/min',
        gatewayTime: 1700000000300,
        priorityClass: 'vital',
        quality: ['simulated', 'out_of_range', 'device_clock_unknown'],
      },
      {
        gatewayId: 'g',
        seq: 4,
        deviceId: 'gw',
        deviceKind: 'gateway',
        bed: '-',
        metric: 'gateway_event',
        value: 0,
        unit: '1',
        gatewayTime: 1700000000400,
        priorityClass: 'vital',
        quality: ['device_clock_unknown'],
        extra: { event: 'gap', count: 12, big: 1.25, ok: true },
      },
    ]);
  });
});
