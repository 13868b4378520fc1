/**
 * wardgate.example.yaml shows every default (README, Configuration): each setting that has a
 * default is written in it, uncommented, with the default's value, unless its line says "example".
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { validateConfig } from '../../src/config/load.js';

const FILE = join(import.meta.dirname, '../../wardgate.example.yaml');
const text = readFileSync(FILE, 'utf8');
const isMap = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Every leaf of `value` as [dotted path, value]. */
function leaves(value: Record<string, unknown>, path: string[] = []): [string[], unknown][] {
  return Object.entries(value).flatMap(([k, v]) => (isMap(v) ? leaves(v, [...path, k]) : [[[...path, k], v] as [string[], unknown]]));
}
const at = (o: unknown, path: string[]): unknown => path.reduce<unknown>((x, k) => (isMap(x) ? x[k] : undefined), o);

describe('wardgate.example.yaml', () => {
  const defaults = validateConfig({}, 'defaults', { env: null });
  const raw = parse(text) as unknown;
  const example = validateConfig(raw, FILE, { env: null });
  const paths = leaves(defaults as unknown as Record<string, unknown>);

  it('writes every setting that has a default', () => {
    expect(paths.length).toBeGreaterThan(30);
    const missing = paths.filter(([p]) => at(raw, p) === undefined).map(([p]) => p.join('.'));
    expect(missing).toEqual([]);
  });

  it("with the default's value, unless its line is marked example", () => {
    const differ = paths
      .filter(([p, v]) => JSON.stringify(at(example, p)) !== JSON.stringify(v))
      .map(([p]) => p.join('.'))
      .filter((p) => !new RegExp(`^\\s*${p.split('.').at(-1)}:.*#\\s*example`, 'm').test(text));
    expect(differ).toEqual([]);
  });

  it('shows gateway.statusFile, whose default is a file in dataDir', () => {
    expect(text).toMatch(/^\s*# statusFile: .*# example/m);
  });
});
