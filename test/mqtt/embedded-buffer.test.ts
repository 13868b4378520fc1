/**
 * End to end through the production path: simulated sensors (real MQTT) -> embedded broker
 * -> Ingest -> encrypted SQLite buffer. The PUBACK a sensor sees means the reading is on disk.
 */

import { connect } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { type SensorFormat, SimulatedSensor } from '../../hardware-mocks/mqtt-sensors.js';
import { MqttAdapter } from '../../src/devices/mqtt/adapter.js';
import { silentLogger } from '../../src/logger.js';
import { type RealPipeline, realPipeline } from './helpers/buffer.js';
import { mqttConfig, sleep, waitFor } from './helpers/context.js';
import { Cleanup } from './helpers/gateway.js';
import { SENSOR_RULES } from './helpers/rules.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

async function gateway(p: RealPipeline, adapterHolder?: { adapter?: MqttAdapter }) {
  const adapter = new MqttAdapter(
    mqttConfig({
      enabled: true,
      embedded: { tcp: { host: '127.0.0.1', port: 0 }, auth: { anonymous: { publish: ['ward/#'], subscribe: ['wardgate/alarms/+'] } } },
      rules: [{ name: 'ox-alarm', topic: 'ward/{bed}/{device}/alarm', metric: 'spo2', unit: '%', class: 'alarm', decoder: { type: 'text' } }, ...SENSOR_RULES],
      ack: { retryInitial: 20, retryMax: 100 },
    }),
  );
  if (adapterHolder) adapterHolder.adapter = adapter;
  await adapter.start({ sink: p.ingest, events: p.events, log: silentLogger() });
  cleanup.add(() => adapter.stop());
  return { adapter, url: `mqtt://127.0.0.1:${adapter.addresses().tcp!.port}` };
}

async function sensors(url: string, n: number): Promise<SimulatedSensor[]> {
  const formats: SensorFormat[] = ['json', 'senml', 'text', 'binary'];
  const out = Array.from(
    { length: n },
    (_, i) => new SimulatedSensor({ url, clientId: `e2e-${i}`, bed: `b${i % 6}`, device: `dev${i}`, format: formats[i % 4]!, seed: i + 1 }),
  );
  for (const s of out) cleanup.add(() => s.end(true));
  await Promise.all(out.map((s) => s.connect()));
  return out;
}

