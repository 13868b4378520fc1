import { describe, expect, it } from 'vitest';
import { type BinaryDecoderConfig, decoderSchema } from '../../../src/devices/mqtt/config.js';
import { binaryDecoder } from '../../../src/devices/mqtt/decoders/binary.js';

const NOW = Date.UTC(2025, 5, 1);
const cfg = (c: object): BinaryDecoderConfig => decoderSchema.parse({ type: 'binary', ...c }) as BinaryDecoderConfig;

// uint8 spo2 | uint16be pulse*10 (0xFFFF = n/a) | uint32be seconds
const oximeter = cfg({
  length: 7,
  fields: [
    { offset: 0, type: 'uint8', metric: 'spo2', unit: '%' },
    { offset: 1, type: 'uint16be', metric: 'pulse_rate_oximeter', scale: 0.1, invalid: 65535 },
  ],
  time: { offset: 3, type: 'uint32be', unit: 's' },
});
// int16le temperature in centi-degrees with offset, float32le battery; any length >= 6
const mixed = cfg({
  fields: [
    { offset: 0, type: 'int16le', metric: 'body_temp', unit: 'Cel', scale: 0.01, add: 30 },
    { offset: 2, type: 'float32le', metric: 'battery_level' },
  ],
});
const ms64 = cfg({ fields: [{ offset: 8, type: 'uint8', metric: 'resp_rate' }], time: { offset: 0, type: 'uint64be', unit: 'ms' } });

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s/g, ''), 'hex');

describe('binary decoder: valid payloads', () => {
  it.each([
    [
      'oximeter frame',
      oximeter,
      '61 02d0 6666d380',
      [
        { metric: 'spo2', value: 97, unit: '%', time: 0x6666d380 * 1000 },
        { metric: 'pulse_rate_oximeter', value: 72, time: 0x6666d380 * 1000 },
      ],
    ],
    ['pulse not available', oximeter, '60 ffff 6666d380', [{ metric: 'spo2', value: 96, unit: '%', time: 0x6666d380 * 1000 }]],
    [
      'little endian, scale and add, float',
      mixed,
      '2c02 0000c842',
      [
        { metric: 'body_temp', value: 30 + 556 * 0.01, unit: 'Cel' },
        { metric: 'battery_level', value: 100 },
      ],
    ],
    [
      'negative int16le',
      mixed,
      'f4ff 00004842 ff',
      [
        { metric: 'body_temp', value: 30 - 0.12, unit: 'Cel' },
        { metric: 'battery_level', value: 50 },
      ],
    ],
    ['uint64 ms time', ms64, '0000018fff8e2a40 10', [{ metric: 'resp_rate', value: 16, time: 0x18fff8e2a40 }]],
  ] as const)('%s', (_name, c, payload, expected) => {
    const r = binaryDecoder(c)(hex(payload), NOW);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.readings.map((x) => ({ ...x, value: Math.round(x.value * 1e6) / 1e6 }))).toEqual(
      expected.map((x) => ({ ...x, value: Math.round(x.value * 1e6) / 1e6 })),
    );
  });
});

describe('binary decoder: broken payloads', () => {
  it.each([
    ['empty', oximeter, '', 'empty'],
    ['too short for the fixed length', oximeter, '61 02d0 6666d3', 'bad_length'],
    ['too long for the fixed length', oximeter, '61 02d0 6666d380 00', 'bad_length'],
    ['shorter than the last field', mixed, '2c02 0000c8', 'bad_length'],
    ['time zero', oximeter, '61 02d0 00000000', 'bad_time'],
    ['float NaN', mixed, '2c02 0000c07f', 'not_finite'],
    ['float Infinity', mixed, '2c02 0000807f', 'not_finite'],
    ['every field unavailable', cfg({ fields: [{ offset: 0, type: 'uint8', metric: 'spo2', invalid: 255 }] }), 'ff', 'no_readings'],
  ] as const)('%s', (_name, c, payload, reason) => {
    expect(binaryDecoder(c)(hex(payload), NOW)).toEqual({ ok: false, reason });
  });

  it('config refuses a field that ends past the fixed length', () => {
    const r = decoderSchema.safeParse({ type: 'binary', length: 2, fields: [{ offset: 1, type: 'uint16be', metric: 'spo2' }] });
    expect(r.success).toBe(false);
    expect(r.error?.issues[0]?.message).toMatch(/ends past length 2/);
  });
});
