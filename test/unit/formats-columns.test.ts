/**
 * JSON v1 and Avro v1 written from a decoded unit's columns (jsonV1UnitMessages,
 * avroV1UnitMessages) against the Reading-object path (readingsOf + jsonV1Messages,
 * avroV1Messages): the same keys, value bytes and headers, message for message.
 */
import { describe, expect, it } from 'vitest';
import { rng } from '../../hardware-mocks/rng.js';
import { decodeUnitColumns, encodeUnit, readingsOf } from '../../src/buffer/codec.js';
import type { UnitSlice } from '../../src/buffer/types.js';
import type { MetricId } from '../../src/catalogue.js';
import type { OutMessage } from '../../src/forwarder/client.js';
import { avroV1Messages, avroV1UnitMessages } from '../../src/forwarder/formats/avro-v1.js';
import { jsonV1Messages, jsonV1UnitMessages } from '../../src/forwarder/formats/json-v1.js';
import { leaseSize, routeLease } from '../../src/forwarder/routing.js';
import { DEVICE_KINDS, type Extra, type PendingReading, PRIORITY_CLASSES, QUALITY_FLAGS, type QualityFlag, type Reading } from '../../src/reading.js';
import { reading, testEnv } from '../buffer/helpers.js';

const METRICS: MetricId[] = [
  'heart_rate',
  'spo2',
  'body_temp',
  'nibp_sys',
  'gateway_event',
  'ecg_lead_ii',
  'pleth',
  'rr_interval',
  'signal_strength',
  'glucose',
];
const IDS = ['mon-1', 'strap-ü', 'ble 😀 7', 'x"y\\z', 'a\u2028b', 'ICU\n07', 'gerät-\ud800', 'plain'];

function randomUnit(rnd: () => number, n: number, t0: number): PendingReading[] {
  const pick = <T>(a: readonly T[]): T => a[Math.floor(rnd() * a.length)]!;
  const devices = Array.from({ length: 1 + Math.floor(rnd() * 6) }, () => ({
    deviceId: pick(IDS) + String(Math.floor(rnd() * 3)),
    deviceKind: pick(DEVICE_KINDS),
    bed: pick(['B1', 'Zimmer 3 – Fenster', 'ICU-07', '床 5']),
    patientId: rnd() < 0.5 ? undefined : pick(['P-1', 'P-ü', 'P"2']),
  }));
  let t = t0;
  const out: PendingReading[] = [];
  for (let i = 0; i < n; i++) {
    const d = pick(devices);
    t += Math.floor(rnd() * 1500);
    const quality: QualityFlag[] = [];
    for (const q of QUALITY_FLAGS) if (rnd() < 0.15) quality.push(q);
    if (rnd() < 0.1) quality.reverse(); // non-canonical order: stored as a list
    const v = rnd();
    const value = v < 0.1 ? NaN : v < 0.15 ? -0 : v < 0.5 ? Math.round(rnd() * 2000) / 10 : v < 0.7 ? rnd() * 1e6 - 5e5 : Math.floor(rnd() * 300);
    const p: PendingReading = {
      deviceId: d.deviceId,
      deviceKind: d.deviceKind,
      bed: d.bed,
      metric: pick(METRICS),
      value,
      unit: rnd() < 0.1 ? '[degF]' : 'x',
      gatewayTime: t,
      priorityClass: 'vital',
      quality,
    };
    if (p.unit === 'x') p.unit = { heart_rate: '/min', spo2: '%', body_temp: 'Cel' }[p.metric as string] ?? '1';
    if (d.patientId !== undefined) p.patientId = d.patientId;
    if (rnd() < 0.6) p.deviceTime = t - Math.floor(rnd() * 5000) + (rnd() < 0.05 ? 0.5 : 0);
    if (rnd() < 0.25) {
      const x: Record<string, string | number | boolean> = {};
      if (rnd() < 0.5) x.alarm = pick(['HR_HIGH', 'SPO2_LOW', 'ü"\\']);
      if (rnd() < 0.5) x.event = 'gap';
      if (rnd() < 0.5) x.count = Math.floor(rnd() * 1e6);
      if (rnd() < 0.5) x.big = rnd() * 10;
      if (rnd() < 0.5) x.ack = rnd() < 0.5;
      p.extra = x as Extra;
    }
    out.push(p);
  }
  // A time outside 0000-9999 or a fraction makes the unit store its times as float64.
  if (n > 0 && rnd() < 0.1) out[n - 1]!.gatewayTime = t + 0.25;
  return out;
}

const bytesOf = (ms: OutMessage[]) => ms.map((m) => ({ key: m.key, value: Buffer.from(m.value as Buffer).toString('hex'), headers: m.headers }));

/** One to three random units of round's class, decoded into columns, some leased only in part. */
function randomSlices(rnd: () => number, round: number): UnitSlice[] {
  const slices: UnitSlice[] = [];
  let seq = 1 + Math.floor(rnd() * 1e9);
  const priorityClass = PRIORITY_CLASSES[round % PRIORITY_CLASSES.length]!;
  for (let u = 0; u < 1 + Math.floor(rnd() * 3); u++) {
    const n = 1 + Math.floor(rnd() * 200);
    const columns = decodeUnitColumns(
      encodeUnit(randomUnit(rnd, n, 1.7e12 + round * 1e7)),
      { gatewayId: round % 2 ? 'gw-ü' : 'gw-1', priorityClass, firstSeq: seq },
      n,
    );
    const from = rnd() < 0.2 ? Math.floor(rnd() * n) : 0;
    const to = rnd() < 0.2 ? from + Math.floor(rnd() * (n - from)) : n;
    slices.push({ columns, from, to });
    seq += n;
  }
  return slices;
}