describe('embedded broker into the real buffer', () => {
  it('every acknowledged reading is in the buffer, in per-device order', async () => {
    const p = await realPipeline();
    cleanup.add(() => p.close());
    const { url } = await gateway(p);
    const ss = await sensors(url, 20);
    const t0 = Date.now() - 60_000;
    await Promise.all(
      ss.map(async (s, i) => {
        for (let k = 0; k < 25; k++) await s.publishReading({ spo2: 90 + (k % 10), pulse: 60 + (k % 30), time: t0 + k * 1000 + i });
      }),
    );
    // every PUBACK has come back: no flush needed, the readings are committed already
    const readings = p.drain();
    const perSample = (i: number): number => (i % 4 === 2 ? 1 : 2); // text carries spo2 only
    expect(readings).toHaveLength(ss.reduce((a, _s, i) => a + 25 * perSample(i), 0));
    for (const [i, s] of ss.entries()) {
      const mine = readings.filter((r) => r.deviceId === s.opts.device && r.metric === 'spo2');
      expect(mine.map((r) => r.value)).toEqual(Array.from({ length: 25 }, (_, k) => 90 + (k % 10)));
      if (s.opts.format !== 'text') {
        // the binary layout carries whole seconds
        const sent = (k: number): number => (s.opts.format === 'binary' ? Math.floor((t0 + k * 1000 + i) / 1000) * 1000 : t0 + k * 1000 + i);
        expect(mine.map((r) => r.deviceTime)).toEqual(Array.from({ length: 25 }, (_, k) => sent(k)));
      }
      expect(mine.every((r) => r.bed === s.opts.bed && r.deviceKind === 'mqtt' && r.unit === '%')).toBe(true);
    }
    const seqs = readings.map((r) => r.seq);
    expect(new Set(seqs).size).toBe(seqs.length);
    expect(await p.events.count('reading_rejected')).toBe(0);
  });

  it('while the buffer refuses, QoS 1 gets no PUBACK; after recovery each message lands once', async () => {
    const p = await realPipeline();
    cleanup.add(() => p.close());
    const holder: { adapter?: MqttAdapter } = {};
    const { url } = await gateway(p, holder);
    const [a, b] = await sensors(url, 2);
    p.refuse = true;
    let acked = 0;
    const pubs = [a!, b!].flatMap((s, i) => [0, 1, 2].map((k) => s.publishReading({ spo2: 91 + k, pulse: 70 + i, time: Date.now() }).then(() => acked++)));
    await sleep(600);
    expect(acked).toBe(0);
    expect(await p.events.count('reading_refused', { reason: 'disk_full' })).toBeGreaterThan(0);
    expect(holder.adapter!.status()).toMatchObject({ state: 'degraded' });
    expect(p.buffer.stats().totalReadings).toBe(0);
    p.refuse = false;
    await Promise.all(pubs);
    const readings = p.drain();
    expect(
      readings
        .filter((r) => r.metric === 'spo2')
        .map((r) => `${r.deviceId}:${r.value}`)
        .sort(),
    ).toEqual(['dev0:91', 'dev0:92', 'dev0:93', 'dev1:91', 'dev1:92', 'dev1:93']);
  });

  it('alarm readings are echoed on wardgate/alarms/{bed} once committed (Ingest onAlarm)', async () => {
    const holder: { adapter?: MqttAdapter } = {};
    const p = await realPipeline({ onAlarm: (r) => holder.adapter?.publishAlarm(r) });
    cleanup.add(() => p.close());
    const { url } = await gateway(p, holder);
    const display = connect(url, { clientId: 'ward-display', reconnectPeriod: 0 });
    cleanup.add(() => display.end(true));
    await new Promise((r) => display.once('connect', r));
    const got: { topic: string; body: { metric: string; value: number; bed: string } }[] = [];
    display.on('message', (topic, payload) => got.push({ topic, body: JSON.parse(payload.toString()) as (typeof got)[number]['body'] }));
    await display.subscribeAsync('wardgate/alarms/+', { qos: 1 });
    const [s] = await sensors(url, 1);
    await s!.publishRaw('84', 'ward/b0/dev0/alarm');
    await s!.publishReading({ spo2: 97, pulse: 70, time: Date.now() }); // a vital: no echo
    await waitFor(() => got.length === 1, 'the alarm echo');
    await sleep(100);
    expect(got).toEqual([{ topic: 'wardgate/alarms/b0', body: expect.objectContaining({ bed: 'b0', deviceId: 'dev0', metric: 'spo2', value: 84 }) }]);
    expect(p.drain().filter((r) => r.priorityClass === 'alarm')).toHaveLength(1);
  });

  it('readings the catalogue refuses are counted by Ingest; the sensor stays connected', async () => {
    const p = await realPipeline();
    cleanup.add(() => p.close());
    const { url } = await gateway(p);
    const [s] = await sensors(url, 1); // json sensor
    await s!.publishRaw(JSON.stringify({ spo2: 97, pr: 70, ts: Date.now(), unit: 'x' }));
    // a SenML pack with a unit the catalogue cannot convert for spo2
    await s!.publishRaw('[{"n":"spo2","u":"%RH","v":40}]', 'ward/b0/dev0/senml');
    expect(s!.mqtt.connected).toBe(true);
    expect(await p.events.count('reading_rejected', { reason: 'bad_unit', family: 'mqtt' })).toBe(1);
    expect(
      p
        .drain()
        .map((r) => r.metric)
        .sort(),
    ).toEqual(['pulse_rate_oximeter', 'spo2']);
  });
});
