import { afterEach, describe, expect, it } from 'vitest';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyFile, loadKeyRing, removeKey, KeyFileError } from '../../src/crypto/keys.js';

let root: string;
afterEach(() => rmSync(root, { recursive: true, force: true }));
const mk = () => (root = mkdtempSync(join(tmpdir(), 'wg-keys-')));

describe('key file', () => {
  it('creates a 0600 file with one active key and refuses to overwrite it', () => {
    const p = join(mk(), 'sub', 'k.json');
    const info = generateKeyFile(p);
    expect(info).toEqual({ path: p, activeKeyId: 1, keyIds: [1] });
    expect(statSync(p).mode & 0o777).toBe(0o600);
    const doc = JSON.parse(readFileSync(p, 'utf8'));
    expect(doc.active).toBe(1);
    expect(Buffer.from(doc.keys[0].key, 'base64').length).toBe(32);
    expect(() => generateKeyFile(p)).toThrow(/already exists/);
    const ring = loadKeyRing(p);
    expect(ring.activeKeyId).toBe(1);
    expect(ring.get(1)!.length).toBe(32);
    expect(ring.fingerprint(1)).toMatch(/^[0-9a-f]{16}$/);
  });

  it('rotation adds a new active key and keeps the old ones', () => {
    const p = join(mk(), 'k.json');
    generateKeyFile(p);
    const k1 = loadKeyRing(p).get(1)!;
    const info = generateKeyFile(p, { rotate: true });
    expect(info.activeKeyId).toBe(2);
    expect(info.keyIds).toEqual([1, 2]);
    const ring = loadKeyRing(p);
    expect(ring.get(1)!.equals(k1)).toBe(true);
    expect(ring.get(2)!.equals(k1)).toBe(false);
    expect(statSync(p).mode & 0o777).toBe(0o600);
  });

  it('refuses a group- or world-readable key file with a clear error', () => {
    const p = join(mk(), 'k.json');
    generateKeyFile(p);
    for (const mode of [0o640, 0o604, 0o660]) {
      chmodSync(p, mode);
      expect(() => loadKeyRing(p)).toThrow(KeyFileError);
      expect(() => loadKeyRing(p)).toThrow(/chmod 600/);
    }
    chmodSync(p, 0o600);
    expect(loadKeyRing(p).activeKeyId).toBe(1);
  });

  it('removing a key is refused while it is active or in use, allowed once drained', () => {
    const p = join(mk(), 'k.json');
    generateKeyFile(p);
    expect(() => removeKey(p, 1, [])).toThrow(/active key/);
    generateKeyFile(p, { rotate: true });
    expect(() => removeKey(p, 1, [1, 2])).toThrow(/still seals/);
    expect(removeKey(p, 1, [2]).keyIds).toEqual([2]);
    expect(loadKeyRing(p).get(1)).toBeUndefined();
  });

  it('a missing file says how to create one', () => {
    expect(() => loadKeyRing(join(mk(), 'nope.json'))).toThrow(/wardgate keygen/);
  });
});
