/**
 * No error path echoes key, password or secret-file content: a key file holding plain base64,
 * a key file cut short in the middle of a key, a users file and a configuration file that do
 * not parse. Each case checks that no 6-character piece of the secret is in the message.
 */

import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, parseConfigText } from '../../src/config/load.js';
import { describeKeyFile, generateKeyFile, loadKeyRing } from '../../src/crypto/keys.js';
import { readUsersFile } from '../../src/devices/mqtt/users-file.js';
import { ConfigurationError } from '../../src/errors.js';

let root: string;
afterEach(() => rmSync(root, { recursive: true, force: true }));
const mk = () => (root = mkdtempSync(join(tmpdir(), 'wg-secret-')));

/** The message of what `f` throws (it must throw). */
function thrown(f: () => unknown): Error {
  try {
    f();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected an error');
}

/** Every 6-character window of the secret that appears in the text. */
function leaks(text: string, secret: string): string[] {
  const out: string[] = [];
  for (let i = 0; i + 6 <= secret.length; i++) if (text.includes(secret.slice(i, i + 6))) out.push(secret.slice(i, i + 6));
  return out;
}

describe('errors never quote secrets', () => {
  it('a key file holding plain base64 (not JSON) is refused without a byte of it', () => {
    const p = join(mk(), 'k.key');
    const key = randomBytes(32).toString('base64');
    writeFileSync(p, `${key}\n`, { mode: 0o600 });
    for (const f of [() => loadKeyRing(p), () => describeKeyFile(p), () => generateKeyFile(p, { rotate: true })]) {
      const e = thrown(f);
      expect(e).toBeInstanceOf(ConfigurationError);
      expect(e.message).toMatch(/not valid JSON/);
      expect(leaks(e.message, key)).toEqual([]);
    }
  });

  it('a key file cut short inside a key is refused without a byte of it', () => {
    const p = join(mk(), 'k.key');
    generateKeyFile(p);
    const key = randomBytes(32).toString('base64');
    writeFileSync(p, `{"format":"wardgate-keys","version":1,"active":1,"keys":[{"id":1,"key":"${key}`, { mode: 0o600 });
    const e = thrown(() => loadKeyRing(p));
    expect(leaks(e.message, key)).toEqual([]);
  });

  it('a users file that does not parse is refused naming the line, not quoting it', () => {
    const p = join(mk(), 'users.yaml');
    const hash = `scrypt$16384$8$1$${randomBytes(16).toString('base64')}$${randomBytes(32).toString('base64')}`;
    writeFileSync(p, `users:\n  - username: nurse\n    passwordHash: "${hash}\n    publish: [ward/#\n`, { mode: 0o600 });
    const e = thrown(() => readUsersFile(p));
    expect(e).toBeInstanceOf(ConfigurationError);
    expect(e.message).toMatch(/not valid YAML/);
    expect(leaks(e.message, hash)).toEqual([]);
  });

  it('a configuration file that does not parse is refused without quoting the password around the mistake', () => {
    const pw = `pw-${randomBytes(12).toString('hex')}`;
    for (const text of [
      `kafka:\n  sasl:\n    mechanism: scram-sha-512\n    username: u\n    password: "${pw}\n`,
      `kafka:\n  sasl:\n    password: ${pw}: x\n`,
      `kafka:\n  sasl:\n    password: ${pw}\n   x: [\n`,
    ]) {
      const e = thrown(() => parseConfigText(text, 'c.yaml'));
      expect(e).toBeInstanceOf(ConfigError);
      expect(leaks(e.message, pw)).toEqual([]);
    }
  });
});
