/**
 * The readings the clinical-format tests send through FHIR and HL7 v2: a simulated ward, a table
 * of awkward ids, every catalogue metric in every accepted unit, and alarms. Each reading is made
 * the way the gateway makes it (normalise, then a gateway id and seq), so the expected side of a
 * test is these readings, never the encoder's own output.
 */
import { SimulatedMonitor } from '../../hardware-mocks/ward-monitor.js';
import { CATALOGUE, METRIC_IDS, type MetricId } from '../../src/catalogue.js';
import { bedName, sampleToInput } from '../../src/devices/simulator/adapter.js';
import { normalise, type PriorityClass, type Reading, type ReadingInput } from '../../src/reading.js';

export const T0 = Date.parse('2026-11-25T10:00:00.000Z');

/** Makes committed readings with consecutive seqs from `first`. */
export function commit(inputs: ReadingInput[], gatewayId: string, first: number, now = T0): Reading[] {
  return inputs.map((input, i) => ({ ...normalise(input, { now, clockSkewToleranceMs: 120_000 }), gatewayId, seq: first + i }));
}

/** `seconds` of a simulated ward of `beds` beds (a third of them ICU beds), alarms included. */
export function simulatedWard(beds: number, seconds: number, seed = 7): Reading[] {
  const monitors = Array.from({ length: beds }, (_, i) => ({
    m: new SimulatedMonitor({ bed: bedName(i), icu: i % 3 === 0, seed: seed + i, alarmRate: 0.05 }),
    bed: bedName(i),
    deviceId: `sim-monitor-${String(i + 1).padStart(2, '0')}`,
    patientId: `SIMPAT-${String(((seed + i) * 7919) % 1_000_000).padStart(6, '0')}`,
  }));
  const out: Reading[] = [];
  for (let s = 0; s < seconds; s++) {
    const now = T0 + s * 1000;
    for (const b of monitors) {
      const inputs = b.m.step(now - 150).map((x) => sampleToInput(x, b.bed, b.deviceId, b.patientId));
      out.push(...commit(inputs, 'gw-ward-3', 1 + out.length, now));
    }
  }
  return out;
}

export interface IdCase {
  name: string;
  gatewayId: string;
  deviceId: string;
  bed: string;
  patientId?: string;
  seq: number;
}

const LONG_GATEWAY = `ward-7-east-wing-${'x'.repeat(64 - 'ward-7-east-wing-'.length - 3)}_01`;

/** Ids the config and the device families accept, that leave the simulator's comfortable shapes. */
export const ID_CASES: IdCase[] = [
  { name: 'plain ids (unchanged)', gatewayId: 'gw-ward-3', deviceId: 'mon-7', bed: 'ICU-07', patientId: 'P-0001', seq: 12 },
  { name: 'gateway id with underscores', gatewayId: 'gw_ward_3', deviceId: 'mon-7', bed: 'ICU-07', patientId: 'P-0001', seq: 13 },
  { name: '64-character gateway id, large seq', gatewayId: LONG_GATEWAY, deviceId: 'mon-7', bed: 'ICU-07', patientId: 'P-0001', seq: 9_007_199_254_740_991 },
  { name: 'patient id with spaces', gatewayId: 'gw-ward-3', deviceId: 'mon-7', bed: 'ICU 07', patientId: 'MRN 0001 234', seq: 14 },
  { name: 'BLE address as device id', gatewayId: 'gw-ward-3', deviceId: 'AA:BB:CC:DD:EE:FF', bed: 'BED-12', patientId: 'P-0002', seq: 15 },
  { name: 'device id with underscores', gatewayId: 'gw-ward-3', deviceId: 'bed_12_spo2', bed: 'BED-12', patientId: 'P-0002', seq: 16 },
  { name: 'device id with slashes (MQTT topic, serial path)', gatewayId: 'gw-ward-3', deviceId: 'ward3/bed12//dev/ttyUSB0', bed: 'BED-12', seq: 17 },
  {
    name: 'non-ASCII patient, device and bed',
    gatewayId: 'gw-ward-3',
    deviceId: 'Überwachung-3',
    bed: 'Zimmer 3 – Bett 2',
    patientId: 'Müller-Lüdenscheid 😀',
    seq: 18,
  },
  { name: 'HL7 delimiters in every id', gatewayId: 'gw.ward.3', deviceId: 'mon|7^a~b\\c&d', bed: 'ICU|07^x', patientId: 'P|1^2~3\\4&5', seq: 19 },
  {
    name: '128-character patient and device ids',
    gatewayId: 'gw-ward-3',
    deviceId: 'd'.repeat(128),
    bed: 'b'.repeat(128),
    patientId: `${'p'.repeat(127)}_`,
    seq: 20,
  },
  { name: 'ids that look like escaped ones', gatewayId: 'gw-ward-3', deviceId: 'a.5F', bed: 'BED-1', patientId: 'a.h', seq: 21 },
  { name: 'dots and dashes only', gatewayId: 'gw-ward-3', deviceId: '...', bed: '-', patientId: '-.-', seq: 22 },
];

