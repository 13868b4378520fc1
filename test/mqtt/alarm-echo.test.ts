/** Local alarm echo on the embedded broker, and the WebSocket listener a ward display may use. */

import { connect } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import type { PendingReading } from '../../src/reading.js';
import { waitFor } from './helpers/context.js';
import { Cleanup, connectSensor, startAdapter } from './helpers/gateway.js';
import { SENSOR_RULES } from './helpers/rules.js';
import { RecordingSink } from './helpers/sink.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const alarm: PendingReading = {
  deviceId: 'ox1',
  deviceKind: 'mqtt',
  bed: '12/b',
  patientId: 'P-000123',
  metric: 'spo2',
  value: 84,
  unit: '%',
  gatewayTime: 1_750_000_000_000,
  deviceTime: 1_749_999_999_000,
  priorityClass: 'alarm',
  quality: ['out_of_range'],
  extra: { code: 'SPO2_LOW' },
};

async function display(url: string, topic: string) {
  const client = connect(url, { clientId: `display-${Math.random()}`, reconnectPeriod: 0 });
  cleanup.add(() => client.end(true));
  await new Promise((r, j) => {
    client.once('connect', r);
    client.once('error', j);
  });
  const got: { topic: string; body: Record<string, unknown> }[] = [];
  client.on('message', (t, p) => got.push({ topic: t, body: JSON.parse(p.toString()) as Record<string, unknown> }));
  await client.subscribeAsync(topic, { qos: 1 });
  return got;
}

describe('alarm echo', () => {
  it('publishes alarms on wardgate/alarms/{bed} without the patient id, over TCP and WebSocket', async () => {
    const { adapter, url, wsUrl } = await startAdapter(cleanup, new RecordingSink(), {
      enabled: true,
      embedded: {
        tcp: { host: '127.0.0.1', port: 0 },
        ws: { host: '127.0.0.1', port: 0 },
        auth: { anonymous: { publish: ['ward/#'], subscribe: ['wardgate/alarms/+'] } },
      },
    });
    const tcp = await display(url, 'wardgate/alarms/+');
    const ws = await display(wsUrl, 'wardgate/alarms/12_b');
    adapter.publishAlarm(alarm);
    await waitFor(() => tcp.length === 1 && ws.length === 1, 'both displays to get the alarm');
    expect(tcp[0]!.topic).toBe('wardgate/alarms/12_b'); // '/' in a bed id cannot split the topic
    expect(tcp[0]!.body).toEqual({
      bed: '12/b',
      deviceId: 'ox1',
      metric: 'spo2',
      value: 84,
      unit: '%',
      gatewayTime: 1_750_000_000_000,
      deviceTime: 1_749_999_999_000,
      quality: ['out_of_range'],
      extra: { code: 'SPO2_LOW' },
    });
    expect(JSON.stringify(ws[0]!.body)).not.toContain('P-000123');
  });

  it('uses the configured topic, and does nothing when disabled or without an embedded broker', async () => {
    const on = await startAdapter(cleanup, new RecordingSink(), {
      enabled: true,
      embedded: { tcp: { host: '127.0.0.1', port: 0 }, auth: { anonymous: { subscribe: ['#'] } }, alarms: { topic: 'ward7/display/{bed}/alarm' } },
    });
    const got = await display(on.url, '#');
    on.adapter.publishAlarm(alarm);
    await waitFor(() => got.length === 1, 'the alarm');
    expect(got[0]!.topic).toBe('ward7/display/12_b/alarm');

    const off = await startAdapter(cleanup, new RecordingSink(), {
      enabled: true,
      embedded: { tcp: { host: '127.0.0.1', port: 0 }, auth: { anonymous: { subscribe: ['#'] } }, alarms: { enabled: false } },
    });
    const none = await display(off.url, '#');
    off.adapter.publishAlarm(alarm);
    const noBroker = await startAdapter(cleanup, new RecordingSink(), {
      enabled: true,
      external: [{ name: 'x', url: 'mqtt://127.0.0.1:1', clientId: 'c', subscriptions: ['#'] }],
    });
    expect(() => noBroker.adapter.publishAlarm(alarm)).not.toThrow();
    await new Promise((r) => setTimeout(r, 200));
    expect(none).toHaveLength(0);
  });

  it('a sensor can publish over WebSocket too', async () => {
    const sink = new RecordingSink();
    const { wsUrl } = await startAdapter(cleanup, sink, {
      enabled: true,
      embedded: { ws: { host: '127.0.0.1', port: 0 }, auth: { anonymous: { publish: ['ward/#'] } } },
      rules: SENSOR_RULES,
    });
    const s = await connectSensor(cleanup, { url: wsUrl, clientId: 'wsox', bed: '4', device: 'wsox', format: 'senml' });
    await s.publishReading({ spo2: 98, pulse: 77, time: Date.now() });
    expect(sink.committed.map((r) => [r.metric, r.value])).toEqual([
      ['spo2', 98],
      ['pulse_rate_oximeter', 77],
    ]);
  });
});
