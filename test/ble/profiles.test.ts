/**
 * Table tests for the GATT profile parsers: byte vectors from ble-and-codes.md and the
 * SIG characteristic layouts, every flag combination, the SFLOAT/FLOAT special values.
 * Values and units are checked exactly.
 */
import { describe, expect, it } from 'vitest';
import { parseBatteryLevel } from '../../src/devices/ble/profiles/battery.js';
import { parseBloodPressure, parseIntermediateCuffPressure } from '../../src/devices/ble/profiles/blood-pressure.js';
import { parseGlucose } from '../../src/devices/ble/profiles/glucose.js';
import { parseHeartRate } from '../../src/devices/ble/profiles/heart-rate.js';
import { decodeFloat, decodeSfloat } from '../../src/devices/ble/profiles/ieee11073.js';
import { decoderFor, registerDecoder } from '../../src/devices/ble/profiles/index.js';
import { parsePlxContinuous, parsePlxSpotCheck } from '../../src/devices/ble/profiles/plx.js';
import { parseTemperature } from '../../src/devices/ble/profiles/thermometer.js';
import type { ParseResult } from '../../src/devices/ble/profiles/types.js';
import { parseVendorOximeter } from '../../src/devices/ble/profiles/vendor-oximeter.js';

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
/** Readings as [metric, value-or-special, unit]. */
function rows(r: ParseResult): [string, number | string, string][] {
  if (!r.ok) throw new Error(`rejected: ${r.reason}`);
  return r.readings.map((x) => [x.metric, 'value' in x ? x.value : `special:${x.special}`, x.unit]);
}
const reason = (r: ParseResult): string => (r.ok ? 'accepted' : r.reason);
const local = (y: number, mo: number, d: number, h: number, mi: number, s: number): number => new Date(y, mo - 1, d, h, mi, s).getTime();

describe('IEEE 11073 SFLOAT', () => {
  it.each([
    [0x0062, 98],
    [0xf3e8, 100],
    [0xffff, -0.1],
    [0xf16c, 36.4],
    [0x0000, 0],
    [0x07fd, 2045],
  ])('0x%s decodes to %s', (raw, v) => {
    expect(decodeSfloat(raw)).toEqual({ value: v });
  });
  it('negative mantissa and positive exponent', () => {
    expect(decodeSfloat(0x0803)).toEqual({ value: -2045 });
    expect(decodeSfloat(0x2005)).toEqual({ value: 500 });
    expect(decodeSfloat(0xe0c8)).toEqual({ value: 2 }); // 200 x 10^-2
  });
  it.each([
    [0x07ff, 'nan'],
    [0x0800, 'nres'],
    [0x07fe, 'pos_inf'],
    [0x0802, 'neg_inf'],
    [0x0801, 'reserved'],
  ])('special 0x%s is %s, never a number', (raw, s) => {
    expect(decodeSfloat(raw)).toEqual({ special: s });
  });
});

describe('IEEE 11073 FLOAT', () => {
  it('36.4 Cel from the reference', () => expect(decodeFloat(0xff00016c)).toEqual({ value: 36.4 }));
  it('negative mantissa', () => expect(decodeFloat(0xfefffc18)).toEqual({ value: -10 })); // -1000 x 10^-2
  it.each([
    [0x007fffff, 'nan'],
    [0x00800000, 'nres'],
    [0x007ffffe, 'pos_inf'],
    [0x00800002, 'neg_inf'],
    [0x00800001, 'reserved'],
  ])('special 0x%s is %s', (raw, s) => expect(decodeFloat(raw)).toEqual({ special: s }));
});

