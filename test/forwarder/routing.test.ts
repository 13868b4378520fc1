/**
 * Routing a lease to the FHIR topic: blood-pressure readings of one measurement become one
 * panel message, placed where its first reading was, with headers that identify every reading
 * it carries; other readings stay one message each. (Basic routing: test/unit/formats.test.ts.)
 */
import { describe, expect, it } from 'vitest';
import type { Lease, ReadingBuffer } from '../../src/buffer/types.js';
import type { OutMessage } from '../../src/forwarder/client.js';
import type { FhirObservation } from '../../src/forwarder/formats/fhir-r4.js';
import { type RoutingOptions, routeLease } from '../../src/forwarder/routing.js';
import { Ingest } from '../../src/ingest.js';
import { silentLogger } from '../../src/logger.js';
import { Events } from '../../src/metrics/events.js';
import type { PendingReading, Reading, ReadingInput } from '../../src/reading.js';

const t0 = Date.parse('2026-11-25T10:00:00.000Z');
const topics = { alarm: 'a', vital: 'v', status: 's', waveform: 'w' };
const opts: RoutingOptions = { topics, key: 'device', fhirTopics: { vital: 'fhir.v' } };

let seq = 1;
function rd(deviceId: string, metric: Reading['metric'], value: number, time: number | undefined, over: Partial<Reading> = {}): Reading {
  const r: Reading = {
    gatewayId: 'gw-1',
    seq: seq++,
    deviceId,
    deviceKind: 'serial',
    bed: `bed-${deviceId}`,
    patientId: `P-${deviceId}`,
    metric,
    value,
    unit: metric === 'heart_rate' || metric === 'pulse_rate_nibp' ? '/min' : metric === 'spo2' ? '%' : 'mm[Hg]',
    gatewayTime: t0,
    priorityClass: 'vital',
    quality: [],
    ...over,
  };
  if (time !== undefined) r.deviceTime = time;
  return r;
}
const lease = (readings: Reading[]): Lease => ({ id: 1, priorityClass: 'vital', bytes: 0, partial: false, readings });

function fhirOf(readings: Reading[], o: RoutingOptions = opts): { m: OutMessage; o: FhirObservation }[] {
  const out = routeLease(lease(readings), o);
  const batch = out.find((b) => b.topic === 'fhir.v');
  return (batch?.messages ?? []).map((m) => ({ m, o: JSON.parse(String(m.value)) as FhirObservation }));
}
/** A compact picture of a FHIR message: device, first LOINC, component LOINCs and the seqs it carries. */
const shape = ({ m, o }: { m: OutMessage; o: FhirObservation }) =>
  `${m.key} ${o.code.coding[0]!.code}${o.component ? `[${o.component.map((c) => c.code.coding[0]!.code).join(',')}]` : ''} ` +
  `${m.headers['wardgate-seqs'] ?? m.headers['wardgate-seq']}`;

interface Case {
  name: string;
  readings: () => Reading[];
  /** shape() of each FHIR message, in order. */
  expected: string[];
}

