import { describe, expect, it } from 'vitest';
import type { Reading } from '../../src/reading.js';
import { jsonV1Text, toJsonV1 } from '../../src/forwarder/formats/json-v1.js';
import { rng } from '../../hardware-mocks/rng.js';

const t0 = Date.parse('2026-11-25T10:00:00.000Z');
const base: Reading = {
  gatewayId: 'gw-test',
  seq: 42,
  deviceId: 'mon-7',
  deviceKind: 'serial',
  bed: 'ICU-07',
  metric: 'spo2',
  value: 97,
  unit: '%',
  gatewayTime: t0,
  priority: 'vital',
  quality: [],
};

/** The hand-written text must be exactly what JSON.stringify makes of the object. */
describe('jsonV1Text', () => {
  const cases: [string, Partial<Reading>][] = [
    ['minimal', {}],
    ['patient, device time, flags', { patientId: 'P-0001', deviceTime: t0 - 300, quality: ['out_of_range', 'unit_converted'] }],
    ['fraction and negative value', { metric: 'body_temp', value: -0.000123, unit: 'Cel' }],
    ['large seq, tiny and huge numbers', { seq: 2 ** 52 + 1, value: 1e-7 }, ],
    ['metric without MDC/LOINC', { metric: 'gateway_event', value: 1, unit: '1', priority: 'status' }],
    ['quotes, backslash, control chars in ids', { deviceId: 'mon "7"\\', bed: 'ICU\n07\t\u0001', patientId: 'P\u2028x' }],
    ['lone surrogate and non-ASCII', { deviceId: 'gerät-\ud800', bed: 'Zimmer-Ü-😀' }],
    ['extra fields', { priority: 'alarm', extra: { alarm: 'HR_HIGH', severity: 'high', level: 3, ack: false, note: 'a"b' } }],
    ['epoch and far-future times', { gatewayTime: 0, deviceTime: 8.64e15 }],
    ['before 1970, fractional milliseconds', { gatewayTime: -1500, deviceTime: t0 + 0.5 }],
    ['same second, then the next (cached date part)', { gatewayTime: t0 + 999, deviceTime: t0 + 1000 }],
    ['same device, another bed (cached device part)', { bed: 'ICU-08' }],
  ];
  it.each(cases)('%s', (_name, over) => {
    const r = { ...base, ...over } as Reading;
    expect(jsonV1Text(r)).toBe(JSON.stringify(toJsonV1(r)));
    expect(JSON.parse(jsonV1Text(r))).toEqual(toJsonV1(r));
  });

  it('matches JSON.stringify on random strings, values and times (fuzz)', () => {
    const rnd = rng(20261125);
    const s = (n: number) => Array.from({ length: n }, () => String.fromCharCode(Math.floor(rnd() * 0xffff))).join('');
    for (let i = 0; i < 2000; i++) {
      const r: Reading = { ...base, deviceId: s(1 + (i % 9)), bed: s(i % 5), deviceKind: (['serial', 'ble', 'mqtt'] as const)[i % 3]!, value: (rnd() - 0.5) * 10 ** Math.floor(rnd() * 12 - 4), gatewayTime: Math.floor(rnd() * 4e12), seq: i };
      if (i % 2) r.patientId = s(6);
      if (i % 3) r.deviceTime = Math.floor(rnd() * 4e12);
      expect(jsonV1Text(r)).toBe(JSON.stringify(toJsonV1(r)));
    }
  });
});
