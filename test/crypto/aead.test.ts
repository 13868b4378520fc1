import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { AuthenticationFailed, CIPHERS, open, SEAL_OVERHEAD, seal } from '../../src/crypto/aead.js';

describe('aead', () => {
  for (const c of CIPHERS) {
    it(`${c}: round trip, and any flipped byte or other aad is refused`, () => {
      const key = randomBytes(32);
      const pt = Buffer.from('heart rate 72 for patient-42');
      const aad = Buffer.from('position 1..5');
      const s = seal(c, key, pt, aad);
      expect(s.length).toBe(pt.length + SEAL_OVERHEAD);
      expect(s.includes(Buffer.from('patient-42'))).toBe(false);
      expect(open(c, key, s, aad).equals(pt)).toBe(true);
      for (let i = 0; i < s.length; i++) {
        const t = Buffer.from(s);
        t[i] = t[i]! ^ 0x01;
        expect(() => open(c, key, t, aad)).toThrow(AuthenticationFailed);
      }
      expect(() => open(c, key, s, Buffer.from('position 2..6'))).toThrow(AuthenticationFailed);
      expect(() => open(c, randomBytes(32), s, aad)).toThrow(AuthenticationFailed);
    });
  }

  it('never reuses a nonce across many seals', () => {
    const key = randomBytes(32);
    const seen = new Set<string>();
    for (let i = 0; i < 20_000; i++) {
      const s = seal('aes-256-gcm', key, Buffer.from('x'), Buffer.alloc(0));
      const n = s.subarray(0, 12).toString('hex');
      expect(seen.has(n)).toBe(false);
      seen.add(n);
    }
  });

  it('writes the prefix in front of the sealed bytes', () => {
    const key = randomBytes(32);
    const s = seal('chacha20-poly1305', key, Buffer.from('abc'), Buffer.from('a'), Buffer.of(0x17));
    expect(s[0]).toBe(0x17);
    expect(open('chacha20-poly1305', key, s.subarray(1), Buffer.from('a')).toString()).toBe('abc');
  });
});
