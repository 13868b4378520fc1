import { describe, expect, it } from 'vitest';
import { decoderSchema, type SenmlDecoderConfig } from '../../../src/devices/mqtt/config.js';
import { senmlDecoder } from '../../../src/devices/mqtt/decoders/senml.js';

const NOW = Date.UTC(2025, 5, 1);
const cfg = (c: object = {}): SenmlDecoderConfig => decoderSchema.parse({ type: 'senml', ...c }) as SenmlDecoderConfig;
const ox = cfg({ names: { pr: 'pulse_rate_oximeter', 'urn:dev:ow:10e2073a01080063': 'body_temp' } });
const strict = cfg({ ignoreUnknown: false });

describe('senml decoder: valid packs', () => {
  it.each([
    // RFC 8428 §5.1.1, a single datapoint
    ['RFC 8428 single datapoint (Cel)', ox, '[{"n":"urn:dev:ow:10e2073a01080063","u":"Cel","v":23.1}]', [{ metric: 'body_temp', value: 23.1, unit: 'Cel' }]],
    [
      'base name, base time, base unit',
      ox,
      '[{"bn":"urn:dev:mac:0024befffe804ff1:","bt":1.718e9,"bu":"%","n":"spo2","v":97},{"n":"pr","u":"beat/min","v":72,"t":1}]',
      [
        { metric: 'spo2', value: 97, unit: '%', time: 1.718e12 },
        { metric: 'pulse_rate_oximeter', value: 72, unit: '/min', time: 1.718e12 + 1000 },
      ],
    ],
    [
      'Kelvin converted to Cel',
      ox,
      '[{"n":"body_temp","u":"K","v":310.15,"t":1718000000}]',
      [{ metric: 'body_temp', value: 37, unit: 'Cel', time: 1718000000000, converted: true }],
    ],
    ['ratio converted to %', ox, '[{"n":"spo2","u":"/","v":0.97}]', [{ metric: 'spo2', value: 97, unit: '%', converted: true }]],
    ['battery %EL', ox, '[{"n":"battery_level","u":"%EL","v":55}]', [{ metric: 'battery_level', value: 55, unit: '%' }]],
    ['base value added', ox, '[{"bv":90,"n":"spo2","u":"%","v":7}]', [{ metric: 'spo2', value: 97, unit: '%' }]],
    ['relative time (negative) from now', ox, '[{"n":"spo2","v":96,"t":-5}]', [{ metric: 'spo2', value: 96, time: NOW - 5000 }]],
    [
      'unknown names skipped, string and boolean records skipped',
      ox,
      '[{"n":"model","vs":"OX-3"},{"n":"alarm","vb":false},{"n":"humidity","u":"%RH","v":40},{"n":"spo2","v":99}]',
      [{ metric: 'spo2', value: 99 }],
    ],
    ['nameless record: the rule gives the metric', ox, '[{"u":"%","v":95}]', [{ value: 95, unit: '%' }]],
    [
      'unregistered unit passed on for the catalogue to judge',
      ox,
      '[{"n":"glucose","u":"mmol/l","v":5.5}]',
      [{ metric: 'glucose', value: 5.5, unit: 'mmol/L' }],
    ],
    ['bver 10 accepted', ox, '[{"bver":10,"n":"spo2","v":98}]', [{ metric: 'spo2', value: 98 }]],
  ] as const)('%s', (_name, c, payload, expected) => {
    const r = senmlDecoder(c)(Buffer.from(payload), NOW);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.readings).toHaveLength(expected.length);
    r.readings.forEach((got, i) => {
      const want = expected[i]! as { value: number };
      expect(got.value).toBeCloseTo(want.value, 9);
      expect({ ...got, value: 0 }).toEqual({ ...want, value: 0 });
    });
  });
});

describe('senml decoder: broken packs', () => {
  it.each([
    ['empty payload', ox, '', 'empty'],
    ['not JSON', ox, 'spo2:97', 'bad_json'],
    ['object instead of array', ox, '{"n":"spo2","v":97}', 'bad_senml'],
    ['empty array', ox, '[]', 'bad_senml'],
    ['record is a number', ox, '[5]', 'bad_senml'],
    ['v is a string', ox, '[{"n":"spo2","v":"97"}]', 'bad_senml'],
    ['n is a number', ox, '[{"n":7,"v":97}]', 'bad_senml'],
    ['bt is a string', ox, '[{"bt":"now","n":"spo2","v":97}]', 'bad_senml'],
    ['bver 0', ox, '[{"bver":0,"n":"spo2","v":97}]', 'bad_senml'],
    ['bver from the future', ox, '[{"bver":11,"n":"spo2","v":97}]', 'unsupported_senml'],
    ['must-understand field', ox, '[{"n":"spo2","v":97,"crit_":1}]', 'unsupported_senml'],
    ['unknown name with ignoreUnknown false', strict, '[{"n":"humidity","v":40}]', 'unknown_name'],
    ['only unknown names', ox, '[{"n":"humidity","v":40}]', 'no_readings'],
    ['only string values', ox, '[{"n":"spo2","vs":"97"}]', 'no_readings'],
    ['value + base value overflow', ox, '[{"bv":1.7e308,"n":"spo2","v":1.7e308}]', 'not_finite'],
    ['absolute time far in the future', ox, '[{"n":"spo2","v":97,"t":9e12}]', 'bad_time'],
    ['empty unit', ox, '[{"n":"spo2","u":"","v":97}]', 'bad_unit'],
  ] as const)('%s', (_name, c, payload, reason) => {
    expect(senmlDecoder(c)(Buffer.from(payload), NOW)).toEqual({ ok: false, reason });
  });
});
