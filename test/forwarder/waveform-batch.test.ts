/**
 * The opt-in waveform batch format: which readings are batched and where each message goes
 * (table), that a batch loses nothing of its samples (seeded round trip), that every body
 * matches docs/schemas/waveform-batch-v1.json, and the config switch.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { rng } from '../../hardware-mocks/rng.js';
import type { Lease } from '../../src/buffer/types.js';
import { CATALOGUE, METRIC_IDS } from '../../src/catalogue.js';
import { ConfigError, parseConfigText } from '../../src/config/load.js';
import type { OutMessage } from '../../src/forwarder/client.js';
import { forwarderSettings } from '../../src/forwarder/clients.js';
import { MAX_SAMPLES_PER_MESSAGE, toWaveformBatch, type WaveformBatchV1 } from '../../src/forwarder/formats/waveform-batch.js';
import { type RoutingOptions, routeLease } from '../../src/forwarder/routing.js';
import { normalise, type QualityFlag, type Reading } from '../../src/reading.js';

const t0 = Date.parse('2026-11-25T10:00:00.000Z');
const topics = { alarm: 'a', vital: 'v', status: 's', waveform: 'w' };
const batchOpts: RoutingOptions = { topics, key: 'device', waveformFormat: 'batch' };

let seq = 1;
/** A waveform sample of `deviceId`; sample time t (device clock unless over says otherwise). */
function sample(deviceId: string, metric: 'ecg_lead_ii' | 'pleth', value: number, t: number | undefined, over: Partial<Reading> = {}): Reading {
  const r: Reading = {
    gatewayId: 'gw-1',
    seq: seq++,
    deviceId,
    deviceKind: 'serial',
    bed: `bed-${deviceId}`,
    patientId: `P-${deviceId}`,
    metric,
    value,
    unit: CATALOGUE[metric].unit,
    gatewayTime: t0 + 50,
    priorityClass: 'waveform',
    quality: [],
    ...over,
  };
  if (t !== undefined) r.deviceTime = t;
  return r;
}
function gapRecord(): Reading {
  return {
    gatewayId: 'gw-1',
    seq: seq++,
    deviceId: 'gateway',
    deviceKind: 'gateway',
    bed: 'gateway',
    metric: 'gateway_event',
    value: 3,
    unit: '1',
    gatewayTime: t0,
    priorityClass: 'waveform',
    quality: [],
    extra: { event: 'gap', firstSeq: 1, lastSeq: 3, count: 3 },
  };
}
const lease = (readings: Reading[], priorityClass: Lease['priorityClass'] = 'waveform'): Lease => ({
  id: 1,
  priorityClass,
  bytes: 0,
  readings,
  partial: false,
});
const body = (m: OutMessage) => JSON.parse(String(m.value)) as Record<string, unknown>;
/** A compact picture of a message: key, then `batch <metric> <seqRuns>` or `v1 <metric> <seq>`. */
function shape(m: OutMessage): string {
  const b = body(m);
  return b.schema === 'wardgate.waveform.v1' ? `${m.key} batch ${b.metric} ${JSON.stringify(b.seqRuns)}` : `${m.key} v1 ${b.metric} ${b.seq}`;
}

