/**
 * The simulator's own IntelliVue wire code (hardware-mocks/serial/intellivue-wire.ts, written apart from src/)
 * against the reference's literal bytes (§2.2, §2.5, §2.10): a simulator that drifts from the protocol would
 * otherwise pass the end-to-end tests together with a gateway that drifts the same way.
 */
import { describe, expect, it } from 'vitest';
import { bcdTime, FrameReader, fcs, float32, frame, transport } from '../../hardware-mocks/serial/intellivue-wire.js';
import { hex, REF } from './vectors.js';

describe('simulator CRC-16/X-25 and transport', () => {
  it('check value of 123456789 is 0x906E (V-PH-0)', () => {
    expect(fcs([...Buffer.from('123456789')])).toBe(0x906e);
  });

  it.each(['V-PH-1', 'V-PH-2'])('%s: two bytes framed with no header', (k) => {
    const wire = hex(REF[k]!);
    expect(transport([wire[1]!, wire[2]!]).toString('hex')).toBe(wire.toString('hex'));
  });
});

describe('simulator frames the reference messages byte for byte', () => {
  it.each(['V-PH-3', 'V-PH-4', 'V-PH-5', 'V-PH-5b', 'V-PH-7'])('%s: read back, then framed again, is the literal', (k) => {
    const wire = hex(REF[k]!);
    const r = new FrameReader();
    const got = r.feed(wire);
    expect(r.bad).toBe(0);
    expect(got).toHaveLength(1);
    expect(frame(got[0]!).toString('hex')).toBe(wire.toString('hex'));
  });

  it('V-PH-6: the association request it reads is the 300 bytes of the reference', () => {
    const r = new FrameReader();
    expect(r.feed(hex(REF['V-PH-6']!))).toEqual([hex(REF['V-PH-6-data']!)]);
    expect(frame(hex(REF['V-PH-6-data']!)).toString('hex')).toBe(REF['V-PH-6']!.toLowerCase());
  });

  it('a corrupted request is counted bad, not delivered', () => {
    const wire = hex(REF['V-PH-3']!);
    wire[20] = wire[20]! ^ 0x04;
    const r = new FrameReader();
    expect(r.feed(wire)).toEqual([]);
    expect(r.bad).toBe(1);
  });
});

describe('simulator FLOAT-Type and BCD time (§2.5, V-PH-7)', () => {
  it.each([
    [98, 0, '00000062'],
    [36.7, 1, 'ff00016f'],
    [1.2, 1, 'ff00000c'],
    [12.34, 2, 'fe0004d2'],
    [-5, 0, '00fffffb'],
  ])('%f with %i decimals is %s', (v, d, w) => {
    expect(float32(v, d).toString(16).padStart(8, '0')).toBe(w);
  });

  it('2025-01-07 12:30:00 is 20 25 01 07 12 30 00 00', () => {
    expect(bcdTime(new Date(2025, 0, 7, 12, 30, 0)).toString('hex')).toBe('2025010712300000');
  });
});
