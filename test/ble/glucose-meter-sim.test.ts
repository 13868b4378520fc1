/**
 * The simulated glucose meter's RACP answers, byte for byte as GLS v1.0 §3.4 lays them out
 * (Response Code: 06 00 <request op code> <code>; Number of Stored Records: 05 00 <count LE>),
 * and its Glucose Measurement records (flags, sequence number, base time, SFLOAT kg/L,
 * type/location). Expected bytes are written here from the specification, not from src/.
 */
import { describe, expect, it } from 'vitest';
import { GlucoseMemory } from '../../hardware-mocks/ble/glucose-meter.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/ /g, ''), 'hex');

function meterWith(n: number): GlucoseMemory {
  const m = new GlucoseMemory();
  for (let i = 0; i < n; i++) m.take(100 + i, new Date(2026, 11, 6, 7, 30, i));
  return m;
}

describe('simulated glucose meter', () => {
  it('stores a record as a Glucose Measurement: flags 02, sequence, base time, SFLOAT kg/L (exponent -5), capillary whole blood at a finger', () => {
    const m = new GlucoseMemory(0x0102);
    const r = m.take(105, new Date(2026, 11, 6, 7, 30, 15));
    expect(r.bytes.toString('hex')).toBe('02 0201 ea07 0c 06 07 1e 0f 69b0 11'.replace(/ /g, ''));
    expect(m.take(90, new Date()).seq).toBe(0x0103);
  });

  it.each([
    ['report all', '01 01', 'records 1-4', '06 00 01 01'],
    ['report >= 3', '01 03 01 03 00', 'records 3-4', '06 00 01 01'],
    ['report >= 9: none', '01 03 01 09 00', '', '06 00 01 06'],
    ['number of records, all', '04 01', '', '05 00 04 00'],
    ['number of records >= 2', '04 03 01 02 00', '', '05 00 03 00'],
    ['abort', '03 00', '', '06 00 03 01'],
    ['delete: op code not supported', '02 01', '', '06 00 02 02'],
    ['reserved op code', '07 01', '', '06 00 07 02'],
    ['report, null operator', '01 00', '', '06 00 01 03'],
    ['report, reserved operator', '01 07', '', '06 00 01 03'],
    ['report, last record', '01 06', 'record 4', '06 00 01 01'],
    ['report, first record', '01 05', 'record 1', '06 00 01 01'],
    ['report, last record with an operand', '01 06 01', '', '06 00 01 05'],
    ['report, less or equal: operator not supported', '01 02 01 02 00', '', '06 00 01 04'],
    ['report all with an operand', '01 01 01', '', '06 00 01 05'],
    ['report >=, no operand', '01 03', '', '06 00 01 05'],
    ['report >=, short operand', '01 03 01 02', '', '06 00 01 05'],
    ['report >=, user facing time filter', '01 03 02 00 00', '', '06 00 01 09'],
    ['abort with an operator', '03 01', '', '06 00 03 03'],
    ['op code only', '01', '', '06 00 01 03'],
  ])('%s: %s -> %s, then %s', (_what, request, records, response) => {
    const m = meterWith(4);
    const a = m.request(hex(request));
    const want = ({ '': [], 'records 1-4': [1, 2, 3, 4], 'records 3-4': [3, 4], 'record 4': [4], 'record 1': [1] } as Record<string, number[]>)[records]!;
    expect(a.records.map((r) => r.seq)).toEqual(want);
    expect(a.response?.toString('hex')).toBe(response.replace(/ /g, ''));
    expect(a.abort).toBe(request.startsWith('03 00'));
  });

  it('a reset clears the memory and restarts the counter; the last record is the newest in storage order (after a wrap too)', () => {
    const m = new GlucoseMemory(0xfffe);
    for (let i = 0; i < 3; i++) m.take(100, new Date());
    expect(m.records.map((r) => r.seq)).toEqual([0xfffe, 0xffff, 0]);
    expect(m.request(hex('01 06')).records.map((r) => r.seq)).toEqual([0]);
    m.reset();
    expect(m.request(hex('01 06')).response?.toString('hex')).toBe('06000106');
    expect(m.take(90, new Date()).seq).toBe(1);
  });

  it('modes: op code not supported to everything, silent, filter ignored, no first/last record', () => {
    const m = meterWith(3);
    m.mode = 'unsupported';
    expect(m.request(hex('01 01')).response?.toString('hex')).toBe('06000102');
    m.mode = 'silent';
    expect(m.request(hex('01 01'))).toEqual({ records: [], response: null, abort: false });
    m.mode = 'ignore_filter';
    expect(m.request(hex('01 03 01 03 00')).records.map((r) => r.seq)).toEqual([1, 2, 3]);
    m.mode = 'no_first_last';
    expect(m.request(hex('01 06')).response?.toString('hex')).toBe('06000104');
    expect(m.request(hex('01 01')).records.map((r) => r.seq)).toEqual([1, 2, 3]);
    expect(m.requests.map((b) => b.toString('hex'))).toEqual(['0101', '0101', '0103010300', '0106', '0101']);
  });
});
