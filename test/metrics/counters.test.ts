import { connect } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import type { Gateway } from '../../src/gateway.js';
import { startTestGateway, tempDir, testConfig } from '../helpers/gateway.js';
import { freePort } from '../helpers/ports.js';

const running: Gateway[] = [];
afterEach(async () => {
  for (const g of running.splice(0)) await g.stop(0);
});

/** The value of one sample line of a Prometheus text scrape (0 when absent). */
function sample(text: string, name: string, labels: Record<string, string>): number {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const body = line.slice(name.length + 1, line.indexOf('}'));
    const got = Object.fromEntries(body.split(',').map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 2, -1)]));
    if (Object.entries(labels).every(([k, v]) => got[k] === v) && Object.keys(got).length === Object.keys(labels).length)
      return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return 0;
}

describe('/metrics and /healthz count what was sent', () => {
  it('good and bad MQTT messages, ingested and buffered readings equal what the test published and had acknowledged', async () => {
    const metricsPort = await freePort();
    const gw = await startTestGateway(
      testConfig('127.0.0.1:1', tempDir('wg-counters-'), {
        metrics: { port: metricsPort },
        devices: {
          mqtt: {
            enabled: true,
            embedded: { tcp: { host: '127.0.0.1', port: 0 }, auth: { anonymous: { publish: ['ward/#'] } } },
            rules: [{ name: 'ox-text', topic: 'ward/{bed}/{device}/spo2', metric: 'spo2', unit: '%', decoder: { type: 'text' } }],
          },
        },
      } as never),
    );
    running.push(gw);
    const mqttPort = gw.adapters.flatMap((a) => ('addresses' in a ? [(a as { addresses(): { tcp?: { port: number } } }).addresses().tcp?.port] : []))[0];
    expect(mqttPort).toBeTypeOf('number');
    const client = await connect(`mqtt://127.0.0.1:${mqttPort}`, { clientId: 'ox-7', reconnectPeriod: 0, protocolVersion: 4 });
    await new Promise((r, j) => {
      client.once('connect', r);
      client.once('error', j);
    });
    // The test's own tally: PUBACKs received for good and for undecodable payloads.
    const GOOD = 7;
    const BAD = 3;
    let ackedGood = 0;
    let ackedBad = 0;
    for (let i = 0; i < GOOD; i++) {
      await client.publishAsync(`ward/${i % 2}/ox-7/spo2`, String(90 + i), { qos: 1 });
      ackedGood++;
    }
    for (let i = 0; i < BAD; i++) {
      await client.publishAsync('ward/1/ox-7/spo2', `not-a-number-${i}`, { qos: 1 });
      ackedBad++;
    }
    await client.endAsync();
    const m = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    expect(sample(m, 'wardgate_mqtt_messages_total', { source: 'embedded', qos: '1', outcome: 'committed' })).toBe(ackedGood);
    expect(sample(m, 'wardgate_mqtt_messages_total', { source: 'embedded', qos: '1', outcome: 'rejected' })).toBe(ackedBad);
    const rejected = m
      .split('\n')
      .filter((l) => l.startsWith('wardgate_mqtt_payload_rejected_total{') && l.includes('rule="ox-text"'))
      .reduce((a, l) => a + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
    expect(rejected).toBe(ackedBad);
    expect(sample(m, 'wardgate_ingested_total', { family: 'mqtt', class: 'vital' })).toBe(ackedGood);
    // Kafka is unreachable: every good reading is still in the buffer. The gauge is refreshed on
    // the gateway's status tick (a refresh may predate the last commits), so the test scrapes
    // again, up to 100 times, until it shows what was acknowledged; more or fewer fails.
    const buffered: number[] = [];
    for (let i = 0; i < 100 && buffered.at(-1) !== ackedGood; i++) {
      if (i > 0) await new Promise((r) => setTimeout(r, 200));
      buffered.push(sample(await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text(), 'wardgate_buffer_readings', { class: 'vital' }));
    }
    expect(buffered.at(-1)).toBe(ackedGood);
    expect(Math.max(...buffered)).toBe(ackedGood);
    const h = await fetch(`http://127.0.0.1:${metricsPort}/healthz`);
    expect(h.status).toBe(200);
    expect(((await h.json()) as { ok: boolean }).ok).toBe(true);
    expect((await fetch(`http://127.0.0.1:${metricsPort}/nothing-here`)).status).toBe(404);
  }, 60_000);
});
