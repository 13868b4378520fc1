import { describe, expect, it } from 'vitest';
import { validateConfig } from '../../src/config/load.js';
import { mqttConfigSchema } from '../../src/devices/mqtt/config.js';

const issues = (input: unknown): string[] => {
  const r = mqttConfigSchema.safeParse(input);
  return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
};

const base = { enabled: true, embedded: { tcp: {} } };

describe('mqtt config', () => {
  it('fills defaults that suit a ward', () => {
    const c = mqttConfigSchema.parse(base);
    expect(c.embedded?.tcp).toEqual({ host: '0.0.0.0', port: 1883 });
    expect(c.embedded?.limits).toMatchObject({ maxConnections: 1000, maxPacketBytes: 65536, messagesPerSecond: 500, burst: 2000 });
    expect(c.embedded?.alarms).toEqual({ enabled: true, topic: 'wardgate/alarms/{bed}', qos: 1, retain: false });
    expect(c.ack).toEqual({ maxHold: 30_000, retryInitial: 100, retryMax: 5_000, maxBatch: 4096, maxPending: 4096, maxPendingBytes: 4 * 1024 * 1024 });
  });

  it('plugs into devices.mqtt of the main configuration, with sizes and durations', () => {
    const c = validateConfig({
      devices: {
        mqtt: {
          ...base,
          embedded: { tcp: { port: 1884 }, limits: { maxPacketBytes: '16KiB', connectTimeout: '5s' } },
          external: [{ name: 'hospital', url: 'mqtts://broker.example:8883', clientId: 'wardgate-7', subscriptions: ['ward7/#'], sessionExpiry: '2d' }],
        },
      },
    });
    expect(c.devices.mqtt?.embedded?.limits.maxPacketBytes).toBe(16 * 1024);
    expect(c.devices.mqtt?.embedded?.limits.connectTimeout).toBe(5000);
    expect(c.devices.mqtt?.external[0]).toMatchObject({ protocolVersion: 5, qos: 1, sessionExpiry: 2 * 86_400_000, receiveMaximum: 1000 });
  });

  it.each([
    [{ enabled: true }, /neither an embedded broker nor external brokers/],
    [{ embedded: {} }, /at least one listener/],
    [{ embedded: { tls: { cert: 'c', key: 'k', clientCertificates: 'required' } } }, /embedded.tls.ca: clientCertificates needs ca/],
    [{ embedded: { tcp: {}, auth: { users: [{ username: 'u', passwordHash: 'plain' }] } } }, /must be scrypt/],
    [{ embedded: { tcp: {}, auth: { users: [{ username: 'u', publish: ['ward/#/x'] }] } } }, /not a valid MQTT topic filter/],
    [
      { rules: ['ward', 'icu'].map((w) => ({ name: 'a', topic: `${w}/{bed}/{device}`, metric: 'spo2', decoder: { type: 'text' } })) },
      /rule name a is used twice/,
    ],
    [{ rules: [{ topic: 'ward/{bed}/spo2', metric: 'spo2', decoder: { type: 'text' } }] }, /deviceId: uses \{device\} which topic/],
    [{ rules: [{ topic: 'ward/{bed}/{device}', decoder: { type: 'text' } }] }, /gives no metric here/],
    [{ rules: [{ topic: 'ward/{bed}/{device}', metric: 'pulse', decoder: { type: 'text' } }] }, /metric: not a metric of the catalogue/],
    [{ rules: [{ topic: 'ward/{bed}/{device}', decoder: { type: 'json', fields: [{ value: 'a..b', metric: 'spo2' }] } }] }, /has an empty step/],
    [{ rules: [{ topic: 'ward/{bed}/{device}/#/x', metric: 'spo2', decoder: { type: 'text' } }] }, /must be the last level/],
    [{ rules: [{ topic: 'ward/{bed}/{device}', decoder: { type: 'senml', names: { pr: 'pulse' } } }] }, /not a metric of the catalogue/],
    [{ external: [{ name: 'h', url: 'http://x', clientId: 'c', subscriptions: ['a'] }] }, /must be mqtt:\/\/host:port/],
    [{ external: [{ name: 'h', url: 'mqtt://x:1883', subscriptions: ['a'] }] }, /clientId/],
    [{ external: [{ name: 'h', url: 'mqtt://x:1883', clientId: 'c', subscriptions: ['a/#/b'] }] }, /not a valid MQTT topic filter/],
    [{ external: [{ name: 'h', url: 'mqtt://x:1883', clientId: 'c', subscriptions: ['a'], password: 'p', passwordFile: '/f' }] }, /not both/],
    [{ embedded: { tcp: {} }, unknownKey: 1 }, /nrecognized key/],
    [{ embedded: { tcp: {}, alarms: { topic: 'alarms/bed-{bed}' } } }, /\{bed\} may stand for a whole level/],
    [{ embedded: { tcp: {}, alarms: { topic: 'alarms/#' } } }, /without \+ #/],
  ])('refuses %j', (input, msg) => {
    expect(issues(input).join('\n')).toMatch(msg);
  });
});

describe('listener port 0 ("any free port")', () => {
  const zero = (kind: 'tcp' | 'ws') => ({ devices: { mqtt: { enabled: true, embedded: { [kind]: { host: '127.0.0.1', port: 0 } } } } });

  it.each(['tcp', 'ws'] as const)('the programmatic validateConfig refuses embedded.%s.port 0 unless the caller asks for it', (kind) => {
    let message = '';
    try {
      validateConfig(zero(kind), 'prog', { env: null });
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toContain(`devices.mqtt.embedded.${kind}.port: must be a port from 1 to 65535`);
    const ok = validateConfig(zero(kind), 'prog', { env: null, allowAnyFreePort: true });
    expect(ok.devices.mqtt?.embedded?.[kind]?.port).toBe(0);
  });
});
