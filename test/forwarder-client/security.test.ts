/** TLS/SASL settings -> what the clients get: files read at connect, config errors, no secrets in messages. */
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { validateConfig } from '../../src/config/load.js';
import { KafkaClientError } from '../../src/forwarder/client.js';
import { PASSWORD_ENV, resolveSecurity, scrubSecrets } from '../../src/forwarder/security.js';

const dir = mkdtempSync(join(tmpdir(), 'wg-sec-unit-'));
const file = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};

function configError(f: () => unknown): KafkaClientError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(KafkaClientError);
    expect((e as KafkaClientError).kind).toBe('config');
    return e as KafkaClientError;
  }
  throw new Error('expected a config error');
}

describe('resolveSecurity', () => {
  it('reads the CA, client certificate and key, keeps verification on, passes the server name', () => {
    const r = resolveSecurity(
      { tls: { enabled: true, ca: file('ca.pem', 'CA-PEM'), cert: file('c.pem', 'CERT-PEM'), key: file('c.key', 'KEY-PEM'), servername: 'kafka.example' } },
      {},
    );
    expect(r.tls).toEqual({ rejectUnauthorized: true, ca: 'CA-PEM', cert: 'CERT-PEM', key: 'KEY-PEM', servername: 'kafka.example' });
    expect(r.sasl).toBeUndefined();
  });

  it('no TLS when disabled or absent', () => {
    expect(resolveSecurity({ tls: { enabled: false, ca: '/nonexistent' } }, {}).tls).toBeUndefined();
    expect(resolveSecurity({}, {})).toEqual({});
  });

  it('a missing file is a config error naming the setting and the file', () => {
    const e = configError(() => resolveSecurity({ tls: { enabled: true, ca: join(dir, 'nope.pem') } }, {}));
    expect(e.message).toContain('kafka.tls.ca');
    expect(e.message).toContain('nope.pem');
    expect(e.message).toContain('ENOENT');
  });

  it('a certificate without its key (or the reverse) is a config error', () => {
    configError(() => resolveSecurity({ tls: { enabled: true, cert: file('c2.pem', 'x') } }, {}));
    configError(() => resolveSecurity({ tls: { enabled: true, key: file('k2.pem', 'x') } }, {}));
  });

  it('password: environment first, then the file (one trailing newline dropped), then the config value', () => {
    const pwFile = file('pw', 'from-file \n');
    chmodSync(pwFile, 0o600); // a secret file: readable by the service user only
    const sasl = { mechanism: 'scram-sha-512' as const, username: 'u', password: 'from-config', passwordFile: pwFile };
    expect(resolveSecurity({ sasl }, { [PASSWORD_ENV]: 'from-env' }).sasl?.password).toBe('from-env');
    expect(resolveSecurity({ sasl }, {}).sasl?.password).toBe('from-file ');
    expect(resolveSecurity({ sasl: { ...sasl, passwordFile: undefined } }, {}).sasl).toEqual({
      mechanism: 'scram-sha-512',
      username: 'u',
      password: 'from-config',
    });
  });

  it('no password at all, or an unreadable password file, is a config error that shows no secret', () => {
    const e = configError(() => resolveSecurity({ sasl: { mechanism: 'plain', username: 'u' } }, {}));
    expect(e.message).toContain(PASSWORD_ENV);
    const e2 = configError(() =>
      resolveSecurity({ sasl: { mechanism: 'plain', username: 'u', password: 'sekrit-value', passwordFile: join(dir, 'missing-pw') } }, {}),
    );
    expect(e2.message).toContain('kafka.sasl.passwordFile');
    expect(e2.message).not.toContain('sekrit-value');
  });

  it('scrubSecrets removes every occurrence of the password', () => {
    const r = resolveSecurity({ sasl: { mechanism: 'plain', username: 'u', password: 'p4ss' } }, {});
    expect(scrubSecrets('a p4ss b p4ss', r)).toBe('a [redacted] b [redacted]');
    expect(scrubSecrets('nothing here', r)).toBe('nothing here');
    expect(scrubSecrets('p4ss', null)).toBe('p4ss');
  });
});

describe('config: kafka client, compression, tls, sasl', () => {
  it('accepts both clients and every codec', () => {
    for (const client of ['kafkajs', 'platformatic']) {
      for (const compression of ['none', 'gzip', 'lz4', 'zstd']) {
        const c = validateConfig({ kafka: { client, compression } }, 't');
        expect([c.kafka.client, c.kafka.compression]).toEqual([client, compression]);
      }
    }
  });

  it('refuses an unknown client or codec, and a certificate without its key', () => {
    expect(() => validateConfig({ kafka: { client: 'rdkafka' } }, 't')).toThrow(/kafka\.client/);
    expect(() => validateConfig({ kafka: { compression: 'snappy' } }, 't')).toThrow(/kafka\.compression/);
    expect(() => validateConfig({ kafka: { tls: { cert: '/c.pem' } } }, 't')).toThrow(/cert and key go together/);
  });
});
