/**
 * The FHIR id mapping (src/forwarder/formats/fhir-id.ts) over many random ids built from the
 * characters that make it work hard: every output is a FHIR id, the same input gives the same
 * output, and distinct inputs give distinct outputs (with and without an Observation suffix).
 */
import { describe, expect, it } from 'vitest';
import { escapeId, FHIR_ID, fhirId, observationId } from '../../src/forwarder/formats/fhir-id.js';

/** A small deterministic generator (mulberry32), so a failure can be replayed. */
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Escape characters, hex digits, the shortening marker, delimiters, non-ASCII and astral characters.
const ALPHABET = ['.', '_', '-', 'h', 'H', 'a', 'F', '5', '0', ':', '/', ' ', '|', 'ü', '😀', '\u0000'];

function randomIds(n: number, seed: number): string[] {
  const r = rng(seed);
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    // Mostly short (collisions of the escape), some long (collisions of the shortening).
    const len = r() < 0.8 ? 1 + Math.floor(r() * 8) : 60 + Math.floor(r() * 70);
    let s = '';
    for (let k = 0; k < len; k++) s += ALPHABET[Math.floor(r() * ALPHABET.length)];
    out.push(s);
  }
  return out;
}

describe('FHIR id mapping', () => {
  const raws = [...new Set(randomIds(100_000, 18))];

  it('every output is a FHIR id, deterministic, and distinct ids stay distinct', () => {
    const seen = new Map<string, string>();
    const bad: string[] = [];
    for (const raw of raws) {
      const id = fhirId(raw);
      if (!FHIR_ID.test(id) || fhirId(raw) !== id) bad.push(`${JSON.stringify(raw)} -> ${id}`);
      const other = seen.get(id);
      if (other !== undefined) bad.push(`${JSON.stringify(raw)} and ${JSON.stringify(other)} both map to ${id}`);
      seen.set(id, raw);
    }
    expect(bad).toEqual([]);
    expect(seen.size).toBe(raws.length);
  });

  it('Observation ids are FHIR ids and distinct per (gateway id, seq)', () => {
    const gateways = raws.filter((g) => g.length <= 64).slice(0, 20_000);
    const ids = new Set<string>();
    let n = 0;
    for (const [i, g] of gateways.entries()) {
      for (const seq of [1, 10 + i, 9_007_199_254_740_991]) {
        const id = observationId(g, seq);
        if (!FHIR_ID.test(id)) expect.fail(`${JSON.stringify(g)} ${seq} -> ${id}`);
        ids.add(id);
        n++;
      }
    }
    expect(ids.size).toBe(n);
  });

  it('escapes as documented; letters, digits and dashes stay', () => {
    expect([escapeId('mon-7'), escapeId('gw_ward_3'), escapeId('AA:BB'), escapeId('a b'), escapeId('a.b'), escapeId('ü')]).toEqual([
      'mon-7',
      'gw.5Fward.5F3',
      'AA.3ABB',
      'a.20b',
      'a.2Eb',
      '.C3.BC',
    ]);
    const long = fhirId('d'.repeat(128));
    expect(long).toMatch(/^d{40}\.h[0-9a-f]{22}$/);
  });
});
