/**
 * The MQTT family passes the device adapter contract: devices are real MQTT clients
 * publishing to the embedded broker. A client going away is not an adapter fault (the
 * external-broker case is test/mqtt/external.test.ts), so `disappear` is not registered.
 */
import { connect, type MqttClient } from 'mqtt';
import { MqttAdapter } from '../../src/devices/mqtt/adapter.js';
import { mqttConfigSchema } from '../../src/devices/mqtt/config.js';
import { adapterSuite } from './adapter-suite.js';

const MAX_BATCH = 8;
/** The commit queue's submissions in flight (src/devices/mqtt/commit-queue.ts default). */
const MAX_IN_FLIGHT = 64;

adapterSuite(
  'mqtt',
  async () => {
    const adapter = new MqttAdapter(
      mqttConfigSchema.parse({
        enabled: true,
        embedded: { tcp: { host: '127.0.0.1', port: 0 }, auth: { anonymous: { publish: ['ward/#'], subscribe: [] } } },
        rules: [{ name: 'ox-text', topic: 'ward/{bed}/{device}/spo2', metric: 'spo2', unit: '%', decoder: { type: 'text' } }],
        ack: { retryInitial: 20, retryMax: 100, maxBatch: MAX_BATCH },
      }),
    );
    let client: MqttClient | null = null;
    let timer: NodeJS.Timeout | null = null;
    let sent = 0;
    let clientPort = 0;
    const ensureClient = async (): Promise<MqttClient> => {
      const port = adapter.addresses().tcp!.port;
      if (client?.connected && port === clientPort) return client;
      clientPort = port;
      if (timer) clearInterval(timer);
      timer = null;
      await client?.endAsync(true);
      const url = `mqtt://127.0.0.1:${port}`;
      const c = connect(url, { clientId: 'contract-dev', reconnectPeriod: 0 });
      await new Promise<void>((res, rej) => {
        c.once('connect', () => res());
        c.once('error', rej);
      });
      client = c;
      return c;
    };
    const publish = (payload: string): Promise<void> =>
      new Promise((res) =>
        client!.publish('ward/b1/ox1/spo2', payload, { qos: 0 }, () => {
          sent++;
          res();
        }),
      );
    return {
      adapter,
      family: 'mqtt',
      async startDevices() {
        await ensureClient();
        if (!timer) timer = setInterval(() => void publish(String(90 + (sent % 10))), 5);
      },
      offered: () => (client?.connected ? sent : undefined),
      intervalMs: 20,
      async overwhelm() {
        const target = sent + MAX_BATCH * MAX_IN_FLIGHT * 4;
        while (sent < target) await Promise.all(Array.from({ length: 64 }, (_, i) => publish(String(90 + (i % 10)))));
      },
      maxHeldReadings: MAX_BATCH * MAX_IN_FLIGHT,
      async garbage() {
        const bad = ['not a number', 'NaN', 'Infinity', '1e999', ''];
        for (const b of bad) await publish(b);
        return bad.length;
      },
      async close() {
        if (timer) clearInterval(timer);
        const c = client;
        client = null;
        if (c) await c.endAsync(true);
      },
    };
  },
  { disappear: false },
);
