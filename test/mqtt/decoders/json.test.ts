import { describe, expect, it } from 'vitest';
import { decoderSchema, type JsonDecoderConfig } from '../../../src/devices/mqtt/config.js';
import { jsonDecoder } from '../../../src/devices/mqtt/decoders/json.js';

const NOW = Date.UTC(2025, 5, 1);
const cfg = (c: object): JsonDecoderConfig => decoderSchema.parse({ type: 'json', ...c }) as JsonDecoderConfig;

const flat = cfg({
  fields: [
    { value: 'spo2', metric: 'spo2', unit: '%' },
    { value: 'pr', metric: 'pulse_rate_oximeter' },
  ],
  time: 'ts',
});
const nested = cfg({
  fields: [{ value: 'data.vitals[0].value', unitPath: 'data.vitals[0].unit', metric: 'body_temp', unit: 'Cel' }],
  time: 'data.time',
  timeFormat: 'iso',
});
const optional = cfg({
  fields: [
    { value: 'sys', metric: 'nibp_sys' },
    { value: 'dia', metric: 'nibp_dia' },
    { value: 'map', metric: 'nibp_mean', optional: true },
  ],
});
const quoted = cfg({ fields: [{ value: '["battery level"]', metric: 'battery_level' }] });

describe('json decoder: valid payloads', () => {
  it.each([
    [
      'flat oximeter, time in s',
      flat,
      '{"device":"ox-12","spo2":97,"pr":72,"ts":1718000000}',
      [
        { metric: 'spo2', value: 97, unit: '%', time: 1718000000000 },
        { metric: 'pulse_rate_oximeter', value: 72, time: 1718000000000 },
      ],
    ],
    [
      'time in ms (auto)',
      flat,
      '{"spo2":97,"pr":72,"ts":1718000000123}',
      [
        { metric: 'spo2', value: 97, unit: '%', time: 1718000000123 },
        { metric: 'pulse_rate_oximeter', value: 72, time: 1718000000123 },
      ],
    ],
    [
      'no time field: no device time',
      flat,
      '{"spo2":97.5,"pr":"72"}',
      [
        { metric: 'spo2', value: 97.5, unit: '%' },
        { metric: 'pulse_rate_oximeter', value: 72 },
      ],
    ],
    [
      'nested with unit in payload, ISO time',
      nested,
      '{"data":{"vitals":[{"type":"temp","value":"98.6","unit":"[degF]"}],"time":"2024-06-10T06:13:20Z"}}',
      [{ metric: 'body_temp', value: 98.6, unit: '[degF]', time: Date.parse('2024-06-10T06:13:20Z') }],
    ],
    [
      'nested, unit absent: falls back to configured unit',
      nested,
      '{"data":{"vitals":[{"value":37.2}],"time":"2024-06-10T06:13:20.500+02:00"}}',
      [{ metric: 'body_temp', value: 37.2, unit: 'Cel', time: Date.parse('2024-06-10T04:13:20.500Z') }],
    ],
    [
      'optional field missing',
      optional,
      '{"sys":120,"dia":80}',
      [
        { metric: 'nibp_sys', value: 120 },
        { metric: 'nibp_dia', value: 80 },
      ],
    ],
    [
      'optional field null',
      optional,
      '{"sys":120,"dia":80,"map":null}',
      [
        { metric: 'nibp_sys', value: 120 },
        { metric: 'nibp_dia', value: 80 },
      ],
    ],
    ['quoted key with a space', quoted, '{"battery level": 64}', [{ metric: 'battery_level', value: 64 }]],
  ] as const)('%s', (_name, c, payload, expected) => {
    expect(jsonDecoder(c)(Buffer.from(payload), NOW)).toEqual({ ok: true, readings: expected });
  });
});

describe('json decoder: broken payloads', () => {
  it.each([
    ['empty', flat, '', 'empty'],
    ['not JSON', flat, 'spo2=97', 'bad_json'],
    ['truncated JSON', flat, '{"spo2":97,"pr":', 'bad_json'],
    ['invalid UTF-8', flat, Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), 'not_utf8'],
    ['required field missing', flat, '{"spo2":97}', 'missing_field'],
    ['required field null', flat, '{"spo2":97,"pr":null}', 'missing_field'],
    ['value is text', flat, '{"spo2":"high","pr":70}', 'not_a_number'],
    ['value is boolean', flat, '{"spo2":true,"pr":70}', 'not_a_number'],
    ['value is an object', flat, '{"spo2":{"v":97},"pr":70}', 'not_a_number'],
    ['value overflows to Infinity', flat, '{"spo2":1e400,"pr":70}', 'not_finite'],
    ['string value overflows', flat, '{"spo2":"1e400","pr":70}', 'not_finite'],
    ['array at the top', flat, '[97,72]', 'missing_field'],
    ['time is text', flat, '{"spo2":97,"pr":72,"ts":"yesterday"}', 'bad_time'],
    ['time before 2000', flat, '{"spo2":97,"pr":72,"ts":12}', 'bad_time'],
    ['ISO time malformed', nested, '{"data":{"vitals":[{"value":37}],"time":"2024-13-45T99:00:00Z"}}', 'bad_time'],
    ['unit is a number', nested, '{"data":{"vitals":[{"value":37,"unit":5}],"time":"2024-06-10T06:13:20Z"}}', 'bad_unit'],
    ['index out of range', nested, '{"data":{"vitals":[]},"time":"2024-06-10T06:13:20Z"}', 'missing_field'],
    ['prototype key is not followed', cfg({ fields: [{ value: 'constructor', metric: 'spo2' }] }), '{}', 'missing_field'],
    ['all optional fields missing', cfg({ fields: [{ value: 'a', metric: 'spo2', optional: true }] }), '{}', 'no_readings'],
  ] as const)('%s', (_name, c, payload, reason) => {
    expect(jsonDecoder(c)(Buffer.isBuffer(payload) ? payload : Buffer.from(payload), NOW)).toEqual({ ok: false, reason });
  });
});
