/** Profile readings -> pipeline inputs: bed, patient, units, questionable flag; special values never become numbers of their metric. */
import { describe, expect, it } from 'vitest';
import { parsePlxContinuous } from '../../src/devices/ble/profiles/plx.js';
import { toInputs } from '../../src/devices/ble/readings.js';
import { normalise } from '../../src/reading.js';

const reg = { bed: 'BED-07', patientId: 'P-7' };

describe('BLE readings', () => {
  it('a PLX value with NaN SpO2: pulse rate is a reading, SpO2 is an absent-value event, never a number', () => {
    const r = parsePlxContinuous(Uint8Array.from([0x04, 0xff, 0x07, 0x48, 0x00, 0x00, 0x40]));
    if (!r.ok) throw new Error(r.reason);
    const { inputs, specials } = toInputs(r.readings, 'C0:FF:EE:00:00:07', reg, 'vital');
    expect(specials).toEqual(['nan']);
    expect(inputs.filter((i) => i.metric === 'spo2')).toEqual([]);
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
    const absent = inputs.find((i) => i.metric === 'gateway_event')!;
    expect(absent).toMatchObject({
      bed: 'BED-07',
      priorityClass: 'status',
      extra: { event: 'value_absent', metric: 'spo2', special: 'nan', dataAbsentReason: 'not-a-number' },
    });
    // Both pass the pipeline's validation.
    for (const i of inputs) expect(() => normalise(i, { now: Date.now(), clockSkewToleranceMs: 1e12 })).not.toThrow();
  });
  it('Fahrenheit is converted into Cel by the pipeline, flagged unit_converted', () => {
    const { inputs } = toInputs([{ metric: 'body_temp', unit: '[degF]', value: 98.6 }], 'c0:ff:ee:00:00:01', reg, 'vital');
    const n = normalise(inputs[0]!, { now: Date.now(), clockSkewToleranceMs: 1e12 });
    expect(n.unit).toBe('Cel');
    expect(n.value).toBeCloseTo(37, 10);
    expect(n.quality).toContain('unit_converted');
  });
});