// ---- a small JSON Schema (2020-12 subset) validator: what docs/schemas/*.json use -----------------
type Schema = Record<string, unknown>;
function validate(s: Schema, v: unknown, path = '$'): string[] {
  const errs: string[] = [];
  const type = s.type as string | string[] | undefined;
  const typeOk = (t: string) =>
    t === 'integer'
      ? Number.isInteger(v)
      : t === 'number'
        ? typeof v === 'number'
        : t === 'null'
          ? v === null
          : t === 'array'
            ? Array.isArray(v)
            : t === 'object'
              ? typeof v === 'object' && v !== null && !Array.isArray(v)
              : typeof v === t;
  if (type && !(Array.isArray(type) ? type.some(typeOk) : typeOk(type))) return [`${path}: not ${String(type)}`];
  if ('const' in s && v !== s.const) errs.push(`${path}: not ${String(s.const)}`);
  if (s.enum && !(s.enum as unknown[]).includes(v)) errs.push(`${path}: ${String(v)} not in enum`);
  if (typeof v === 'number') {
    if (typeof s.minimum === 'number' && v < s.minimum) errs.push(`${path}: below minimum`);
    if (typeof s.maximum === 'number' && v > s.maximum) errs.push(`${path}: above maximum`);
  }
  if (typeof v === 'string') {
    if (typeof s.minLength === 'number' && v.length < s.minLength) errs.push(`${path}: too short`);
    if (typeof s.maxLength === 'number' && v.length > s.maxLength) errs.push(`${path}: too long`);
    if (typeof s.pattern === 'string' && !new RegExp(s.pattern).test(v)) errs.push(`${path}: pattern`);
    if (s.format === 'date-time' && !/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/.test(v)) errs.push(`${path}: not date-time`);
  }
  if (Array.isArray(v)) {
    if (typeof s.minItems === 'number' && v.length < s.minItems) errs.push(`${path}: too few items`);
    if (typeof s.maxItems === 'number' && v.length > s.maxItems) errs.push(`${path}: too many items`);
    if (s.uniqueItems && new Set(v.map((x) => JSON.stringify(x))).size !== v.length) errs.push(`${path}: duplicate items`);
    const prefix = (s.prefixItems as Schema[] | undefined) ?? [];
    v.forEach((x, i) => {
      const is = prefix[i] ?? (s.items as Schema | undefined);
      if (is) errs.push(...validate(is, x, `${path}[${i}]`));
    });
  }
  if (typeof v === 'object' && v !== null && !Array.isArray(v)) {
    const o = v as Record<string, unknown>;
    const props = (s.properties as Record<string, Schema> | undefined) ?? {};
    for (const r of (s.required as string[] | undefined) ?? []) if (!(r in o)) errs.push(`${path}: missing ${r}`);
    for (const [k, x] of Object.entries(o)) {
      if (s.propertyNames) errs.push(...validate(s.propertyNames as Schema, k, `${path}{${k}}`));
      if (props[k]) errs.push(...validate(props[k], x, `${path}.${k}`));
      else if (s.additionalProperties === false) errs.push(`${path}: unexpected ${k}`);
      else if (typeof s.additionalProperties === 'object') errs.push(...validate(s.additionalProperties as Schema, x, `${path}.${k}`));
    }
  }
  if (s.oneOf) {
    const ok = (s.oneOf as Schema[]).filter((alt) => validate(alt, v, path).length === 0).length;
    if (ok !== 1) errs.push(`${path}: matches ${ok} of oneOf`);
  }
  return errs;
}
const schemaDir = join(import.meta.dirname, '../../docs/schemas');
const batchSchema = JSON.parse(readFileSync(join(schemaDir, 'waveform-batch-v1.json'), 'utf8')) as Schema;
const readingSchema = JSON.parse(readFileSync(join(schemaDir, 'reading-v1.json'), 'utf8')) as Schema;
/** Every message body on the waveform topic matches the schema its header names. */
function expectValidBodies(messages: OutMessage[]): void {
  for (const m of messages) {
    const schema = m.headers['wardgate-schema'] === 'wardgate.waveform.v1' ? batchSchema : readingSchema;
    expect(validate(schema, body(m))).toEqual([]);
  }
}

/** Expands a batch back into its samples: seq, time (ms), value and flags. */
function expand(b: WaveformBatchV1): { seq: number; t: number; value: number; quality: string[] }[] {
  const seqs = b.seqRuns.flatMap(([first, n]) => Array.from({ length: n }, (_, i) => first + i));
  const base = Date.parse(b.t0);
  return b.values.map((value, i) => ({
    seq: seqs[i]!,
    t: base + (b.periodMs !== undefined ? i * b.periodMs : b.offsetsMs![i]!),
    value,
    quality: [
      ...b.quality,
      ...Object.entries(b.sampleQuality ?? {})
        .filter(([, idx]) => idx.includes(i))
        .map(([q]) => q),
    ].sort(),
  }));
}

interface Case {
  name: string;
  readings: () => Reading[];
  expected: string[];
}
const ecgPacket = (dev: string, from: number, n: number, over: Partial<Reading> = {}) =>
  Array.from({ length: n }, (_, i) => sample(dev, 'ecg_lead_ii', 0.1 * i, from + 4 * i, over));

