/**
 * Environment overrides are applied before validation and get the file's checks; ports are
 * 1-65535 (brokers and listeners); SASL PLAIN without TLS is refused unless allowed.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, loadConfigFile, parseConfigText } from '../../src/config/load.js';

const saved = { ...process.env };
afterEach(() => {
  process.env = { ...saved };
});

function problems(f: () => unknown): string[] {
  try {
    f();
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
  throw new Error('expected a ConfigError');
}

const file = (text: string): string => {
  const f = join(mkdtempSync(join(tmpdir(), 'wg-cfgenv-')), 'c.yaml');
  writeFileSync(f, text);
  return f;
};

describe('environment overrides are validated like the file', () => {
  it.each([',,,', ' , ', 'a:1,,b:2', 'nohost', 'a:0', 'a:65536', 'a:99999'])(
    'WARDGATE_KAFKA_BROKERS=%j is refused naming kafka.brokers and the variable',
    (v) => {
      process.env.WARDGATE_KAFKA_BROKERS = v;
      const p = problems(() => loadConfigFile(file('kafka:\n  brokers: ["good:9092"]\n')));
      expect(p.join('\n')).toMatch(/^kafka\.brokers.* \(from WARDGATE_KAFKA_BROKERS\): /m);
    },
  );

  it('a good WARDGATE_KAFKA_BROKERS replaces the file brokers', () => {
    process.env.WARDGATE_KAFKA_BROKERS = 'a:1, b:65535';
    expect(loadConfigFile(file('kafka:\n  brokers: ["good:9092"]\n')).kafka.brokers).toEqual(['a:1', 'b:65535']);
  });

  it('the password from the environment is never in a problem', () => {
    process.env.WARDGATE_KAFKA_PASSWORD = 'pw-in-env-7f3a9c';
    process.env.WARDGATE_KAFKA_BROKERS = ',,,';
    let msg = '';
    try {
      loadConfigFile(file('kafka:\n  sasl:\n    mechanism: scram-sha-512\n    username: u\n'));
    } catch (e) {
      msg = (e as Error).message;
    }
    expect(msg).toMatch(/kafka\.brokers/);
    expect(msg).not.toContain('pw-in-env');
  });
});

describe('ports are 1-65535', () => {
  it.each([
    ['kafka:\n  brokers: ["k:65536"]\n', 'kafka.brokers[0]'],
    ['kafka:\n  brokers: ["k:99999"]\n', 'kafka.brokers[0]'],
    ['kafka:\n  brokers: ["k:0"]\n', 'kafka.brokers[0]'],
    ['metrics:\n  port: 0\n', 'metrics.port'],
    ['metrics:\n  port: 65536\n', 'metrics.port'],
    ['devices:\n  mqtt:\n    enabled: true\n    embedded:\n      tcp: { port: 0 }\n', 'devices.mqtt.embedded.tcp.port'],
    ['devices:\n  mqtt:\n    enabled: true\n    embedded:\n      ws: { port: 0 }\n', 'devices.mqtt.embedded.ws.port'],
  ])('%j is refused naming %s', (text, path) => {
    const p = problems(() => parseConfigText(text, 't.yaml'));
    expect(
      p.some((l) => l.startsWith(`${path}:`)),
      p.join(' | '),
    ).toBe(true);
  });

  it('1 and 65535 are accepted', () => {
    const c = parseConfigText('kafka:\n  brokers: ["k:1", "[::1]:65535"]\nmetrics:\n  port: 65535\n', 't.yaml');
    expect(c.kafka.brokers).toEqual(['k:1', '[::1]:65535']);
    expect(c.metrics.port).toBe(65535);
  });

  it('metrics.host must look like an address or a host name', () => {
    const p = problems(() => parseConfigText('metrics:\n  host: "http://0.0.0.0:9464"\n  port: 9464\n', 't.yaml'));
    expect(p.some((l) => l.startsWith('metrics.host:'))).toBe(true);
  });
});

describe('SASL PLAIN over plaintext', () => {
  const sasl = '  sasl:\n    mechanism: plain\n    username: u\n';
  it('is refused without TLS', () => {
    const p = problems(() => parseConfigText(`kafka:\n${sasl}`, 't.yaml'));
    expect(p.join('\n')).toMatch(/kafka\.sasl\.mechanism: SASL PLAIN without TLS/);
    const off = problems(() => parseConfigText(`kafka:\n  tls:\n    enabled: false\n${sasl}`, 't.yaml'));
    expect(off.join('\n')).toMatch(/kafka\.sasl\.mechanism/);
  });

  it('is accepted with TLS, when explicitly allowed, and SCRAM is accepted without TLS', () => {
    expect(parseConfigText(`kafka:\n  tls: {}\n${sasl}`, 't.yaml').kafka.sasl?.mechanism).toBe('plain');
    expect(parseConfigText(`kafka:\n${sasl}    allowPlaintext: true\n`, 't.yaml').kafka.sasl?.allowPlaintext).toBe(true);
    expect(parseConfigText('kafka:\n  sasl:\n    mechanism: scram-sha-256\n    username: u\n', 't.yaml').kafka.sasl?.mechanism).toBe('scram-sha-256');
  });
});
