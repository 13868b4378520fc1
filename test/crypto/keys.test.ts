import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openBuffer } from '../../src/buffer/index.js';
import { describeKeyFile, generateKeyFile, KeyFileError, loadKeyRing, removeKey } from '../../src/crypto/keys.js';
import { silentLogger } from '../../src/logger.js';
import { Events } from '../../src/metrics/events.js';

let root: string;
afterEach(() => rmSync(root, { recursive: true, force: true }));
const mk = () => (root = mkdtempSync(join(tmpdir(), 'wg-keys-')));

describe('key file', () => {
  it('creates a 0600 file with one active key and refuses to overwrite it', () => {
    const p = join(mk(), 'sub', 'k.json');
    const info = generateKeyFile(p);
    expect(info).toEqual({ path: p, activeKeyId: 1, keyIds: [1], protection: 'none' });
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

  it('a passphrase-protected file holds only wrapped keys; the right passphrase unwraps, a wrong one is refused', () => {
    const p = join(mk(), 'k.json');
    const info = generateKeyFile(p, { passphrase: 'correct horse battery' });
    expect(info.protection).toBe('passphrase');
    const doc = JSON.parse(readFileSync(p, 'utf8'));
    expect(doc.kek.kdf).toBe('scrypt');
    expect(doc.keys[0].key).toBeUndefined();
    const ring = loadKeyRing(p, { passphrase: 'correct horse battery' });
    const k1 = ring.get(1)!;
    expect(k1.length).toBe(32);
    expect(readFileSync(p).includes(k1.toString('base64'))).toBe(false);
    expect(readFileSync(p).includes(k1)).toBe(false);
    expect(() => loadKeyRing(p, { passphrase: 'wrong horse battery' })).toThrow(/wrong passphrase/);
    expect(() => loadKeyRing(p)).toThrow(/WARDGATE_KEY_PASSPHRASE/);
    expect(() => generateKeyFile(p, { rotate: true, passphrase: 'wrong horse battery' })).toThrow(/wrong passphrase/);
    expect(generateKeyFile(p, { rotate: true, passphrase: 'correct horse battery' }).activeKeyId).toBe(2);
    const again = loadKeyRing(p, { passphrase: 'correct horse battery' });
    expect(again.get(1)!.equals(k1)).toBe(true);
    expect(again.activeKeyId).toBe(2);
    expect(describeKeyFile(p)).toMatchObject({ keyIds: [1, 2], protection: 'passphrase' });
  });

  it('a secret-file-protected key file, and the env variables, work for the buffer', async () => {
    const dir = mk();
    const secret = join(dir, 'secret');
    writeFileSync(secret, randomBytes(32), { mode: 0o600 });
    const p = join(dir, 'k.json');
    expect(generateKeyFile(p, { secretFile: secret }).protection).toBe('secret-file');
    chmodSync(secret, 0o644);
    expect(() => loadKeyRing(p, { secretFile: secret })).toThrow(/chmod 600/);
    chmodSync(secret, 0o600);
    const log = silentLogger();
    process.env.WARDGATE_KEY_SECRET_FILE = secret;
    try {
      const buf = await openBuffer({ dir: join(dir, 'data'), keyFile: p, gatewayId: 'gw', events: new Events(log), log, ballastBytes: 0 });
      await buf.append([
        { deviceId: 'd', deviceKind: 'ble', bed: 'b', metric: 'spo2', value: 97, unit: '%', gatewayTime: Date.now(), priorityClass: 'vital', quality: [] },
      ]);
      expect(buf.lease({ maxReadings: 10, maxBytes: 1 << 20 })!.readings[0]!.value).toBe(97);
      await buf.close();
    } finally {
      delete process.env.WARDGATE_KEY_SECRET_FILE;
    }
    writeFileSync(secret, randomBytes(32), { mode: 0o600 });
    expect(() => loadKeyRing(p, { secretFile: secret })).toThrow(/wrong passphrase or secret file/);
  });
});
