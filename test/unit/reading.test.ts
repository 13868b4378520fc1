import { describe, expect, it } from 'vitest';
import { jsonV1Text } from '../../src/forwarder/formats/json-v1.js';
import { normalise, type Reading, type ReadingInput, ReadingRejected } from '../../src/reading.js';

const now = Date.parse('2026-11-25T12:00:00Z');
const opts = { now, clockSkewToleranceMs: 120_000 };
const base: ReadingInput = { deviceId: 'mon-1', deviceKind: 'serial', bed: 'ICU-1', metric: 'heart_rate', value: 72, unit: '/min', deviceTime: now - 500 };

function rejectReason(input: ReadingInput): string | undefined {
  try {
    normalise(input, opts);
    return undefined;
  } catch (e) {
    return e instanceof ReadingRejected ? e.reason : `other: ${String(e)}`;
  }
}

describe('normalise', () => {
  it('keeps a plain reading, stamps gateway time and defaults to the vital class', () => {
    const r = normalise(base, opts);
    expect(r).toMatchObject({ metric: 'heart_rate', value: 72, unit: '/min', gatewayTime: now, deviceTime: now - 500, priorityClass: 'vital' });
    expect(r.quality).toEqual([]);
  });

  it.each([
    ['NaN', Number.NaN],
    ['+Infinity', Number.POSITIVE_INFINITY],
    ['-Infinity', Number.NEGATIVE_INFINITY],
  ])('rejects a non-finite value (%s)', (_label, value) => {
    expect(rejectReason({ ...base, value })).toBe('non_finite');
  });

  it('puts waveform samples in the waveform class unless the source names a class', () => {
    expect(normalise({ ...base, metric: 'ecg_lead_ii', unit: 'mV', value: 0.8 }, opts).priorityClass).toBe('waveform');
    expect(normalise({ ...base, metric: 'pleth', unit: '1', value: 1200 }, opts).priorityClass).toBe('waveform');
    expect(normalise({ ...base, metric: 'ecg_lead_ii', unit: 'mV', value: 0.8, priorityClass: 'vital' }, opts).priorityClass).toBe('vital');
  });

  it('rejects a value that is not a number at all', () => {
    expect(rejectReason({ ...base, value: '72' as unknown as number })).toBe('non_finite');
  });

  it('rejects unknown metrics and units the catalogue cannot convert', () => {
    expect(rejectReason({ ...base, metric: 'heart_rat' })).toBe('unknown_metric');
    expect(rejectReason({ ...base, unit: 'Hz' })).toBe('bad_unit');
  });

  it('rejects empty or oversized ids', () => {
    expect(rejectReason({ ...base, deviceId: '' })).toBe('bad_field');
    expect(rejectReason({ ...base, bed: 'x'.repeat(200) })).toBe('bad_field');
    expect(rejectReason({ ...base, patientId: '' })).toBe('bad_field');
  });

  it('keeps and flags values outside the physiological range', () => {
    const r = normalise({ ...base, value: 400 }, opts);
    expect(r.value).toBe(400);
    expect(r.quality).toContain('out_of_range');
    const low = normalise({ ...base, metric: 'spo2', unit: '%', value: 12 }, opts);
    expect(low.quality).toContain('out_of_range');
  });

  it('converts accepted units into the catalogue unit and says so', () => {
    const t = normalise({ ...base, metric: 'body_temp', unit: '[degF]', value: 98.6 }, opts);
    expect(t.unit).toBe('Cel');
    expect(t.value).toBeCloseTo(37, 5);
    expect(t.quality).toContain('unit_converted');
    const p = normalise({ ...base, metric: 'nibp_sys', unit: 'kPa', value: 16 }, opts);
    expect(p.unit).toBe('mm[Hg]');
    expect(p.value).toBeCloseTo(120.01, 1);
  });

  it('flags a missing or skewed device clock, never drops the reading for it', () => {
    const { deviceTime: _omit, ...noTime } = base;
    expect(normalise(noTime, opts).quality).toContain('device_clock_unknown');
    expect(normalise({ ...base, deviceTime: now - 3_600_000 }, opts).quality).toContain('device_clock_skew');
    expect(normalise({ ...base, deviceTime: now + 10_000 }, opts).quality).not.toContain('device_clock_skew');
  });

  it('a device time no Date can hold is unusable (no time, device_clock_unknown), and the reading still encodes as JSON v1', () => {
    for (const t of [8.64e15 + 1, -8.64e15 - 1, 1e300]) {
      const r = normalise({ ...base, deviceTime: t }, opts);
      expect(r.deviceTime, String(t)).toBeUndefined();
      expect(r.quality).toContain('device_clock_unknown');
      const json = JSON.parse(jsonV1Text({ ...r, seq: 1, gatewayId: 'gw-1' } as Reading));
      expect(json.deviceTime ?? null).toBeNull();
    }
    // The edge of the range is still a time.
    expect(normalise({ ...base, deviceTime: 8.64e15 }, opts).deviceTime).toBe(8.64e15);
  });

  it('keeps the priority, patient id and extra fields given by the adapter', () => {
    const r = normalise({ ...base, priorityClass: 'alarm', patientId: 'P-1', extra: { alarm: 'HR_HIGH' } }, opts);
    expect(r.priorityClass).toBe('alarm');
    expect(r.patientId).toBe('P-1');
    expect(r.extra).toEqual({ alarm: 'HR_HIGH' });
  });
});
