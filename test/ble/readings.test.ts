/**
 * Profile readings -> pipeline inputs: bed, patient, units, questionable flag; special values become readings of their metric with a value-absent
 * flag and no number.
 */
import { describe, expect, it } from 'vitest';
import { decodeUnit, encodeUnit } from '../../src/buffer/codec.js';
import { parsePlxContinuous, parsePlxSpotCheck } from '../../src/devices/ble/profiles/plx.js';
import { toInputs } from '../../src/devices/ble/readings.js';
import { jsonV1Text } from '../../src/forwarder/formats/json-v1.js';
import { normalise } from '../../src/reading.js';

const reg = { bed: 'BED-07', patientId: 'P-7' };

describe('BLE readings', () => {
  it('a PLX value with NaN SpO2: pulse rate is a reading, SpO2 a reading with no number and the value_nan flag', () => {
    // SpO2 SFLOAT 0x07FF (NaN), pulse rate 72, and a status field that marks the values questionable.
    const r = parsePlxContinuous(Uint8Array.from([0x04, 0xff, 0x07, 0x48, 0x00, 0x00, 0x40]));
    if (!r.ok) throw new Error(r.reason);
    const { inputs, specials } = toInputs(r.readings, 'C0:FF:EE:00:00:07', reg, 'vital');
    expect(specials).toEqual(['nan']);
    expect(inputs.filter((i) => i.metric === 'gateway_event')).toEqual([]);
    const pr = inputs.find((i) => i.metric === 'pulse_rate_oximeter')!;
    expect(pr).toMatchObject({
      deviceId: 'ble-c0ffee000007',
      deviceKind: 'ble',
      bed: 'BED-07',
      patientId: 'P-7',
      value: 72,
      unit: '/min',
      priorityClass: 'vital',
      quality: ['questionable'],
    });
    const spo2 = inputs.find((i) => i.metric === 'spo2')!;
    expect(spo2).toMatchObject({ deviceId: 'ble-c0ffee000007', bed: 'BED-07', patientId: 'P-7', unit: '%', priorityClass: 'vital' });
    expect(spo2.quality).toEqual(['value_nan', 'questionable']);
    expect(Number.isNaN(spo2.value)).toBe(true);
    // Both pass the pipeline's validation; SpO2 stays without a number.
    const n = normalise(spo2, { now: Date.now(), clockSkewToleranceMs: 1e12 });
    expect(Number.isNaN(n.value)).toBe(true);
    expect(n.quality).toEqual(['value_nan', 'questionable', 'device_clock_unknown']);
    expect(() => normalise(pr, { now: Date.now(), clockSkewToleranceMs: 1e12 })).not.toThrow();
  });
  it.each([
    [0x07ff, 'value_nan'],
    [0x0800, 'value_nres'],
    [0x07fe, 'value_positive_infinity'],
    [0x0802, 'value_negative_infinity'],
    [0x0801, 'value_reserved'],
  ] as const)('PLX spot-check SpO2 SFLOAT 0x%s arrives as a reading flagged %s with no number', (raw, flag) => {
    // Flags 0: SpO2 SFLOAT, pulse rate SFLOAT 72, nothing optional.
    const r = parsePlxSpotCheck(Uint8Array.from([0x00, raw & 0xff, raw >> 8, 0x48, 0x00]));
    if (!r.ok) throw new Error(r.reason);
    const spo2 = toInputs(r.readings, 'C0:FF:EE:00:00:07', reg, 'vital').inputs.find((i) => i.metric === 'spo2')!;
    const n = normalise(spo2, { now: Date.now(), clockSkewToleranceMs: 1e12 });
    expect(n.quality).toContain(flag);
    expect(Number.isNaN(n.value)).toBe(true);
    // Through the buffer's codec to the JSON v1 body: value null, the flag kept.
    const [stored] = decodeUnit(encodeUnit([n]), { gatewayId: 'g', priorityClass: 'vital', firstSeq: 1 });
    const body = JSON.parse(jsonV1Text(stored!));
    expect(body).toMatchObject({ metric: 'spo2', value: null, unit: '%', bed: 'BED-07' });
    expect(body.quality).toContain(flag);
  });
  it('Fahrenheit is converted into Cel by the pipeline, flagged unit_converted', () => {
    const { inputs } = toInputs([{ metric: 'body_temp', unit: '[degF]', value: 98.6 }], 'c0:ff:ee:00:00:01', reg, 'vital');
    const n = normalise(inputs[0]!, { now: Date.now(), clockSkewToleranceMs: 1e12 });
    expect(n.unit).toBe('Cel');
    expect(n.value).toBeCloseTo(37, 10);
    expect(n.quality).toContain('unit_converted');
  });
});
