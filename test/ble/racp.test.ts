/**
 * Record Access Control Point (0x2A52) of the Glucose Service. Byte vectors built from
 * GLS v1.0 §3.4 (Record Access Control Point: Report Stored Records, Report Number of Stored
 * Records, filter type 0x01 = Sequence Number) and the GATT Specification Supplement
 * "Record Access Control Point" (Op Code / Operator / Response Code Value tables).
 */
import { describe, expect, it } from 'vitest';
import { parseRacpResponse, type RacpParseResult, reportAllRecords, reportNumberOfRecords, reportRecordsFrom } from '../../src/devices/ble/profiles/racp.js';

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

describe('RACP request builders', () => {
  it('report all stored records = 01 01 (Op Code 0x01, Operator 0x01 "all records", no operand)', () => {
    expect(toHex(reportAllRecords())).toBe('0101');
  });
  it.each([
    [0, '0103010000'],
    [1, '0103010100'],
    [0x1234, '0103013412'],
    [0xffff, '010301ffff'],
  ])('report records with sequence number >= %i = Op 0x01, Operator 0x03 (>=), Filter 0x01, uint16 LE', (seq, want) => {
    expect(toHex(reportRecordsFrom(seq))).toBe(want);
  });
  it('report number of stored records (all) = 04 01', () => {
    expect(toHex(reportNumberOfRecords())).toBe('0401');
  });
});

describe('RACP response parser', () => {
  it.each([
    ['06 00 01 01', 1, 'success', 1],
    ['06 00 01 02', 1, 'op_code_not_supported', 2],
    ['06 00 01 03', 1, 'invalid_operator', 3],
    ['06 00 01 04', 1, 'operator_not_supported', 4],
    ['06 00 01 05', 1, 'invalid_operand', 5],
    ['06 00 01 06', 1, 'no_records_found', 6],
    ['06 00 03 07', 3, 'abort_unsuccessful', 7],
    ['06 00 01 08', 1, 'procedure_not_completed', 8],
    ['06 00 01 09', 1, 'operand_not_supported', 9],
    ['06 00 04 01', 4, 'success', 1],
    ['06 00 02 00', 2, 'reserved', 0],
    ['06 00 01 0a', 1, 'reserved', 10],
    ['06 00 01 ff', 1, 'reserved', 255],
  ])('response code %s -> request op %i, %s', (bytes, requestOpCode, code, codeValue) => {
    expect(parseRacpResponse(hex(bytes))).toEqual({ ok: true, response: { kind: 'response_code', requestOpCode, code, codeValue } });
  });
  it.each([
    ['05 00 00 00', 0],
    ['05 00 07 00', 7],
    ['05 00 34 12', 0x1234],
    ['05 00 ff ff', 0xffff],
  ])('number of stored records %s -> %i (uint16 LE)', (bytes, count) => {
    expect(parseRacpResponse(hex(bytes))).toEqual({ ok: true, response: { kind: 'number_of_records', count } });
  });
  it.each([
    ['', 'too_short'],
    ['06', 'too_short'],
    ['05', 'too_short'],
    ['06 00', 'bad_length'],
    ['06 00 01', 'bad_length'],
    ['06 00 01 01 00', 'bad_length'],
    ['05 00 07', 'bad_length'],
    ['05 00 07 00 00', 'bad_length'],
    ['06 01 01 01', 'unexpected_operator'],
    ['05 03 07 00', 'unexpected_operator'],
    ['01 01', 'unknown_opcode'],
    ['04 01', 'unknown_opcode'],
    ['00 00 00 00', 'unknown_opcode'],
    ['07 00 01 01', 'unknown_opcode'],
  ])('rejects %j as %s', (bytes, reason) => {
    expect(parseRacpResponse(hex(bytes))).toEqual({ ok: false, reason });
  });
});

/** Independent classification of a value, written from the spec layout (not from racp.ts). */
function expectedOutcome(b: Uint8Array): string {
  if (b.length < 2) return 'too_short';
  if (b[0] !== 5 && b[0] !== 6) return 'unknown_opcode';
  if (b.length !== 4) return 'bad_length';
  if (b[1] !== 0) return 'unexpected_operator';
  return b[0] === 5 ? `count:${b[2]! + 256 * b[3]!}` : `code:${b[2]}:${b[3]}`;
}
const outcome = (r: RacpParseResult): string =>
  !r.ok ? r.reason : r.response.kind === 'number_of_records' ? `count:${r.response.count}` : `code:${r.response.requestOpCode}:${r.response.codeValue}`;

describe('RACP fuzz', () => {
  it('100k random and mutated values: no exception, each outcome equals the independent classification', () => {
    let seed = 0x13a2_5201;
    const int = (n: number): number => {
      seed = (Math.imul(seed, 1_103_515_245) + 12_345) >>> 0;
      return (seed >>> 8) % n;
    };
    const seeds = [hex('06000101'), hex('05000700'), hex('0103010000')];
    const tally = new Map<string, number>();
    const N = 100_000;
    for (let i = 0; i < N; i++) {
      let b: Uint8Array;
      if (i % 2 === 0) {
        b = new Uint8Array(int(8));
        for (let j = 0; j < b.length; j++) b[j] = int(256);
      } else {
        const s = seeds[int(seeds.length)]!;
        b = Uint8Array.from(s.subarray(0, Math.max(0, s.length - 2 + int(4))));
        if (b.length > 0) b[int(b.length)]! ^= 1 << int(8);
      }
      let r: RacpParseResult;
      try {
        r = parseRacpResponse(b);
      } catch (e) {
        throw new Error(`threw on ${toHex(b)}: ${String(e)}`);
      }
      const want = expectedOutcome(b);
      if (outcome(r) !== want) throw new Error(`${toHex(b)}: got ${outcome(r)}, want ${want}`);
      const k = want.split(':')[0]!;
      tally.set(k, (tally.get(k) ?? 0) + 1);
    }
    // every kind of outcome was exercised, and all N inputs are accounted for
    for (const k of ['too_short', 'bad_length', 'unexpected_operator', 'unknown_opcode', 'count', 'code']) expect(tally.get(k) ?? 0).toBeGreaterThan(0);
    expect([...tally.values()].reduce((a, c) => a + c, 0)).toBe(N);
  });
});
