/**
 * Fuzz, part 1: every protocol session (framing and decoding together) over 1M random chunks
 * with delimiters sprinkled in: no exception escapes, no non-finite value comes out.
 * Part 2 (fuzz-frames.test.ts): random messages, mutated reference frames, 100 MB of garbage.
 */

import { describe, expect, it } from 'vitest';
import { rng } from '../../hardware-mocks/rng.js';
import type { SerialProtocolName } from '../../src/devices/serial/config.js';
import { PROTOCOLS } from '../../src/devices/serial/protocols/index.js';
import { valueAbsent } from '../../src/reading.js';

const RANDOM_INPUTS = 1_000_000;

function randomBytes(r: () => number, n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = Math.floor(r() * 256);
  return b;
}

describe('fuzz: random input never throws', () => {
  it.each(Object.keys(PROTOCOLS) as SerialProtocolName[])('%s session over random chunks', (name) => {
    const r = rng(name.length * 7919);
    const s = PROTOCOLS[name].createSession({ pollIntervalMs: 1000, ...(name === 'line' ? { options: { format: 'wg1' } } : {}) });
    s.open(0);
    let inputs = 0;
    let bytes = 0;
    let nonFinite = 0;
    while (inputs < RANDOM_INPUTS) {
      const n = 1 + Math.floor(r() * 64);
      const chunk = randomBytes(r, n);
      // Sprinkle delimiters so the decoders see many short candidate frames.
      if (r() < 0.3) chunk[Math.floor(r() * n)] = [0xc0, 0xc1, 0x7e, 0x7d, 0x0a, 0x01, 0x80][Math.floor(r() * 7)]!;
      const out = s.data(chunk, inputs);
      // A reading without a number must say why (a value-absent flag, e.g. an IntelliVue FLOAT NaN).
      for (const x of out.readings) if (!Number.isFinite(x.value) && valueAbsent(x.quality ?? []) === undefined) nonFinite++;
      if (inputs % 1000 === 0) s.tick(inputs);
      inputs++;
      bytes += n;
    }
    expect(bytes).toBeGreaterThan(RANDOM_INPUTS);
    expect(nonFinite).toBe(0);
  });
});
