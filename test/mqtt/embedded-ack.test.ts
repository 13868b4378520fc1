/**
 * End-to-end acknowledgement through the embedded broker: PUBACK only after commit, none
 * while the buffer refuses, delivery after recovery.
 */

import { connect } from 'mqtt';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { SimulatedSensor } from '../../hardware-mocks/mqtt-sensors.js';
import { MqttAdapter } from '../../src/devices/mqtt/adapter.js';
import { makeTestPki, type TestPki } from './helpers/certs.js';
import { mqttConfig, sleep, testContext, waitFor } from './helpers/context.js';
import { SENSOR_RULES } from './helpers/rules.js';
import { RecordingSink } from './helpers/sink.js';

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

type Listener = 'tcp' | 'tls' | 'ws';

let pki: TestPki | undefined;
afterAll(() => pki?.remove());

async function startGateway(sink: RecordingSink, maxHold = 30_000, port = 0, listener: Listener = 'tcp') {
  const at = { host: '127.0.0.1', port };
  pki ??= listener === 'tls' ? makeTestPki() : undefined;
  const listeners =
    listener === 'tcp'
      ? { tcp: at }
      : listener === 'ws'
        ? { ws: at }
        : { tls: { ...at, cert: pki!.serverCert, key: pki!.serverKey, clientCertificates: 'off' as const } };
  const adapter = new MqttAdapter(
    mqttConfig({
      enabled: true,
      embedded: { ...listeners, auth: { anonymous: { publish: ['ward/#'], subscribe: ['wardgate/#'] } } },
      rules: SENSOR_RULES,
      ack: { maxHold, retryInitial: 20, retryMax: 100 },
    }),
  );
  const ctx = testContext(sink);
  await adapter.start(ctx);
  cleanup.push(() => adapter.stop());
  const a = adapter.addresses();
  const url =
    listener === 'tcp' ? `mqtt://127.0.0.1:${a.tcp!.port}` : listener === 'ws' ? `ws://127.0.0.1:${a.ws!.port}/mqtt` : `mqtts://127.0.0.1:${a.tls!.port}`;
  return { adapter, ctx, url };
}

async function sensor(url: string, format: 'json' | 'senml' | 'text' | 'binary', id = 'ox1') {
  const s = new SimulatedSensor({ url, clientId: `s-${id}-${format}`, bed: '12', device: id, format, reconnectPeriod: 100 });
  await s.connect();
  cleanup.push(() => s.end(true));
  return s;
}

