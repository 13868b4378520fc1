/** The MQTT family in the device registry, and the adapter's lifecycle. */

import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { validateConfig } from '../../src/config/load.js';
import { MqttAdapter, mqttFamily } from '../../src/devices/mqtt/index.js';
import { createAdapters } from '../../src/devices/registry.js';
import { mqttConfig, testContext } from './helpers/context.js';
import { RecordingSink } from './helpers/sink.js';

describe('mqtt family', () => {
  it('creates one adapter when enabled, none when disabled or absent', () => {
    const on = validateConfig({ devices: { mqtt: { enabled: true, embedded: { tcp: { port: 0 } } } } }, 'test', { allowAnyFreePort: true });
    const adapters = createAdapters(on.devices);
    expect(adapters.map((a) => a.family)).toEqual(['mqtt']);
    expect(adapters[0]).toBeInstanceOf(MqttAdapter);
    expect(createAdapters(validateConfig({ devices: { mqtt: { enabled: false, embedded: { tcp: {} } } } }).devices)).toEqual([]);
    expect(createAdapters(validateConfig({}).devices)).toEqual([]);
    expect(mqttFamily.name).toBe('mqtt');
  });

  it('starts, reports, stops, and refuses a second start', async () => {
    const a = new MqttAdapter(mqttConfig({ enabled: true, embedded: { tcp: { host: '127.0.0.1', port: 0 } } }));
    expect(a.status().state).toBe('stopped');
    await a.start(testContext(new RecordingSink()));
    expect(a.status()).toEqual({ state: 'running', devices: 0, detail: 'embedded: 0 clients' });
    await expect(a.start(testContext(new RecordingSink()))).rejects.toThrow(/already started/);
    await a.stop();
    expect(a.status().state).toBe('stopped');
    expect(a.addresses()).toEqual({});
  });

  it('fails to start when its port is taken, and leaves nothing listening', async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as { port: number }).port;
    const a = new MqttAdapter(mqttConfig({ enabled: true, embedded: { tcp: { host: '127.0.0.1', port: 0 }, ws: { host: '127.0.0.1', port } } }));
    await expect(a.start(testContext(new RecordingSink()))).rejects.toThrow(/EADDRINUSE/);
    expect(a.status().state).toBe('stopped');
    expect(a.addresses()).toEqual({});
    await new Promise((r) => blocker.close(r));
  });
});
