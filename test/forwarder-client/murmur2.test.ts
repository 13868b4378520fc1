import { describe, expect, it } from 'vitest';
import { javaPartition, murmur2 } from './murmur2.js';

describe('murmur2 (the Java partitioner the contract suite checks against)', () => {
  it("matches the values in Kafka's own UtilsTest", () => {
    const cases: Array<[string, number]> = [
      ['21', -973932308],
      ['foobar', -790332482],
      ['a-little-bit-long-string', -985981536],
      ['a-little-bit-longer-string', -1486304829],
      ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
      ['abc', 479470107],
    ];
    for (const [s, want] of cases) expect(murmur2(Buffer.from(s)), s).toBe(want);
  });

  it('javaPartition masks the sign bit instead of taking an unsigned value', () => {
    // 'foobar' hashes negative: the masked and the unsigned remainders differ for 3 partitions.
    const h = murmur2(Buffer.from('foobar'));
    expect(h).toBeLessThan(0);
    expect(javaPartition(Buffer.from('foobar'), 3)).toBe((h & 0x7fffffff) % 3);
    expect((h & 0x7fffffff) % 3).not.toBe((h >>> 0) % 3);
  });
});
