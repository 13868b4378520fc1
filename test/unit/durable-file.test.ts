import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fsyncPathSync, writeFileDurably } from '../../src/durable-file.js';

describe('writeFileDurably', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'wg-durable-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('writes every byte of a large buffer, with the mode asked for, and leaves no temporary file', () => {
    const path = join(dir, 'big');
    const data = randomBytes(3 * 1024 * 1024 + 17);
    writeFileDurably(path, data, 0o600);
    expect(readFileSync(path).equals(data)).toBe(true);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(readdirSync(dir)).toEqual(['big']);
  });

  it('replaces a file with text (multi-byte characters included)', () => {
    const path = join(dir, 'seq');
    writeFileSync(path, 'old contents that are longer than the new ones\n');
    writeFileDurably(path, 'Zimmer-Ü 😀 42\n', 0o640);
    expect(readFileSync(path, 'utf8')).toBe('Zimmer-Ü 😀 42\n');
    expect(statSync(path).mode & 0o777).toBe(0o640);
  });

  it('throws when the folder is missing, and fsyncPathSync throws on a missing path', () => {
    expect(() => writeFileDurably(join(dir, 'none', 'f'), 'x', 0o600)).toThrow(/ENOENT/);
    expect(() => fsyncPathSync(join(dir, 'none'))).toThrow(/ENOENT/);
    expect(() => fsyncPathSync(dir)).not.toThrow();
  });
});
