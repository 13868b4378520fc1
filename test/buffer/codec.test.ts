import { describe, expect, it } from 'vitest';
import { CodecError, decodeUnit, encodeUnit, validateForEncoding } from '../../src/buffer/codec.js';
import type { PendingReading } from '../../src/reading.js';
import { reading } from './helpers.js';

const strip = (r: object) => {
  const { seq: _s, gatewayId: _g, ...rest } = r as Record<string, unknown>;
  return rest;
};

describe('unit codec', () => {
  it('round-trips awkward values, times, flags, units and extras exactly', () => {
    const rs: PendingReading[] = [
      reading(0, { value: 36.7, metric: 'body_temp', unit: 'Cel' }),
      reading(1, { value: -0.001, quality: ['out_of_range', 'simulated'] }),
      reading(2, { value: 1 / 3, quality: ['simulated', 'out_of_range'] }), // non-canonical order kept
      reading(3, { value: Math.fround(1.1), patientId: undefined }),
      reading(4, { value: 2 ** 52 + 1, deviceTime: undefined }),
      reading(5, { value: -0 }),
      reading(6, { value: 98.6, unit: '[degF]' }),
      reading(7, { gatewayTime: 5, deviceTime: 1e13 }),
      reading(8, { gatewayTime: 1.5 }),
      reading(9, { extra: { event: 'gap', count: 12, big: 1.25, ok: true, no: false, devices: 'a,b' }, bed: 'Zimmer 3 – Fenster', deviceId: 'ü-1' }),
    ];
    const { patientId: _p, ...noPatient } = rs[3]!;
    rs[3] = noPatient as PendingReading;
    const { deviceTime: _d, ...noDev } = rs[4]!;
    rs[4] = noDev as PendingReading;
    for (const r of rs) validateForEncoding(r);
    const out = decodeUnit(encodeUnit(rs), { gatewayId: 'g', priorityClass: 'vital', firstSeq: 100 });
    expect(out.map((r) => r.seq)).toEqual(rs.map((_, i) => 100 + i));
    expect(out.map(strip)).toEqual(rs);
    expect(Object.is(out[5]!.value, -0)).toBe(true);
    // Absent stays absent (undefined: every reading has one shape, see normalise), never a value.
    expect(out[3]!.patientId).toBeUndefined();
    expect(out[4]!.deviceTime).toBeUndefined();
  });

  it('is compact: realistic vital readings take well under 16 bytes each', () => {
    const rs = Array.from({ length: 1000 }, (_, i) => reading(i));
    const b = encodeUnit(rs);
    expect(b.length / rs.length).toBeLessThan(16);
  });

  it('refuses truncated or trailing input', () => {
    const b = encodeUnit([reading(1), reading(2)]);
    expect(() => decodeUnit(b.subarray(0, b.length - 1), { gatewayId: 'g', priorityClass: 'vital', firstSeq: 1 })).toThrow(CodecError);
    expect(() => decodeUnit(Buffer.concat([b, Buffer.of(0)]), { gatewayId: 'g', priorityClass: 'vital', firstSeq: 1 })).toThrow(CodecError);
    expect(() => decodeUnit(b, { gatewayId: 'g', priorityClass: 'vital', firstSeq: 1 }, 3)).toThrow(CodecError);
  });
});