describe('embedded broker: end-to-end acknowledgement', () => {
  it('sends the PUBACK only after the readings are committed', async () => {
    const sink = new RecordingSink();
    sink.delayMs = 300;
    const { url } = await startGateway(sink);
    const s = await sensor(url, 'json');
    // Order, not time: when the PUBACK reaches the sensor, both readings are already committed
    // (the sink takes 300 ms to commit, so a PUBACK sent on receipt would find none).
    const committedAtPuback = await s.publishReading({ spo2: 96, pulse: 70, time: Date.now() }).then(() => sink.committed.length);
    expect(committedAtPuback).toBe(2);
    expect(sink.committed).toHaveLength(2);
    expect(sink.committed[0]).toMatchObject({ deviceId: 'ox1', bed: '12', metric: 'spo2', value: 96, unit: '%', deviceKind: 'mqtt' });
    expect(sink.committed[1]).toMatchObject({ metric: 'pulse_rate_oximeter', value: 70 });
  });

  it('decodes every sensor format into readings', async () => {
    const sink = new RecordingSink();
    const { url } = await startGateway(sink);
    const time = Date.UTC(2025, 0, 2, 3, 4, 5);
    for (const f of ['json', 'senml', 'text', 'binary'] as const) {
      const s = await sensor(url, f, `d-${f}`);
      await s.publishReading({ spo2: 95, pulse: 81, time });
    }
    const by = (dev: string) => sink.committed.filter((r) => r.deviceId === dev).map((r) => [r.metric, r.value, r.deviceTime ?? null]);
    expect(by('d-json')).toEqual([
      ['spo2', 95, time],
      ['pulse_rate_oximeter', 81, time],
    ]);
    expect(by('d-senml')).toEqual([
      ['spo2', 95, time],
      ['pulse_rate_oximeter', 81, time],
    ]);
    expect(by('d-text')).toEqual([['spo2', 95, null]]);
    expect(by('d-binary')).toEqual([
      ['spo2', 95, time],
      ['pulse_rate_oximeter', 81, time],
    ]);
  });

  it('sends no PUBACK while the buffer refuses, and delivers after recovery', async () => {
    const sink = new RecordingSink();
    sink.refuse = true;
    const { adapter, ctx, url } = await startGateway(sink);
    const s = await sensor(url, 'json');
    let acked = 0;
    const pubs = [0, 1, 2].map((i) => s.publishReading({ spo2: 90 + i, pulse: 60, time: Date.now() }).then(() => acked++));
    await sleep(500);
    expect(acked).toBe(0);
    expect(sink.refused).toBeGreaterThan(0);
    expect(sink.committed).toHaveLength(0);
    expect(adapter.status().state).toBe('degraded');
    expect(await ctx.events.count('reading_refused')).toBe(0); // the test sink is not Ingest: nothing counts there
    sink.refuse = false;
    await Promise.all(pubs);
    expect(acked).toBe(3);
    expect(sink.committed.filter((r) => r.metric === 'spo2').map((r) => r.value)).toEqual([90, 91, 92]);
    expect(adapter.status().state).toBe('running');
  });

  it('disconnects a client whose message stays refused past maxHold; it resends after reconnecting', async () => {
    const sink = new RecordingSink();
    sink.refuse = true;
    const { ctx, url } = await startGateway(sink, 300);
    const s = await sensor(url, 'json');
    let closed = 0;
    s.mqtt.on('close', () => closed++);
    const pub = s.publishReading({ spo2: 93, pulse: 60, time: Date.now() });
    await waitFor(() => closed > 0, 'the gateway to drop the connection');
    expect(await ctx.events.count('client_disconnected', { reason: 'buffer_refused' })).toBeGreaterThanOrEqual(1);
    expect(sink.committed).toHaveLength(0);
    sink.refuse = false;
    await pub; // mqtt.js resends the unacknowledged PUBLISH after reconnecting
    expect(sink.committed.filter((r) => r.metric === 'spo2').map((r) => r.value)).toContain(93);
  });

  it.each(['tcp', 'tls', 'ws'] as const)(
    'a stop while messages flow acknowledges what it took before it closes (%s): after a restart no message comes twice',
    async (listener) => {
      const sink = new RecordingSink();
      sink.delayMs = 10; // each commit takes a while, as its fsync does
      const first = await startGateway(sink, 30_000, 0, listener);
      const K = 4;
      const N = 100;
      const t0 = Date.now() - K * N * 1000;
      let acked = 0;
      const pubs = [];
      for (let k = 0; k < K; k++) {
        const pub = connect(first.url, { clientId: `s-stop-${k}`, reconnectPeriod: 50, ...(pki && listener === 'tls' ? { ca: pki.read(pki.caCert) } : {}) });
        cleanup.push(async () => void pub.end(true));
        await new Promise((r) => pub.once('connect', r));
        pubs.push(pub);
      }
      // Stopped as the first commit starts: the messages in it are taken, not yet acknowledged.
      const stopped = new Promise<void>((resolve) => {
        sink.onSubmit = () => {
          sink.onSubmit = undefined;
          void first.adapter.stop().then(resolve);
        };
      });
      for (let i = 0; i < N; i++)
        for (const [k, pub] of pubs.entries())
          pub.publish(`ward/12/ox${k}/vitals`, JSON.stringify({ spo2: 90, pr: 70, ts: t0 + (i * K + k) * 1000 }), { qos: 1 }, () => acked++);
      await stopped;
      // Each sensor sends again every message it holds unacknowledged once it reconnects.
      await startGateway(sink, 30_000, Number(new URL(first.url).port), listener);
      await waitFor(() => acked === K * N, 'every message acknowledged');
      const times = sink.committed.filter((r) => r.metric === 'spo2').map((r) => r.deviceTime);
      expect(new Set(times).size).toBe(K * N);
      expect(times.filter((t, i, all) => all.indexOf(t) !== i)).toEqual([]);
    },
  );

  it('treats QoS 2 like QoS 1: PUBREC only after commit, stored once', async () => {
    const sink = new RecordingSink();
    sink.delayMs = 200;
    const { url } = await startGateway(sink);
    const s = await sensor(url, 'text');
    // When the QoS 2 flow completes at the sensor, the reading is already committed.
    const committedAtAck = await s.publishRaw('93', s.topic, 2).then(() => sink.committed.length);
    expect(committedAtAck).toBe(1);
    expect(sink.committed.map((r) => r.value)).toEqual([93]);
  });

  it('refuses MQTT 5 clients (aedes 1.2 speaks 3.1 and 3.1.1)', async () => {
    const { url } = await startGateway(new RecordingSink());
    const c = connect(url, { protocolVersion: 5, reconnectPeriod: 0, clientId: 'v5' });
    cleanup.push(async () => void c.end(true));
    const outcome = await new Promise<string>((resolve) => {
      c.once('connect', () => resolve('connected'));
      c.once('error', (e) => resolve(e.message));
      c.once('close', () => resolve('closed'));
    });
    expect(outcome).not.toBe('connected');
  });

  it('acknowledges QoS 0 at once and counts it apart', async () => {
    const sink = new RecordingSink();
    sink.refuse = true;
    const { ctx, url } = await startGateway(sink);
    const s = new SimulatedSensor({ url, clientId: 'q0', bed: '3', device: 'q0', format: 'text', qos: 0 });
    await s.connect();
    cleanup.push(() => s.end(true));
    await s.publishReading({ spo2: 97, pulse: 60, time: Date.now() });
    await waitFor(
      async () => (await ctx.events.registry.getSingleMetricAsString('wardgate_mqtt_messages_total')).includes('qos="0",outcome="refused"'),
      'qos 0 refusal to be counted',
    );
    sink.refuse = false;
    await s.publishReading({ spo2: 98, pulse: 60, time: Date.now() });
    await waitFor(() => sink.committed.length === 1, 'the second qos 0 reading');
    expect(sink.committed[0]).toMatchObject({ value: 98 });
    const text = await ctx.events.registry.getSingleMetricAsString('wardgate_mqtt_messages_total');
    expect(text).toContain('source="embedded",qos="0",outcome="committed"} 1');
    expect(text).not.toContain('qos="1"');
  });
});
