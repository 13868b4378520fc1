/**
 * Random and mutated characteristic values through every parser in the decoder table: no
 * exception escapes, every value is either readings (finite numbers or a named special
 * value) or a rejection with a reason, and the two add up to the number of inputs.
 */
import { describe, expect, it } from 'vitest';
import { rng } from '../../hardware-mocks/rng.js';
import { decoders } from '../../src/devices/ble/profiles/index.js';

const N = 1_000_000;
const SPECIALS = new Set(['nan', 'nres', 'pos_inf', 'neg_inf', 'reserved']);
/** Valid values to mutate, per characteristic. */
const SEEDS: Record<string, string[]> = {
  '2a37': ['16480004e803', '012c01', '195a00102700 03'.replace(' ', ''), '0848'],
  '2a5e': ['01 61004b00 ea070c05081e00', '0f61004b00ea070c05081e0000000000003200'],
  '2a5f': ['0062004800', '1f61004600600047005f004500800000000000f3f0'],
  '2a1c': ['006c0100ff', '07d90300ffe907010203040503'],
  '2a1e': ['006c0100ff'],
  '2a35': ['0078005000 5d00', '1fa0f06bf07cf0ea070c05081e0048000100 00'],
  '2a36': ['00960fff07ff07', '0496 00ff07ff074600'],
  '2a18': ['030500ea070c05081e000f006ab011', '0e0100ea070c05081e003ac0240200'],
  '2a19': ['39', '64'],
};

describe('fuzz', () => {
  for (const d of decoders()) {
    it(`${d.name}: ${N} random and mutated values, nothing escapes, everything accounted for`, () => {
      const rnd = rng(0xb1e + d.characteristic.length + d.name.length);
      const int = (n: number): number => Math.floor(rnd() * n);
      const seeds = (SEEDS[d.characteristic] ?? ['00']).map((h) => Buffer.from(h.replace(/\s+/g, ''), 'hex'));
      let accepted = 0;
      const rejected = new Map<string, number>();
      let bad = 0;
      const scratch = new Uint8Array(64);
      for (let i = 0; i < N; i++) {
        let b: Uint8Array;
        if (i & 1) {
          const len = int(24);
          for (let j = 0; j < len; j++) scratch[j] = int(256);
          b = scratch.subarray(0, len);
        } else {
          const s = seeds[int(seeds.length)]!;
          const len = Math.max(0, s.length + int(5) - 2);
          for (let j = 0; j < len; j++) scratch[j] = j < s.length ? s[j]! : int(256);
          for (let k = int(3); k >= 0; k--) if (len > 0) scratch[int(len)]! ^= 1 << int(8);
          b = scratch.subarray(0, len);
        }
        const r = d.parse(b); // an exception fails the test here
        if (r.ok) {
          accepted++;
          for (const x of r.readings) {
            if ('value' in x ? !Number.isFinite(x.value) : !SPECIALS.has(x.special)) bad++;
            if (x.deviceTime !== undefined && !Number.isFinite(x.deviceTime)) bad++;
          }
        } else {
          rejected.set(r.reason, (rejected.get(r.reason) ?? 0) + 1);
        }
      }
      const totalRejected = [...rejected.values()].reduce((a, n) => a + n, 0);
      expect(bad).toBe(0);
      expect(accepted + totalRejected).toBe(N);
      // Both outcomes happen: the generator reaches the parser's refusals and its readings.
      expect(accepted).toBeGreaterThan(0);
      expect(totalRejected).toBeGreaterThan(0);
    });
  }
});