const cases: Case[] = [
  {
    name: 'one ECG device, 50 samples at 250 Hz: one batch',
    readings: () => ecgPacket('m1', t0, 50),
    expected: ['m1 batch ecg_lead_ii [[1,50]]'],
  },
  {
    name: 'two devices interleaved by packet: one batch each, at its first sample, seq runs per packet',
    readings: () => [...ecgPacket('m1', t0, 5), ...ecgPacket('m2', t0, 5), ...ecgPacket('m1', t0 + 20, 5), ...ecgPacket('m2', t0 + 20, 5)],
    expected: ['m1 batch ecg_lead_ii [[1,5],[11,5]]', 'm2 batch ecg_lead_ii [[6,5],[16,5]]'],
  },
  {
    name: 'ECG and pleth of one device: one batch per metric',
    readings: () => [
      sample('m1', 'ecg_lead_ii', 0.2, t0),
      sample('m1', 'pleth', 1800, t0),
      sample('m1', 'ecg_lead_ii', 0.3, t0 + 4),
      sample('m1', 'pleth', 1810, t0 + 8),
    ],
    expected: ['m1 batch ecg_lead_ii [[1,1],[3,1]]', 'm1 batch pleth [[2,1],[4,1]]'],
  },
  {
    name: 'a gap record and a sample with extra attributes stay JSON v1, in place',
    readings: () => [
      ...ecgPacket('m1', t0, 2),
      gapRecord(),
      sample('m1', 'ecg_lead_ii', 0.5, t0 + 8, { extra: { lead: 'II' } }),
      ...ecgPacket('m1', t0 + 12, 2),
    ],
    expected: ['m1 batch ecg_lead_ii [[1,2],[5,2]]', 'gateway v1 gateway_event 3', 'm1 v1 ecg_lead_ii 4'],
  },
  {
    name: 'a sample with no number (value-absent flag) is its own JSON v1 message with value null, in place',
    readings: () => [...ecgPacket('m1', t0, 2), sample('m1', 'ecg_lead_ii', NaN, t0 + 8, { quality: ['value_nan'] }), ...ecgPacket('m1', t0 + 12, 2)],
    expected: ['m1 batch ecg_lead_ii [[1,2],[4,2]]', 'm1 v1 ecg_lead_ii 3'],
  },
  {
    name: 'samples with and without a device clock are not mixed',
    readings: () => [
      sample('m1', 'pleth', 1, t0),
      sample('m1', 'pleth', 2, undefined, { quality: ['device_clock_unknown'] }),
      sample('m1', 'pleth', 3, t0 + 8),
    ],
    expected: ['m1 batch pleth [[1,1],[3,1]]', 'm1 batch pleth [[2,1]]'],
  },
  {
    name: `more than ${MAX_SAMPLES_PER_MESSAGE} samples of one device: split at ${MAX_SAMPLES_PER_MESSAGE}`,
    readings: () => ecgPacket('m1', t0, MAX_SAMPLES_PER_MESSAGE + 3),
    expected: [`m1 batch ecg_lead_ii [[1,${MAX_SAMPLES_PER_MESSAGE}]]`, `m1 batch ecg_lead_ii [[${MAX_SAMPLES_PER_MESSAGE + 1},3]]`],
  },
];

describe('waveform batch routing (table)', () => {
  it.each(cases)('$name', (c) => {
    seq = 1;
    const readings = c.readings();
    const out = routeLease(lease(readings), batchOpts);
    expect(out).toHaveLength(1);
    expect(out[0]!.topic).toBe('w');
    const msgs = out[0]!.messages;
    expect(msgs.map(shape)).toEqual(c.expected);
    expectValidBodies(msgs);
    // Every reading of the lease is in exactly one message.
    const carried = msgs.flatMap((m) => {
      const b = body(m);
      return b.schema === 'wardgate.waveform.v1' ? expand(b as unknown as WaveformBatchV1).map((s) => s.seq) : [b.seq as number];
    });
    expect(carried.sort((a, b) => a - b)).toEqual(readings.map((r) => r.seq));
    for (const m of msgs) {
      expect(m.headers['wardgate-gateway-id']).toBe('gw-1');
      expect(['wardgate.waveform.v1', 'wardgate.reading.v1']).toContain(m.headers['wardgate-schema']);
      if (m.headers['wardgate-schema'] !== 'wardgate.waveform.v1') continue;
      const b = body(m) as unknown as WaveformBatchV1;
      expect(m.headers['wardgate-seq']).toBe(String(b.seqFirst));
      expect(m.headers['wardgate-seq-last']).toBe(String(b.seqLast));
      expect(m.headers['wardgate-count']).toBe(String(b.count));
      expect(b.count).toBe(b.values.length);
      expect(b.seqRuns.reduce((n, [, len]) => n + len, 0)).toBe(b.count);
    }
  });
});

