/**
 * 100k random payloads through every decoder, by way of the router (as the brokers call
 * it): nothing throws, every value that comes out is finite, and every payload is either
 * turned into readings or counted as rejected, per rule.
 */
import { describe, expect, it } from 'vitest';
import { rng as prng } from '../../hardware-mocks/rng.js';
import { DECODE_FAILURES } from '../../src/devices/mqtt/decoders/index.js';
import { compileRules } from '../../src/devices/mqtt/mapping.js';
import { mqttMetrics } from '../../src/devices/mqtt/metrics.js';
import { MessageRouter } from '../../src/devices/mqtt/router.js';
import { silentLogger } from '../../src/logger.js';
import { Events } from '../../src/metrics/events.js';
import { mqttConfig } from './helpers/context.js';
import { SENSOR_RULES } from './helpers/rules.js';

const N = 100_000;
const NOW = Date.UTC(2025, 5, 1);

const SEEDS = [
  '{"spo2":97,"pr":72,"ts":1718000000}',
  '[{"bn":"urn:dev:ox:","bt":1718000000,"n":"spo2","u":"%","v":97},{"n":"pr","u":"beat/min","v":72}]',
  '[{"n":"body_temp","u":"K","v":310.1,"t":-3}]',
  '97',
  '{"data":{"vitals":[{"value":"37.2","unit":"Cel"}],"time":"2024-06-10T06:13:20Z"}}',
];
const ATOMS = ['0', '-1', '1e400', '"x"', 'null', 'true', '[]', '{}', '"spo2"', '1718000000', 'NaN', '"1e5"', '-0', '9007199254740993', '"\\u0000"'];

function randomPayload(rnd: () => number): Buffer {
  const kind = Math.floor(rnd() * 4);
  const int = (n: number): number => Math.floor(rnd() * n);
  if (kind === 0) {
    // random bytes of random length
    const b = Buffer.alloc(int(48));
    for (let i = 0; i < b.length; i++) b[i] = int(256);
    return b;
  }
  if (kind === 1) {
    // a valid payload with a few bytes flipped, cut or inserted
    const b = Buffer.from(SEEDS[int(SEEDS.length)]!);
    const out = Buffer.from(b);
    for (let k = 0, m = 1 + int(3); k < m; k++) out[int(out.length)] = int(256);
    return rnd() < 0.3 ? out.subarray(0, int(out.length + 1)) : out;
  }
  if (kind === 2) {
    // structurally valid JSON with hostile values
    const atom = (): string => ATOMS[int(ATOMS.length)]!;
    const obj = `{"spo2":${atom()},"pr":${atom()},"ts":${atom()},"data":{"vitals":[{"value":${atom()},"unit":${atom()}}],"time":${atom()}}}`;
    const rec = (): string =>
      `{"bn":${atom()},"bt":${atom()},"n":${rnd() < 0.5 ? '"spo2"' : atom()},"u":${atom()},"v":${atom()},"t":${atom()}${rnd() < 0.05 ? ',"x_":1' : ''}}`;
    return Buffer.from(rnd() < 0.5 ? obj : `[${rec()},${rec()}]`);
  }
  // numbers as text, sometimes with garbage
  const n = (rnd() - 0.5) * 10 ** int(12);
  const s = rnd() < 0.5 ? String(n) : n.toExponential(int(8));
  return Buffer.from(rnd() < 0.2 ? ` ${s}x` : s);
}

describe('decoder fuzz', () => {
  it(`routes ${N} random payloads through every decoder without a throw, and counts each`, async () => {
    const config = mqttConfig({
      enabled: true,
      embedded: { tcp: { port: 0 } },
      rules: [
        ...SENSOR_RULES,
        {
          name: 'nested-json',
          topic: 'ward/{bed}/{device}/nested',
          decoder: { type: 'json', fields: [{ value: 'data.vitals[0].value', unitPath: 'data.vitals[0].unit', metric: 'body_temp' }], time: 'data.time' },
        },
        { name: 'senml-strict', topic: 'ward/{bed}/{device}/strict', decoder: { type: 'senml', ignoreUnknown: false } },
        {
          name: 'bin-var',
          topic: 'ward/{bed}/{device}/binvar',
          decoder: {
            type: 'binary',
            fields: [
              { offset: 0, type: 'float64le', metric: 'resp_rate' },
              { offset: 8, type: 'int32be', metric: 'etco2', scale: 1e300 },
            ],
          },
        },
      ],
    });
    const events = new Events(silentLogger());
    const metrics = mqttMetrics(events.registry);
    const router = new MessageRouter(compileRules(config.rules), events, metrics);
    const topics = ['vitals', 'senml', 'spo2', 'bin', 'nested', 'strict', 'binvar'].map((k) => `ward/7/dev/${k}`);
    const rnd = prng(20250601);
    const accepted = new Map<string, number>(topics.map((t) => [t, 0]));
    let readings = 0;
    for (let i = 0; i < N; i++) {
      const payload = randomPayload(rnd);
      for (const topic of topics) {
        const inputs = router.route('embedded', topic, payload, NOW);
        if (inputs === null) continue;
        accepted.set(topic, accepted.get(topic)! + 1);
        for (const r of inputs) {
          expect(Number.isFinite(r.value)).toBe(true);
          if (r.deviceTime !== undefined) expect(Number.isFinite(r.deviceTime)).toBe(true);
          readings++;
        }
      }
    }
    const rejected = await events.count('frame_rejected', { family: 'mqtt' });
    const totalAccepted = [...accepted.values()].reduce((a, b) => a + b, 0);
    expect(totalAccepted + rejected).toBe(N * topics.length);
    // every rule saw both outcomes (the fuzz reaches valid and invalid paths of each decoder)
    for (const [t, n] of accepted) {
      expect(n, t).toBeGreaterThan(0);
      expect(n, t).toBeLessThan(N);
    }
    // per-rule counters add up to the same total, with reasons from the closed set
    const per = await metrics.rejected.get();
    expect(per.values.reduce((a, v) => a + v.value, 0)).toBe(rejected);
    const allowed = new Set<string>([...DECODE_FAILURES, 'bad_topic', 'no_metric', 'decoder_error']);
    for (const v of per.values) expect(allowed.has(String(v.labels.reason)), String(v.labels.reason)).toBe(true);
    expect(per.values.some((v) => v.labels.reason === 'decoder_error')).toBe(false);
    expect(readings).toBeGreaterThan(0);
  }, 120_000);
});
