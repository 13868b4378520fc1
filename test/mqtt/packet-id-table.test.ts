/**
 * The embedded broker writes MQTT packet ids without mqtt-packet's table of 65,536 two-byte
 * Buffers (6 MiB of heap for the process's life, walked by every full GC): a QoS 1 exchange
 * through it leaves the table empty. The table is mqtt-packet's module-level `cache`, the one
 * aedes writes through; it fills at the first packet written unless the switch is off.
 */
import { createRequire } from 'node:module';
import { afterEach, describe, expect, it } from 'vitest';
import { SimulatedSensor } from '../../hardware-mocks/mqtt-sensors.js';
import { MqttAdapter } from '../../src/devices/mqtt/adapter.js';
import { mqttConfig, testContext } from './helpers/context.js';
import { SENSOR_RULES } from './helpers/rules.js';
import { RecordingSink } from './helpers/sink.js';

const require = createRequire(import.meta.url);
/** The table aedes's mqtt-packet writes ids from (the same module instance: one copy in node_modules). */
const numbers = require('mqtt-packet/numbers.js') as { cache: Record<number, Buffer> };
const aedesPacket = require(createRequire(require.resolve('aedes')).resolve('mqtt-packet')) as unknown;

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

describe('embedded broker: MQTT packet ids', () => {
  it('acknowledges QoS 1 publishes without building the 65,536-Buffer id table', async () => {
    expect(aedesPacket).toBe(require('mqtt-packet'));
    expect(Object.keys(numbers.cache)).toHaveLength(0);
    const sink = new RecordingSink();
    const adapter = new MqttAdapter(
      mqttConfig({
        enabled: true,
        embedded: { tcp: { host: '127.0.0.1', port: 0 }, auth: { anonymous: { publish: ['ward/#'], subscribe: ['wardgate/#'] } } },
        rules: SENSOR_RULES,
      }),
    );
    await adapter.start(testContext(sink));
    cleanup.push(() => adapter.stop());
    const s = new SimulatedSensor({
      url: `mqtt://127.0.0.1:${adapter.addresses().tcp!.port}`,
      clientId: 's-ids',
      bed: '12',
      device: 'ox1',
      format: 'json',
      reconnectPeriod: 100,
    });
    await s.connect();
    cleanup.push(() => s.end(true));
    // Three QoS 1 publishes, each acknowledged by a PUBACK that carries its packet id.
    for (let i = 0; i < 3; i++) await s.publishReading({ spo2: 95 + i, pulse: 70, time: Date.now() });
    expect(sink.committed).toHaveLength(6);
    expect(Object.keys(numbers.cache)).toHaveLength(0);
  });
});