describe('waveform batch body', () => {
  it('regular samples carry a period, codes and both clocks; irregular ones carry offsets', () => {
    seq = 1;
    const b = toWaveformBatch(ecgPacket('m1', t0, 4));
    expect(b).toMatchObject({
      schema: 'wardgate.waveform.v1',
      gatewayId: 'gw-1',
      deviceId: 'm1',
      bed: 'bed-m1',
      patientId: 'P-m1',
      metric: 'ecg_lead_ii',
      unit: 'mV',
      mdc: { code: 131330, refId: 'MDC_ECG_ELEC_POTL_II' },
      clock: 'device',
      t0: '2026-11-25T10:00:00.000Z',
      periodMs: 4,
      count: 4,
      seqFirst: 1,
      seqLast: 4,
      gatewayTimeFirst: '2026-11-25T10:00:00.050Z',
    });
    expect(b.offsetsMs).toBeUndefined();
    expect(b.values).toEqual([0, 0.1, 0.2, 0.30000000000000004]);
    const irregular = toWaveformBatch([sample('m1', 'pleth', 1, t0), sample('m1', 'pleth', 2, t0 + 8), sample('m1', 'pleth', 3, t0 + 20)]);
    expect(irregular.periodMs).toBeUndefined();
    expect(irregular.offsetsMs).toEqual([0, 8, 20]);
    expect(toWaveformBatch([sample('m1', 'pleth', 1, t0)]).offsetsMs).toEqual([0]);
  });

  it('the schema check used here does reject a bad body', () => {
    seq = 1;
    const good = JSON.parse(JSON.stringify(toWaveformBatch(ecgPacket('m1', t0, 3)))) as Record<string, unknown>;
    expect(validate(batchSchema, good)).toEqual([]);
    expect(validate(batchSchema, { ...good, offsetsMs: [0, 4, 8] })).not.toEqual([]); // both time forms
    expect(validate(batchSchema, { ...good, metric: 'spo2' })).not.toEqual([]);
    expect(validate(batchSchema, { ...good, seqRuns: [[1]] })).not.toEqual([]);
    expect(validate(batchSchema, { ...good, extra: 1 })).not.toEqual([]);
    const { values: _v, ...noValues } = good;
    expect(validate(batchSchema, noValues)).not.toEqual([]);
  });

  it('without a device clock the times are the gateway receive times', () => {
    const b = toWaveformBatch([
      sample('m1', 'pleth', 1, undefined, { quality: ['device_clock_unknown'] }),
      sample('m1', 'pleth', 2, undefined, { gatewayTime: t0 + 90, quality: ['device_clock_unknown'] }),
    ]);
    expect(b).toMatchObject({
      clock: 'gateway',
      t0: '2026-11-25T10:00:00.050Z',
      periodMs: 40,
      quality: ['device_clock_unknown'],
      gatewayTimeLast: '2026-11-25T10:00:00.090Z',
    });
  });

  it('flags on every sample go in quality, flags on some in sampleQuality by index', () => {
    const b = toWaveformBatch([
      sample('m1', 'ecg_lead_ii', 0.1, t0, { quality: ['simulated'] }),
      sample('m1', 'ecg_lead_ii', 25, t0 + 4, { quality: ['simulated', 'out_of_range'] }),
      sample('m1', 'ecg_lead_ii', 0.1, t0 + 8, { quality: ['simulated', 'questionable'] }),
    ]);
    expect(b.quality).toEqual(['simulated']);
    expect(b.sampleQuality).toEqual({ out_of_range: [1], questionable: [2] });
  });

  it('loses nothing: expanding a batch gives back every sample seq, time, value and flag (seeded)', () => {
    const rand = rng(20261125);
    for (let round = 0; round < 20; round++) {
      seq = 1 + Math.floor(rand() * 1e6);
      const readings: Reading[] = [];
      let t = t0 + Math.floor(rand() * 1e6);
      const n = 1 + Math.floor(rand() * 300);
      for (let i = 0; i < n; i++) {
        t += rand() < 0.8 ? 4 : 1 + Math.floor(rand() * 10);
        if (rand() < 0.3) seq += 1 + Math.floor(rand() * 5); // other devices' readings in between
        const quality: QualityFlag[] = rand() < 0.1 ? ['out_of_range'] : [];
        readings.push(sample('m1', 'ecg_lead_ii', Math.round((rand() - 0.5) * 4000) / 1000, t, { quality }));
      }
      const b = toWaveformBatch(readings);
      expect(validate(batchSchema, JSON.parse(JSON.stringify(b)))).toEqual([]);
      expect(expand(b)).toEqual(readings.map((r) => ({ seq: r.seq, t: r.deviceTime, value: r.value, quality: [...r.quality].sort() })));
    }
  });

  it('is much smaller than one JSON v1 message per sample', () => {
    seq = 1;
    const readings = ecgPacket('m1', t0, 250);
    const batched = routeLease(lease(readings), batchOpts)[0]!.messages;
    const single = routeLease(lease(readings), { ...batchOpts, waveformFormat: 'json-v1' })[0]!.messages;
    const size = (ms: OutMessage[]) => ms.reduce((n, m) => n + String(m.value).length, 0);
    expect(batched).toHaveLength(1);
    expect(single).toHaveLength(250);
    expect(size(batched) * 10).toBeLessThan(size(single));
  });
});