describe('JSON v1 from unit columns', () => {
  it('is byte-identical to the Reading-object path on random units (fuzz, both key modes, partial slices)', () => {
    const rnd = rng(20261206);
    let compared = 0;
    for (let round = 0; round < 120; round++) {
      const slices = randomSlices(rnd, round);
      const readings: Reading[] = slices.flatMap((s) => readingsOf(s.columns, s.from, s.to));
      for (const key of ['device', 'patient'] as const) {
        const fromColumns: OutMessage[] = [];
        jsonV1UnitMessages(slices, key, fromColumns);
        const fromObjects: OutMessage[] = [];
        jsonV1Messages(readings, (r) => (key === 'patient' && r.patientId !== undefined ? r.patientId : r.deviceId), fromObjects);
        expect(fromColumns.length).toBe(readings.length);
        expect(bytesOf(fromColumns)).toEqual(bytesOf(fromObjects));
        compared += readings.length;
      }
    }
    expect(compared).toBeGreaterThan(4_000);
  });

  it('writes the seq, source and patient of each reading from its own unit', () => {
    const a = readingsOfUnit([{ deviceId: 'd1', bed: 'B1', patientId: 'P1' }], 10);
    const b = readingsOfUnit([{ deviceId: 'd2', bed: 'B2' }], 20);
    const out: OutMessage[] = [];
    jsonV1UnitMessages([a, b], 'patient', out);
    const bodies = out.map((m) => JSON.parse(String(m.value)));
    expect(bodies.map((j) => [j.seq, j.deviceId, j.bed, j.patientId])).toEqual([
      [10, 'd1', 'B1', 'P1'],
      [20, 'd2', 'B2', undefined],
    ]);
    expect(out.map((m) => m.key)).toEqual(['P1', 'd2']);
    expect(out.map((m) => m.headers?.['wardgate-seq'])).toEqual(['10', '20']);
  });
});

describe('Avro v1 from unit columns', () => {
  it('is byte-identical to the Reading-object path on random units (fuzz, both key modes, partial slices)', () => {
    const rnd = rng(20261207);
    let compared = 0;
    for (let round = 0; round < 120; round++) {
      const slices = randomSlices(rnd, round);
      const readings: Reading[] = slices.flatMap((s) => readingsOf(s.columns, s.from, s.to));
      for (const key of ['device', 'patient'] as const) {
        const refusedByColumns: [number, string][] = [];
        const refusedByObjects: [number, string][] = [];
        const fromColumns: OutMessage[] = [];
        avroV1UnitMessages(slices, key, fromColumns, (r, field) => refusedByColumns.push([r.seq, field]));
        const fromObjects: OutMessage[] = [];
        avroV1Messages(
          readings,
          (r) => (key === 'patient' && r.patientId !== undefined ? r.patientId : r.deviceId),
          fromObjects,
          (r, field) => refusedByObjects.push([r.seq, field]),
        );
        expect(fromColumns.length).toBe(readings.length);
        expect(bytesOf(fromColumns)).toEqual(bytesOf(fromObjects));
        expect(refusedByColumns).toEqual(refusedByObjects);
        compared += readings.length;
      }
    }
    expect(compared).toBeGreaterThan(4_000);
  });
});

describe('a lease from the real buffer', () => {
  it('routes to the same JSON v1 messages from its units as from its readings, a unit leased in part included', async () => {
    const env = testEnv('wg-cols-');
    const buf = await env.open();
    try {
      const rnd = rng(7);
      await buf.append(randomUnit(rnd, 40, Date.now()).map((p, i) => ({ ...p, gatewayTime: reading(i).gatewayTime })));
      await buf.append(Array.from({ length: 30 }, (_, i) => reading(i, { quality: i % 2 ? ['questionable', 'simulated'] : [] })));
      const routing = { topics: { alarm: 'a', vital: 'v', status: 's', waveform: 'w' }, key: 'patient' as const };
      let leased = 0;
      for (let lease = buf.lease({ maxReadings: 25, maxBytes: 1 << 20 }); lease; lease = buf.lease({ maxReadings: 25, maxBytes: 1 << 20 })) {
        expect(lease.units).toBeDefined();
        const fromUnits = routeLease(lease, routing);
        expect(leaseSize(lease)).toBe(lease.readings.length);
        const fromReadings = routeLease(
          { id: lease.id, priorityClass: lease.priorityClass, bytes: lease.bytes, partial: lease.partial, readings: lease.readings },
          routing,
        );
        expect(fromUnits.map((b) => ({ topic: b.topic, m: bytesOf(b.messages) }))).toEqual(
          fromReadings.map((b) => ({ topic: b.topic, m: bytesOf(b.messages) })),
        );
        leased += lease.readings.length;
        buf.ack(lease.id);
      }
      expect(leased).toBe(70);
    } finally {
      await buf.close();
      env.cleanup();
    }
  });
});

function readingsOfUnit(srcs: { deviceId: string; bed: string; patientId?: string }[], firstSeq: number): UnitSlice {
  const rs: PendingReading[] = srcs.map((s, i) => ({
    ...s,
    deviceKind: 'serial',
    metric: 'spo2',
    value: 97,
    unit: '%',
    gatewayTime: 1.7e12 + i,
    priorityClass: 'vital',
    quality: [],
  }));
  const columns = decodeUnitColumns(encodeUnit(rs), { gatewayId: 'g', priorityClass: 'vital', firstSeq });
  return { columns, from: 0, to: rs.length };
}
