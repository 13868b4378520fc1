/** Secret files other than the key file are refused when group or others can read them. */
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readUsersFile } from '../../src/devices/mqtt/users-file.js';
import { ConfigurationError } from '../../src/errors.js';
import { KafkaClientError } from '../../src/forwarder/client.js';
import { resolveSecurity } from '../../src/forwarder/security.js';

const dir = mkdtempSync(join(tmpdir(), 'wg-secret-files-'));

function thrown(f: () => unknown): Error {
  try {
    f();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected an error');
}

describe('secret file permissions', () => {
  it.each([0o640, 0o604, 0o644])('kafka.sasl.passwordFile with mode %#o is a config error naming the setting, never the password', (mode) => {
    const p = join(dir, `pw-${mode.toString(8)}`);
    writeFileSync(p, 'pw-file-3b9e\n');
    chmodSync(p, mode);
    const e = thrown(() => resolveSecurity({ sasl: { mechanism: 'scram-sha-512', username: 'u', passwordFile: p } }, {}));
    expect(e).toBeInstanceOf(KafkaClientError);
    expect((e as KafkaClientError).kind).toBe('config');
    expect(e.message).toMatch(/kafka\.sasl\.passwordFile .* accessible by group or others/);
    expect(e.message).not.toContain('pw-file-3b9e');
    chmodSync(p, 0o600);
    expect(resolveSecurity({ sasl: { mechanism: 'scram-sha-512', username: 'u', passwordFile: p } }, {}).sasl?.password).toBe('pw-file-3b9e');
  });

  it.each([0o640, 0o644])('the MQTT users file with mode %#o is refused (configuration error)', (mode) => {
    const p = join(dir, `users-${mode.toString(8)}.yaml`);
    writeFileSync(p, 'users:\n  - username: nurse\n    publish: ["ward/#"]\n');
    chmodSync(p, mode);
    const e = thrown(() => readUsersFile(p));
    expect(e).toBeInstanceOf(ConfigurationError);
    expect(e.message).toMatch(/mqtt users file .* accessible by group or others/);
    chmodSync(p, 0o600);
    expect(readUsersFile(p).map((u) => u.username)).toEqual(['nurse']);
  });
});