describe('waveform format switch', () => {
  it('json-v1 (the default) and every class but waveform keep one message per reading', () => {
    seq = 1;
    const readings = ecgPacket('m1', t0, 10);
    expect(routeLease(lease(readings), { topics, key: 'device' })[0]!.messages).toHaveLength(10);
    expect(routeLease(lease(readings, 'vital'), batchOpts)[0]!.messages).toHaveLength(10);
    expect(routeLease(lease(readings), batchOpts)[0]!.messages).toHaveLength(1);
  });

  it('kafka.waveformFormat defaults to json-v1, accepts batch, refuses anything else, and reaches the routing', () => {
    const dflt = parseConfigText('kafka: {}\n', 'test');
    expect(dflt.kafka.waveformFormat).toBe('json-v1');
    expect(forwarderSettings(dflt.kafka).routing.waveformFormat).toBe('json-v1');
    const batch = parseConfigText('kafka:\n  waveformFormat: batch\n', 'test');
    expect(forwarderSettings(batch.kafka).routing.waveformFormat).toBe('batch');
    expect(() => parseConfigText('kafka:\n  waveformFormat: binary\n', 'test')).toThrow(ConfigError);
  });

  it('the schema lists exactly the catalogue waveform metrics, and JSON v1 knows every metric', () => {
    const waveformMetrics = METRIC_IDS.filter((id) => CATALOGUE[id].waveform);
    expect(waveformMetrics).toEqual(['ecg_lead_ii', 'pleth', 'airway_pressure_wave', 'airway_flow_wave', 'co2_wave']);
    expect((batchSchema.properties as Record<string, { enum: string[] }>).metric!.enum).toEqual(waveformMetrics);
    expect((readingSchema.properties as Record<string, { enum: string[] }>).metric!.enum).toEqual(METRIC_IDS);
  });

  it('ECG samples in microvolts are normalised to mV on ingest', () => {
    const p = normalise(
      { deviceId: 'm1', deviceKind: 'serial', bed: 'b', metric: 'ecg_lead_ii', value: 1250, unit: 'uV', priorityClass: 'waveform' },
      { now: t0, clockSkewToleranceMs: 1000 },
    );
    expect(p.unit).toBe('mV');
    expect(p.value).toBeCloseTo(1.25, 9);
    expect(p.quality).toContain('unit_converted');
  });
});