describe('Heart Rate Measurement', () => {
  it('the reference example: 72 /min, contact detected, RR 1.000 s and 1000/1024 s', () => {
    const r = parseHeartRate(hex('16 48 00 04 E8 03'));
    expect(rows(r)).toEqual([
      ['heart_rate', 72, '/min'],
      ['rr_interval', 1, 's'],
      ['rr_interval', 1000 / 1024, 's'],
    ]);
    expect(r.ok && r.readings[0]!.extra).toEqual({ contact: 'detected' });
    expect(r.ok && r.readings[0]!.questionable).toBeUndefined();
  });
  it('uint16 rate', () => expect(rows(parseHeartRate(hex('01 2C 01')))).toEqual([['heart_rate', 300, '/min']]));
  it('contact supported but not detected is questionable', () => {
    const r = parseHeartRate(hex('04 50'));
    expect(r.ok && r.readings[0]!.questionable).toBe(true);
    expect(r.ok && r.readings[0]!.extra).toEqual({ contact: 'not_detected' });
  });
  it('contact feature not supported', () => {
    const r = parseHeartRate(hex('00 50'));
    expect(r.ok && r.readings[0]!.extra).toEqual({ contact: 'unsupported' });
  });
  it('energy expended then RR, with uint16 rate', () => {
    const r = parseHeartRate(hex('19 5A 00 10 27 00 03'));
    expect(rows(r)).toEqual([
      ['heart_rate', 90, '/min'],
      ['rr_interval', 0.75, 's'],
    ]);
    expect(r.ok && r.readings[0]!.extra).toEqual({ contact: 'unsupported', energyExpendedKj: 10000 });
  });
  it('energy expended without RR ignores trailing octets', () => {
    const r = parseHeartRate(hex('08 48 10 00 FF EE'));
    expect(rows(r)).toEqual([['heart_rate', 72, '/min']]);
    expect(r.ok && r.readings[0]!.extra).toEqual({ contact: 'unsupported', energyExpendedKj: 16 });
  });
  it('trailing octets without the RR flag are ignored', () => expect(rows(parseHeartRate(hex('00 48 01 02 03')))).toEqual([['heart_rate', 72, '/min']]));
  it('an odd number of RR octets is rejected', () => expect(reason(parseHeartRate(hex('10 48 00 04 E8')))).toBe('rr_odd_octets'));
  it('RR flag with no RR interval is too short', () => expect(reason(parseHeartRate(hex('10 48')))).toBe('too_short'));
  it.each(['', '00', '01 48', '08 48 00'])('short %j is rejected', (h) => expect(reason(parseHeartRate(hex(h)))).toBe('too_short'));
});

describe('PLX Continuous Measurement', () => {
  it('SpO2 and PR only', () =>
    expect(rows(parsePlxContinuous(hex('00 62 00 48 00')))).toEqual([
      ['spo2', 98, '%'],
      ['pulse_rate_oximeter', 72, '/min'],
    ]));
  it('fast and slow pairs, measurement status, sensor status and PAI', () => {
    const r = parsePlxContinuous(hex('1F 61 00 46 00  60 00 47 00  5F 00 45 00  80 00  00 00 00  F3 F0'));
    expect(rows(r)).toEqual([
      ['spo2', 97, '%'],
      ['pulse_rate_oximeter', 70, '/min'],
      ['spo2', 96, '%'],
      ['pulse_rate_oximeter', 71, '/min'],
      ['spo2', 95, '%'],
      ['pulse_rate_oximeter', 69, '/min'],
    ]);
    if (!r.ok) throw new Error();
    expect(r.readings[2]!.extra).toEqual({ averaging: 'fast', measurementStatus: 0x80, sensorStatus: 0, pulseAmplitudeIndex: 24.3 });
    expect(r.readings[4]!.extra?.averaging).toBe('slow');
    expect(r.readings.every((x) => x.questionable === undefined)).toBe(true);
  });
  it('questionable measurement status marks every reading', () => {
    const r = parsePlxContinuous(hex('04 62 00 48 00 00 40'));
    expect(r.ok && r.readings.every((x) => x.questionable === true)).toBe(true);
  });
  it('sensor displaced (device status bit 13) is questionable', () => {
    const r = parsePlxContinuous(hex('08 62 00 48 00 00 20 00'));
    expect(r.ok && r.readings.every((x) => x.questionable === true)).toBe(true);
  });
  it('special SpO2 stays special', () =>
    expect(rows(parsePlxContinuous(hex('00 FF 07 48 00')))).toEqual([
      ['spo2', 'special:nan', '%'],
      ['pulse_rate_oximeter', 72, '/min'],
    ]));
  it('missing announced fields are too short', () => expect(reason(parsePlxContinuous(hex('01 62 00 48 00 62 00')))).toBe('too_short'));
});

describe('PLX Spot-check Measurement', () => {
  it('with timestamp', () => {
    const r = parsePlxSpotCheck(hex('01 61 00 4B 00 EA 07 0C 05 08 1E 00'));
    expect(rows(r)).toEqual([
      ['spo2', 97, '%'],
      ['pulse_rate_oximeter', 75, '/min'],
    ]);
    expect(r.ok && r.readings[0]!.deviceTime).toBe(local(2026, 12, 5, 8, 30, 0));
  });
  it('device clock not set: the timestamp is ignored', () => {
    const r = parsePlxSpotCheck(hex('11 61 00 4B 00 EA 07 0C 05 08 1E 00'));
    expect(r.ok && r.readings[0]!.deviceTime).toBeUndefined();
  });
  it('all optional fields', () => {
    const r = parsePlxSpotCheck(hex('0F 61 00 4B 00 EA 07 0C 05 08 1E 00 00 00 00 00 00 32 00'));
    expect(r.ok && r.readings[0]!.extra).toEqual({ measurementStatus: 0, sensorStatus: 0, pulseAmplitudeIndex: 50 });
  });
  it('too short', () => expect(reason(parsePlxSpotCheck(hex('01 61 00 4B 00 EA 07')))).toBe('too_short'));
});