const cases: Case[] = [
  {
    name: 'one NIBP measurement (sys, dia, mean) and its pulse rate: a panel, then the pulse as its own Observation',
    readings: () => [rd('m1', 'nibp_sys', 120, t0), rd('m1', 'nibp_dia', 80, t0), rd('m1', 'nibp_mean', 93, t0), rd('m1', 'pulse_rate_nibp', 71, t0)],
    expected: ['m1 85354-9[8480-6,8462-4,8478-0] 1,2,3', 'm1 8867-4 4'],
  },
  {
    name: 'a lone systolic (the diastolic is not in this lease): a one-component panel',
    readings: () => [rd('m1', 'spo2', 97, t0), rd('m1', 'nibp_sys', 120, t0)],
    expected: ['m1 2708-6 1', 'm1 85354-9[8480-6] 2'],
  },
  {
    name: 'two measurements of one device at different times: two panels, each where its first reading was',
    readings: () => [
      rd('m1', 'nibp_sys', 120, t0),
      rd('m1', 'nibp_dia', 80, t0),
      rd('m1', 'heart_rate', 70, t0 + 500),
      rd('m1', 'nibp_sys', 118, t0 + 60_000),
      rd('m1', 'nibp_dia', 78, t0 + 60_000),
    ],
    expected: ['m1 85354-9[8480-6,8462-4] 1,2', 'm1 8867-4 3', 'm1 85354-9[8480-6,8462-4] 4,5'],
  },
  {
    name: 'two devices interleaved: one panel each, in order of their first reading, other readings in place',
    readings: () => [
      rd('m1', 'nibp_sys', 120, t0),
      rd('m2', 'nibp_sys', 140, t0),
      rd('m2', 'spo2', 95, t0),
      rd('m1', 'nibp_dia', 80, t0),
      rd('m2', 'nibp_dia', 90, t0),
    ],
    expected: ['m1 85354-9[8480-6,8462-4] 1,4', 'm2 85354-9[8480-6,8462-4] 2,5', 'm2 2708-6 3'],
  },
  {
    name: 'no device clock: members group by gateway receive time',
    readings: () => [
      rd('m1', 'nibp_sys', 120, undefined, { quality: ['device_clock_unknown'] }),
      rd('m1', 'nibp_dia', 80, undefined, { quality: ['device_clock_unknown'] }),
      rd('m1', 'nibp_sys', 121, undefined, { gatewayTime: t0 + 1000, quality: ['device_clock_unknown'] }),
    ],
    expected: ['m1 85354-9[8480-6,8462-4] 1,2', 'm1 85354-9[8480-6] 3'],
  },
  {
    name: 'a device time and a gateway time that happen to be equal are not one measurement',
    readings: () => [rd('m1', 'nibp_sys', 120, t0), rd('m1', 'nibp_dia', 80, undefined, { quality: ['device_clock_unknown'] })],
    expected: ['m1 85354-9[8480-6] 1', 'm1 85354-9[8462-4] 2'],
  },
  {
    name: 'a repeated systolic for the same time starts a new panel (never two systolic components)',
    readings: () => [rd('m1', 'nibp_sys', 120, t0), rd('m1', 'nibp_dia', 80, t0), rd('m1', 'nibp_sys', 120, t0), rd('m1', 'nibp_dia', 80, t0)],
    expected: ['m1 85354-9[8480-6,8462-4] 1,2', 'm1 85354-9[8480-6,8462-4] 3,4'],
  },
  {
    name: 'NIBP and invasive ABP at the same time on one monitor: two panels',
    readings: () => [rd('m1', 'nibp_sys', 120, t0), rd('m1', 'abp_sys', 131, t0), rd('m1', 'nibp_dia', 80, t0), rd('m1', 'abp_dia', 72, t0)],
    expected: ['m1 85354-9[8480-6,8462-4] 1,3', 'm1 85354-9[8480-6,8462-4] 2,4'],
  },
  {
    name: 'same device and time but another bed (device moved) or patient: not one measurement',
    readings: () => [rd('m1', 'nibp_sys', 120, t0), rd('m1', 'nibp_dia', 80, t0, { bed: 'other' }), rd('m1', 'nibp_dia', 80, t0, { patientId: 'P-other' })],
    expected: ['m1 85354-9[8480-6] 1', 'm1 85354-9[8462-4] 2', 'm1 85354-9[8462-4] 3'],
  },
];