/** One SpO2 reading (single Observation) and one NIBP pair (panel) per id case. */
export function idCaseReadings(c: IdCase): Reading[] {
  const base = {
    deviceKind: 'ble' as const,
    deviceId: c.deviceId,
    bed: c.bed,
    ...(c.patientId !== undefined ? { patientId: c.patientId } : {}),
    deviceTime: T0 - 300,
  };
  const [spo2] = commit([{ ...base, metric: 'spo2', value: 97, unit: '%' }], c.gatewayId, c.seq);
  const bp = commit(
    [
      { ...base, metric: 'nibp_sys', value: 121, unit: 'mm[Hg]' },
      { ...base, metric: 'nibp_dia', value: 79, unit: 'mm[Hg]' },
    ],
    c.gatewayId,
    c.seq + 1_000_000,
  );
  return [spo2!, ...bp];
}

/** Every catalogue metric in its own unit and in every unit it converts from, with and without a patient. */
export function everyMetricAndUnit(): Reading[] {
  const inputs: ReadingInput[] = [];
  for (const id of METRIC_IDS) {
    const def = CATALOGUE[id];
    const mid = Number.isFinite(def.range[0]) && Math.abs(def.range[1]) < 1e6 ? (def.range[0] + def.range[1]) / 2 : 1;
    const units: [string, number][] = [[def.unit, mid]];
    for (const u of Object.keys(def.convert ?? {})) units.push([u, invert(id, u, mid)]);
    for (const [unit, value] of units) {
      for (const patientId of ['P-0003', undefined]) {
        inputs.push({
          deviceId: 'mon-9',
          deviceKind: 'serial',
          bed: 'BED-09',
          ...(patientId ? { patientId } : {}),
          metric: id,
          value,
          unit,
          deviceTime: T0 - 1000,
        });
      }
    }
  }
  return commit(inputs, 'gw-ward-3', 5000);
}

/** A value in `unit` that converts to about `target` in the catalogue unit. */
function invert(id: MetricId, unit: string, target: number): number {
  const f = CATALOGUE[id].convert![unit]!;
  return Number((target / f(1) - f(0) / f(1)).toPrecision(6));
}

export interface AlarmCase {
  name: string;
  metric: MetricId;
  value: number;
  extra: Record<string, string | number | boolean>;
  /** The interpretation code the alarm must carry. */
  interpretation: 'H' | 'L' | 'HH' | 'LL' | 'A' | 'AA';
}

/** Alarms as the device families report them (extra.alarm, extra.severity, sometimes state/source/silenced). */
export const ALARM_CASES: AlarmCase[] = [
  { name: 'simulator SpO2 low, high priority', metric: 'spo2', value: 84, extra: { alarm: 'SPO2_LOW', severity: 'high' }, interpretation: 'LL' },
  { name: 'simulator HR high, medium priority', metric: 'heart_rate', value: 142, extra: { alarm: 'HR_HIGH', severity: 'medium' }, interpretation: 'H' },
  { name: 'simulator HR low, high priority', metric: 'heart_rate', value: 40, extra: { alarm: 'HR_LOW', severity: 'high' }, interpretation: 'LL' },
  { name: 'ABP systolic low, medium', metric: 'abp_sys', value: 80, extra: { alarm: 'ABP_SYS_LOW', severity: 'medium' }, interpretation: 'L' },
  {
    name: 'line protocol RR high, low priority, state on',
    metric: 'resp_rate',
    value: 35,
    extra: { alarm: 'RR_HI', severity: 'low', state: 'on' },
    interpretation: 'H',
  },
  {
    name: 'IntelliVue hex code (no direction), high',
    metric: 'etco2',
    value: 60,
    extra: { alarm: '0x4A0C', source: '0x5A48', severity: 'high' },
    interpretation: 'AA',
  },
  {
    name: 'Masimo, no direction, medium, silenced',
    metric: 'pulse_rate_oximeter',
    value: 130,
    extra: { alarm: 'ALM', severity: 'medium', silenced: true },
    interpretation: 'A',
  },
  { name: 'NIBP diastolic tachy-like code without severity', metric: 'nibp_dia', value: 120, extra: { alarm: 'NBP_DIA_HIGH' }, interpretation: 'H' },
  {
    name: 'temperature high, delimiters in the code',
    metric: 'body_temp',
    value: 39.9,
    extra: { alarm: 'TEMP|HIGH^x', severity: 'high' },
    interpretation: 'HH',
  },
];

export function alarmReadings(priority: PriorityClass = 'alarm'): Reading[] {
  return commit(
    ALARM_CASES.map((a) => ({
      deviceId: 'mon-5',
      deviceKind: 'serial',
      bed: 'BED-05',
      patientId: 'P-0005',
      metric: a.metric,
      value: a.value,
      deviceTime: T0 - 200,
      priorityClass: priority,
      extra: a.extra,
    })),
    'gw-ward-3',
    9000,
  );
}