describe('Temperature Measurement', () => {
  it('36.4 Cel from the reference', () => expect(rows(parseTemperature(hex('00 6C 01 00 FF')))).toEqual([['body_temp', 36.4, 'Cel']]));
  it('Fahrenheit, timestamp and site', () => {
    const r = parseTemperature(hex('07 D9 03 00 FF E9 07 01 02 03 04 05 03'));
    expect(rows(r)).toEqual([['body_temp', 98.5, '[degF]']]);
    expect(r.ok && r.readings[0]!.deviceTime).toBe(local(2025, 1, 2, 3, 4, 5));
    expect(r.ok && r.readings[0]!.extra).toEqual({ site: 'ear' });
  });
  it('reserved site value is kept as reserved', () => {
    const r = parseTemperature(hex('04 6C 01 00 FF 0A'));
    expect(r.ok && r.readings[0]!.extra).toEqual({ site: 'reserved' });
    expect(parseTemperature(hex('04 6C 01 00 FF 00')).ok).toBe(true);
  });
  it('unknown date (year 0) gives no device time', () => {
    const r = parseTemperature(hex('02 6C 01 00 FF 00 00 01 02 03 04 05'));
    expect(r.ok && r.readings[0]!.deviceTime).toBeUndefined();
  });
  it.each([
    ['FF FF 7F 00', 'nan'],
    ['00 00 80 00', 'nres'],
    ['FE FF 7F 00', 'pos_inf'],
    ['02 00 80 00', 'neg_inf'],
    ['01 00 80 00', 'reserved'],
  ])('special FLOAT %s is %s', (v, s) => expect(rows(parseTemperature(hex(`00 ${v}`)))).toEqual([['body_temp', `special:${s}`, 'Cel']]));
  it('too short', () => expect(reason(parseTemperature(hex('02 6C 01 00 FF E9 07')))).toBe('too_short'));
});

describe('Blood Pressure Measurement', () => {
  it('mmHg without options', () => {
    expect(rows(parseBloodPressure(hex('00 78 00 50 00 5D 00')))).toEqual([
      ['nibp_sys', 120, 'mm[Hg]'],
      ['nibp_dia', 80, 'mm[Hg]'],
      ['nibp_mean', 93, 'mm[Hg]'],
    ]);
  });
  it('kPa with every option', () => {
    const r = parseBloodPressure(hex('1F A0 F0 6B F0 7C F0 EA 07 0C 05 08 1E 00 48 00 01 00 00'));
    expect(rows(r)).toEqual([
      ['nibp_sys', 16, 'kPa'],
      ['nibp_dia', 10.7, 'kPa'],
      ['nibp_mean', 12.4, 'kPa'],
      ['pulse_rate_nibp', 72, '/min'],
    ]);
    if (!r.ok) throw new Error();
    expect(r.readings.every((x) => x.deviceTime === local(2026, 12, 5, 8, 30, 0))).toBe(true);
    expect(r.readings[0]!.extra).toEqual({ cuffUser: 1, measurementStatus: 0 });
  });
  it.each([
    [0x0001, true], // body movement
    [0x0002, true], // cuff too loose
    [0x0004, true], // irregular pulse
    [0x0008, true], // pulse rate above range
    [0x0010, true], // below range
    [0x0018, false], // range value 3 is reserved
    [0x0020, true], // improper position
    [0x0000, false],
  ])('measurement status 0x%s questionable=%s', (s, q) => {
    const b = hex('10 78 00 50 00 5D 00 00 00');
    b[7] = s & 0xff;
    const r = parseBloodPressure(b);
    expect(r.ok && r.readings.every((x) => (x.questionable ?? false) === q)).toBe(true);
  });
  it('NaN diastolic stays special', () => expect(rows(parseBloodPressure(hex('00 78 00 FF 07 5D 00')))[1]).toEqual(['nibp_dia', 'special:nan', 'mm[Hg]']));
  it('too short', () => expect(reason(parseBloodPressure(hex('04 78 00 50 00 5D 00')))).toBe('too_short'));
});

