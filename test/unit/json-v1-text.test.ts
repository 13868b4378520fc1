import { describe, expect, it } from 'vitest';
import { rng } from '../../hardware-mocks/rng.js';
import type { OutMessage } from '../../src/forwarder/client.js';
import { encodeJsonV1, jsonV1Messages, jsonV1Text, toJsonV1 } from '../../src/forwarder/formats/json-v1.js';
import type { Reading } from '../../src/reading.js';

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
  priorityClass: 'vital',
  quality: [],
};

/** The hand-written text must be exactly what JSON.stringify makes of the object. */
describe('jsonV1Text', () => {
  const cases: [string, Partial<Reading>][] = [
    ['minimal', {}],
    ['patient, device time, flags', { patientId: 'P-0001', deviceTime: t0 - 300, quality: ['out_of_range', 'unit_converted'] }],
    ['fraction and negative value', { metric: 'body_temp', value: -0.000123, unit: 'Cel' }],
    ['large seq, tiny and huge numbers', { seq: 2 ** 52 + 1, value: 1e-7 }],
    ['metric without MDC/LOINC', { metric: 'gateway_event', value: 1, unit: '1', priorityClass: 'status' }],
    ['quotes, backslash, control chars in ids', { deviceId: 'mon "7"\\', bed: 'ICU\n07\t\u0001', patientId: 'P\u2028x' }],
    ['lone surrogate and non-ASCII', { deviceId: 'gerät-\ud800', bed: 'Zimmer-Ü-😀' }],
    ['extra fields', { priorityClass: 'alarm', extra: { alarm: 'HR_HIGH', severity: 'high', level: 3, ack: false, note: 'a"b' } }],
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
      const r: Reading = {
        ...base,
        deviceId: s(1 + (i % 9)),
        bed: s(i % 5),
        deviceKind: (['serial', 'ble', 'mqtt'] as const)[i % 3]!,
        value: (rnd() - 0.5) * 10 ** Math.floor(rnd() * 12 - 4),
        gatewayTime: Math.floor(rnd() * 4e12),
        seq: i,
      };
      if (i % 2) r.patientId = s(6);
      if (i % 3) r.deviceTime = Math.floor(rnd() * 4e12);
      expect(jsonV1Text(r)).toBe(JSON.stringify(toJsonV1(r)));
    }
  });
});

/** Many readings at once: the same keys, bytes and headers as one by one, whatever the characters. */
describe('jsonV1Messages', () => {
  const rnd = rng(20261204);
  const ascii = (i: number): Reading => ({
    ...base,
    seq: 1000 + i,
    deviceId: `mon-${i % 7}`,
    bed: `ICU-${i % 7}`,
    value: Math.round(rnd() * 2000) / 10,
    gatewayTime: t0 + i * 7,
    deviceTime: t0 + i * 7 - 3,
  });
  const cases: [string, Reading[]][] = [
    ['none', []],
    ['one', [ascii(0)]],
    ['300 all ASCII (groups of 128, 128, 44)', Array.from({ length: 300 }, (_, i) => ascii(i))],
    // The second group holds a non-ASCII bed and a 4-byte character: characters and bytes differ there.
    [
      '300 with non-ASCII in the second group',
      Array.from({ length: 300 }, (_, i) =>
        i === 130 ? { ...ascii(i), bed: 'Zimmer-Ü' } : i === 200 ? { ...ascii(i), patientId: 'P-😀', extra: { note: 'ä' } } : ascii(i),
      ),
    ],
    ['escapes and a lone surrogate', [{ ...ascii(1), deviceId: 'mon "7"\\\n', bed: '\ud800' }, ascii(2)]],
  ];
  it.each(cases)('%s', (_name, readings) => {
    const out: OutMessage[] = [];
    jsonV1Messages(readings, (r) => `k-${r.deviceId}`, out);
    expect(out.length).toBe(readings.length);
    readings.forEach((r, i) => {
      const one = encodeJsonV1(r);
      const m = out[i]!;
      expect(m.key).toBe(`k-${r.deviceId}`);
      expect(Buffer.isBuffer(m.value)).toBe(true);
      expect((m.value as Buffer).equals(one.value)).toBe(true);
      expect(m.headers).toEqual(one.headers);
    });
  });
});
