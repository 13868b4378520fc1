/**
 * Every drop goes through the one events table (issue 11 item 5): a QoS 0 message the MQTT
 * adapter drops before the buffer (at the door while the buffer refuses and one message already
 * waits, or waiting when the adapter stops) is counted as reading_refused
 * {reason: mqtt_qos0_refusing | mqtt_qos0_stopping}, one per reading, through the adapter's
 * real wiring (commit-queue-drops.test.ts tests the queue's callback alone). A clean stop while
 * the buffer takes them drops none: what the adapter took reaches the buffer before stop returns.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { SimulatedSensor } from '../../hardware-mocks/mqtt-sensors.js';
import { MqttAdapter } from '../../src/devices/mqtt/adapter.js';
import { mqttConfig, testContext, waitFor } from './helpers/context.js';
import { SENSOR_RULES } from './helpers/rules.js';
import { RecordingSink } from './helpers/sink.js';

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

/** The MQTT adapter with an embedded broker in front of `sink`, and one QoS 0 sensor connected to it (text format: one reading per message). */
async function adapterWithSensor(sink: RecordingSink, ack: Record<string, number>, clientId: string) {
  const adapter = new MqttAdapter(
    mqttConfig({
      enabled: true,
      embedded: { tcp: { host: '127.0.0.1', port: 0 }, auth: { anonymous: { publish: ['ward/#'], subscribe: ['wardgate/#'] } } },
      rules: SENSOR_RULES,
      ack,
    }),
  );
  const ctx = testContext(sink);
  await adapter.start(ctx);
  let stopped = false;
  cleanup.push(async () => {
    if (!stopped) await adapter.stop();
  });
  const url = `mqtt://127.0.0.1:${adapter.addresses().tcp!.port}`;
  const s = new SimulatedSensor({ url, clientId, bed: '3', device: 'q0', format: 'text', qos: 0 });
  await s.connect();
  cleanup.push(() => s.end(true));
  const stop = async (): Promise<void> => {
    await adapter.stop();
    stopped = true;
  };
  return { adapter, ctx, s, stop };
}

describe('MQTT QoS 0 drops are counted in the events table', () => {
  it('at the door while the buffer refuses, and waiting when the adapter stops', async () => {
    const sink = new RecordingSink();
    sink.refuse = true;
    // One reading per submission; after a refusal the next try is a minute away, so what
    // arrives meanwhile waits (one message) or is dropped at the door (the rest).
    const { ctx, s, stop } = await adapterWithSensor(sink, { maxBatch: 1, retryInitial: 60_000, retryMax: 60_000 }, 'q0-drops');
    const refused = (reason: string) => ctx.events.count('reading_refused', { reason });

    await s.publishReading({ spo2: 90, pulse: 60, time: Date.now() });
    await waitFor(() => sink.refused === 1, 'the first message to be refused by the buffer');
    await s.publishReading({ spo2: 91, pulse: 60, time: Date.now() }); // waits in the queue
    const atTheDoor = 3;
    for (let i = 0; i < atTheDoor; i++) await s.publishReading({ spo2: 92 + i, pulse: 60, time: Date.now() });
    await waitFor(async () => (await refused('mqtt_qos0_refusing')) >= atTheDoor, 'the door drops to be counted');
    expect(await refused('mqtt_qos0_refusing')).toBe(atTheDoor);
    expect(sink.submissions).toBe(1);

    await stop();
    expect(await refused('mqtt_qos0_stopping')).toBe(1);
    expect(sink.committed).toEqual([]);
  });

  it('a clean stop while the buffer takes them (slowly) drops none: every message taken is committed before stop returns', async () => {
    const sink = new RecordingSink();
    sink.delayMs = 300; // a slow commit: 64 submissions under way at once, the rest wait in the queue
    const { adapter, ctx, s, stop } = await adapterWithSensor(sink, { maxBatch: 1 }, 'q0-clean-stop');
    const N = 100;
    for (let i = 0; i < N; i++) await s.publishReading({ spo2: 90 + (i % 10), pulse: 60, time: Date.now() - (N - i) * 1000 });
    // Every message taken by the adapter (held in its queue or under way), none committed yet.
    const queue = (adapter as unknown as { queue: { pendingReadings(): number } }).queue;
    await waitFor(() => queue.pendingReadings() === N, 'the adapter to hold every message');
    expect(sink.committed.length).toBe(0);
    await stop();
    expect(sink.committed.filter((r) => r.metric === 'spo2').length).toBe(N);
    expect(await ctx.events.count('reading_refused', { reason: 'mqtt_qos0_stopping' })).toBe(0);
  });
});