describe('Intermediate Cuff Pressure', () => {
  it('current cuff pressure from the systolic field', () => {
    expect(rows(parseIntermediateCuffPressure(hex('00 96 00 FF 07 FF 07')))).toEqual([['nibp_cuff', 150, 'mm[Hg]']]);
  });
  it('with pulse rate', () => {
    expect(rows(parseIntermediateCuffPressure(hex('04 96 00 FF 07 FF 07 46 00')))).toEqual([
      ['nibp_cuff', 150, 'mm[Hg]'],
      ['pulse_rate_nibp', 70, '/min'],
    ]);
  });
});

describe('Glucose Measurement', () => {
  it('kg/L concentration, capillary whole blood from a finger, with time offset', () => {
    // 106 x 10^-5 kg/L = 0.00106 kg/L (106 mg/dL)
    const r = parseGlucose(hex('03 05 00 EA 07 0C 05 08 1E 00 0F 00 6A B0 11'));
    expect(rows(r)).toEqual([['glucose', 0.00106, 'kg/L']]);
    if (!r.ok) throw new Error();
    expect(r.readings[0]!.deviceTime).toBe(local(2026, 12, 5, 8, 45, 0));
    expect(r.readings[0]!.extra).toEqual({
      sequence: 5,
      sampleType: 'capillary_whole_blood',
      sampleLocation: 'finger',
      contextFollows: false,
      mdcCode: 160184,
    });
  });
  it('mol/L, venous plasma, sensor status', () => {
    const r = parseGlucose(hex('0E 01 00 EA 07 0C 05 08 1E 00 3A C0 24 02 00'));
    expect(rows(r)).toEqual([['glucose', 0.0058, 'mol/L']]);
    if (!r.ok) throw new Error();
    expect(r.readings[0]!.extra).toMatchObject({ sampleType: 'venous_plasma', sampleLocation: 'alternate_site_test', mdcCode: 160196, sensorStatus: 2 });
    expect(r.readings[0]!.questionable).toBe(true);
  });
  it('reserved type and location are kept as reserved', () => {
    const r = parseGlucose(hex('02 01 00 EA 07 0C 05 08 1E 00 6A B0 7C'));
    expect(r.ok && r.readings[0]!.extra).toMatchObject({ sampleType: 'reserved', sampleLocation: 'reserved' });
  });
  it('no concentration: no readings', () => expect(rows(parseGlucose(hex('00 01 00 EA 07 0C 05 08 1E 00')))).toEqual([]));
  it('too short', () => expect(reason(parseGlucose(hex('02 01 00 EA 07 0C 05 08 1E 00 6A B0')))).toBe('too_short'));
});

describe('Battery Level', () => {
  it.each([[0], [57], [100]])('%s %%', (v) => expect(rows(parseBatteryLevel(Uint8Array.of(v)))).toEqual([['battery_level', v, '%']]));
  it('101 is out of range', () => expect(reason(parseBatteryLevel(Uint8Array.of(101)))).toBe('battery_range'));
  it('not exactly one octet', () => {
    expect(reason(parseBatteryLevel(Uint8Array.of()))).toBe('battery_length');
    expect(reason(parseBatteryLevel(Uint8Array.of(50, 0)))).toBe('battery_length');
  });
});

describe('vendor decoder', () => {
  it('parses its frame and refuses a bad checksum', () => {
    expect(rows(parseVendorOximeter(hex('A5 61 48 00 2A 78')))).toEqual([
      ['spo2', 97, '%'],
      ['pulse_rate_oximeter', 72, '/min'],
    ]);
    expect(rows(parseVendorOximeter(hex('A5 7F FF 01 00 24')))).toEqual([
      ['spo2', 'special:nan', '%'],
      ['pulse_rate_oximeter', 'special:nan', '/min'],
    ]);
    expect(reason(parseVendorOximeter(hex('A5 61 48 00 2A 79')))).toBe('bad_checksum');
  });
  it('one registerDecoder call makes a characteristic decodable (128-bit UUIDs in any spelling)', () => {
    expect(decoderFor('12345678-0000-4000-8000-00805f9b0001')).toBeUndefined();
    registerDecoder({
      name: 'test_vendor',
      service: '12345678-0000-4000-8000-00805f9b0000',
      characteristic: '12345678-0000-4000-8000-00805F9B0001',
      parse: parseVendorOximeter,
    });
    expect(decoderFor('1234567800004000800000805f9b0001')?.name).toBe('test_vendor');
    expect(decoderFor('00002a37-0000-1000-8000-00805f9b34fb')?.name).toBe('heart_rate');
  });
});
