/**
 * MQTT sensors end to end: mqtt.js clients publish QoS 1 to the gateway's embedded broker;
 * each PUBACK means "committed"; every acknowledged reading then arrives in the real Kafka
 * (checked with kcat), and an alarm is echoed on the local alarm topic while it is forwarded.
 */
import mqtt from 'mqtt';
import { describe, expect, inject, it } from 'vitest';
import { MqttAdapter } from '../../src/devices/mqtt/index.js';
import { startTestGateway, tempDir, testConfig, uniqueTopics, waitFor } from '../helpers/gateway.js';
import { readTopic } from '../helpers/kafka.js';

const brokers = inject('kafkaBrokers');

describe('MQTT sensors -> embedded broker -> buffer -> Kafka', () => {
  it('every QoS 1 reading acknowledged by the gateway arrives in Kafka; alarms are echoed locally', async () => {
    const topics = uniqueTopics('mqtt');
    const gw = await startTestGateway(
      testConfig(brokers, tempDir(), {
        kafka: { topics },
        devices: {
          mqtt: {
            enabled: true,
            embedded: { tcp: { host: '127.0.0.1', port: 0 }, auth: { anonymous: { publish: ['ward/#'], subscribe: ['wardgate/alarms/#'] } } },
            rules: [
              { name: 'spo2', topic: 'ward/{bed}/{device}/spo2', metric: 'spo2', unit: '%', decoder: { type: 'text' } },
              { name: 'hr-alarm', topic: 'ward/{bed}/{device}/hr-alarm', metric: 'heart_rate', unit: '/min', class: 'alarm', decoder: { type: 'text' } },
            ],
          },
        },
      }),
    );
    const adapter = gw.adapters.find((a): a is MqttAdapter => a instanceof MqttAdapter)!;
    const url = `mqtt://127.0.0.1:${adapter.addresses().tcp!.port}`;

    const display = await mqtt.connectAsync(url, { protocolVersion: 4, clientId: 'ward-display' });
    const echoed: { topic: string; body: Record<string, unknown> }[] = [];
    display.on('message', (topic, payload) => echoed.push({ topic, body: JSON.parse(payload.toString()) }));
    await display.subscribeAsync('wardgate/alarms/#', { qos: 1 });

    const sensors = await Promise.all([1, 2, 3, 4].map((i) => mqtt.connectAsync(url, { protocolVersion: 4, clientId: `ox-${i}`, clean: false })));
    const perSensor = 50;
    await Promise.all(
      sensors.map(async (c, i) => {
        // publishAsync resolves on PUBACK, which the gateway sends only after the commit.
        for (let n = 0; n < perSensor; n++) await c.publishAsync(`ward/BED-${i + 1}/ox-${i + 1}/spo2`, String(90 + (n % 10)), { qos: 1 });
      }),
    );
    await sensors[0]!.publishAsync('ward/BED-1/ox-1/hr-alarm', '151', { qos: 1 });
    expect(gw.ingest.committed).toBe(4 * perSensor + 1);

    await waitFor(() => echoed.length === 1, 10_000, 'the alarm echo on the embedded broker');
    expect(echoed[0]!.topic).toBe('wardgate/alarms/BED-1');
    expect(JSON.stringify(echoed[0]!.body)).not.toMatch(/patient/i);

    for (const c of [...sensors, display]) await c.endAsync();
    expect(await gw.stop(20_000)).toBe(true);

    const vitals = await readTopic(brokers, topics.vital, { expected: 4 * perSensor, timeoutMs: 30_000 });
    const alarms = await readTopic(brokers, topics.alarm, { expected: 1, timeoutMs: 30_000 });
    expect(vitals).toHaveLength(4 * perSensor);
    expect(alarms).toHaveLength(1);
    const bodies = vitals.map((m) => JSON.parse(m.value) as { deviceId: string; bed: string; metric: string; value: number; deviceKind: string; seq: number });
    for (let i = 1; i <= 4; i++) {
      const mine = vitals.filter((m) => m.key === `ox-${i}`).map((m) => JSON.parse(m.value) as { seq: number; value: number; bed: string });
      expect(mine).toHaveLength(perSensor);
      // Per-device order: values were published 90..99 repeating; in Kafka order they match.
      expect(mine.map((b) => b.value)).toEqual(Array.from({ length: perSensor }, (_, n) => 90 + (n % 10)));
      expect(new Set(mine.map((b) => b.bed))).toEqual(new Set([`BED-${i}`]));
    }
    expect(new Set(bodies.map((b) => b.deviceKind))).toEqual(new Set(['mqtt']));
    expect(JSON.parse(alarms[0]!.value)).toMatchObject({ metric: 'heart_rate', value: 151, priority: 'alarm', deviceId: 'ox-1' });
  });
});
