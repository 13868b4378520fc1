/**
 * What the embedded broker keeps for a subscriber with a persistent session: at most
 * limits.queuedPerSubscriber messages while it is away (the oldest kept, as Mosquitto does), and a
 * subscriber that is there and acknowledges gets everything, however much that is (what leaves
 * the queue leaves the count). The messages are numbered by the test; the readings in them are
 * committed either way.
 */
import { connect, type MqttClient } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from './helpers/context.js';
import { Cleanup, startAdapter } from './helpers/gateway.js';
import { SENSOR_RULES } from './helpers/rules.js';
import { RecordingSink } from './helpers/sink.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

async function display(url: string, got: string[]): Promise<MqttClient> {
  const c = connect(url, { clientId: 'display-7', clean: false, reconnectPeriod: 0, protocolVersion: 4 });
  cleanup.add(() => c.end(true));
  c.on('message', (_t, p) => got.push(p.toString()));
  await new Promise((r, j) => {
    c.once('connect', r);
    c.once('error', j);
  });
  return c;
}

describe('embedded broker: what waits for a persistent subscriber', () => {
  it('a subscriber that is there gets all, five times the bound; one that is away gets the oldest, up to the bound', async () => {
    const CAP = 20;
    const { url } = await startAdapter(cleanup, new RecordingSink(), {
      enabled: true,
      embedded: {
        tcp: { host: '127.0.0.1', port: 0 },
        auth: { anonymous: { publish: ['ward/#'], subscribe: ['ward/#'] } },
        limits: { queuedPerSubscriber: CAP },
      },
      rules: SENSOR_RULES,
    });
    const got: string[] = [];
    const d = await display(url, got);
    await d.subscribeAsync('ward/#', { qos: 1 });
    const sensor = connect(url, { clientId: 'sensor-1', reconnectPeriod: 0 });
    cleanup.add(() => sensor.end(true));
    await new Promise((r) => sensor.once('connect', r));
    const publish = async (from: number, n: number): Promise<void> => {
      for (let i = from; i < from + n; i++) await sensor.publishAsync('ward/12/ox1/note', String(i), { qos: 1 });
    };
    await publish(0, 5 * CAP);
    await waitFor(() => got.length === 5 * CAP, 'every message to the subscriber that is there');
    expect(got).toEqual(Array.from({ length: 5 * CAP }, (_, i) => String(i)));

    await d.endAsync(); // away, its session kept
    await publish(1000, CAP + 10);
    got.length = 0;
    const back = await display(url, got);
    await back.subscribeAsync('ward/#', { qos: 1 });
    const marker = connect(url, { clientId: 'marker', reconnectPeriod: 0 });
    cleanup.add(() => marker.end(true));
    await new Promise((r) => marker.once('connect', r));
    // The queue comes as a stream beside live messages: a barrier once the last kept one is in.
    await waitFor(() => got.includes(String(1000 + CAP - 1)), 'the queued messages');
    await marker.publishAsync('ward/12/ox2/note', 'after', { qos: 1 });
    await waitFor(() => got.includes('after'), 'the barrier');
    expect(got.filter((v) => v !== 'after')).toEqual(Array.from({ length: CAP }, (_, i) => String(1000 + i)));
  });
});