describe('FHIR routing of a lease (table)', () => {
  it.each(cases)('$name', (c) => {
    seq = 1;
    const readings = c.readings();
    const fhir = fhirOf(readings);
    expect(fhir.map(shape)).toEqual(c.expected);
    // JSON v1 is untouched: one message per reading, in lease order.
    const json = routeLease(lease(readings), opts)[0]!;
    expect(json.topic).toBe('v');
    expect(json.messages.map((m) => m.headers['wardgate-seq'])).toEqual(readings.map((r) => String(r.seq)));
    // Every FHIR-able reading is in exactly one FHIR message, identified by its identifier.
    const carried = fhir.flatMap(({ o }) => o.identifier.map((i) => i.value));
    expect(carried.sort()).toEqual(readings.map((r) => `gw-1/${r.seq}`).sort());
    for (const { m, o } of fhir) {
      expect(m.headers['wardgate-gateway-id']).toBe('gw-1');
      expect(m.headers['wardgate-schema']).toBe('fhir.r4.observation');
      expect(m.headers['content-type']).toBe('application/fhir+json');
      // wardgate-seq is the lowest seq carried, and the id is built from it.
      const seqs = o.identifier.map((i) => Number(i.value.split('/')[1]));
      expect(m.headers['wardgate-seq']).toBe(String(Math.min(...seqs)));
      expect(o.id).toBe(`gw-1-${Math.min(...seqs)}`);
      if (seqs.length > 1) expect(m.headers['wardgate-seqs']).toBe(seqs.join(','));
      else expect(m.headers['wardgate-seqs']).toBeUndefined();
    }
  });

  it('keeps per-device order on the FHIR topic: each device sees its messages in the order of their first reading', () => {
    seq = 1;
    const readings: Reading[] = [];
    for (let i = 0; i < 20; i++) {
      const dev = `m${i % 3}`;
      const t = t0 + Math.floor(i / 3) * 1000;
      readings.push(rd(dev, 'nibp_sys', 120, t), rd(dev, 'heart_rate', 70, t), rd(dev, 'nibp_dia', 80, t));
    }
    const fhir = fhirOf(readings);
    const byDevice = new Map<string, number[]>();
    for (const { m } of fhir) byDevice.set(String(m.key), [...(byDevice.get(String(m.key)) ?? []), Number(m.headers['wardgate-seq'])]);
    for (const firsts of byDevice.values()) expect(firsts).toEqual([...firsts].sort((a, b) => a - b));
    expect(fhir).toHaveLength(40); // 20 panels + 20 heart rates
  });

  it('keys a panel by patient when configured', () => {
    seq = 1;
    const fhir = fhirOf([rd('m1', 'nibp_sys', 120, t0), rd('m1', 'nibp_dia', 80, t0)], { ...opts, key: 'patient' });
    expect(fhir.map(({ m }) => m.key)).toEqual(['P-m1']);
  });

  it('a kPa cuff reading, through ingest and the normaliser, ends in the panel as mm[Hg]', async () => {
    const appended: PendingReading[] = [];
    const buffer = { gatewayId: 'gw-1', append: async (rs: readonly PendingReading[]) => void appended.push(...rs) } as unknown as ReadingBuffer;
    const ingest = new Ingest(buffer, new Events(silentLogger()), { clockSkewToleranceMs: 120_000, now: () => t0 });
    const base = { deviceId: 'cuff-1', deviceKind: 'ble', bed: 'W-3', patientId: 'P-9', deviceTime: t0 - 2000 } satisfies Partial<ReadingInput>;
    await ingest.submit([
      { ...base, metric: 'nibp_sys', value: 16, unit: 'kPa' },
      { ...base, metric: 'nibp_dia', value: 10.7, unit: 'kPa' },
      { ...base, metric: 'nibp_mean', value: 12.4, unit: 'kPa' },
    ]);
    const committed: Reading[] = appended.map((p, i) => ({ ...p, gatewayId: 'gw-1', seq: 500 + i }));
    const [panel, ...rest] = fhirOf(committed);
    expect(rest).toHaveLength(0);
    const c = panel!.o.component!;
    expect(c.map((x) => [x.code.coding[0]!.code, x.valueQuantity!.code, x.valueQuantity!.unit, x.valueQuantity!.system])).toEqual([
      ['8480-6', 'mm[Hg]', 'mm[Hg]', 'http://unitsofmeasure.org'],
      ['8462-4', 'mm[Hg]', 'mm[Hg]', 'http://unitsofmeasure.org'],
      ['8478-0', 'mm[Hg]', 'mm[Hg]', 'http://unitsofmeasure.org'],
    ]);
    expect(c[0]!.valueQuantity!.value).toBeCloseTo(16 * 7.50062, 6); // 120.01 mm[Hg]
    expect(c[1]!.valueQuantity!.value).toBeCloseTo(10.7 * 7.50062, 6); // 80.26 mm[Hg]
    expect(c[2]!.valueQuantity!.value).toBeCloseTo(12.4 * 7.50062, 6);
    expect(panel!.o.effectiveDateTime).toBe(new Date(t0 - 2000).toISOString());
    expect(panel!.m.headers['wardgate-seqs']).toBe('500,501,502');
  });

  it('sends no FHIR batch for a class without a FHIR topic, or when nothing in the lease has a FHIR form', () => {
    seq = 1;
    expect(routeLease({ ...lease([rd('m1', 'nibp_sys', 120, t0)]), priorityClass: 'alarm' }, opts).map((b) => b.topic)).toEqual(['a']);
    expect(routeLease(lease([rd('m1', 'signal_strength', -60, t0, { unit: 'dBm' })]), opts).map((b) => b.topic)).toEqual(['v']);
  });
});
