/**
 * PLX Continuous Measurement (0x2A5F) and PLX Spot-check Measurement (0x2A5E): SpO2 and
 * pulse rate as SFLOATs, optional fields announced by the flags, status words that can
 * mark the measurement questionable.
 */

import type { MetricId } from '../../../catalogue.js';
import { dateTime, sfloat, u16, u24 } from './bytes.js';
import type { Decoded } from './ieee11073.js';
import { type ParseResult, type ProfileReading, reject } from './types.js';

/** Measurement Status bits 13-15: measurement unavailable, questionable, invalid. */
const MEAS_BAD = (1 << 13) | (1 << 14) | (1 << 15);
/**
 * Device and Sensor Status bits that say the value cannot be trusted: equipment
 * malfunction (1), signal processing irregularity (2), inadequate signal (3), poor signal
 * (4), erratic (6), non-pulsatile (7), questionable pulse (8), interference (10), sensor
 * unconnected (11), unknown sensor (12), displaced (13), malfunctioning (14), disconnected (15).
 */
const SENSOR_BAD = 0b1111_1101_1101_1110;

function pair(spo2: Decoded, pr: Decoded, extra: Record<string, string | number> | undefined): ProfileReading[] {
  const mk = (metric: MetricId, unit: string, d: Decoded): ProfileReading => ({ metric, unit, ...d, ...(extra ? { extra } : {}) });
  return [mk('spo2', '%', spo2), mk('pulse_rate_oximeter', '/min', pr)];
}

interface Status {
  questionable: boolean;
  extra: Record<string, string | number>;
}

function status(b: Uint8Array, o: number, hasMeas: boolean, hasSensor: boolean, hasPai: boolean): { s: Status; o: number } {
  const extra: Record<string, string | number> = {};
  let questionable = false;
  if (hasMeas) {
    const m = u16(b, o);
    extra.measurementStatus = m;
    if (m & MEAS_BAD) questionable = true;
    o += 2;
  }
  if (hasSensor) {
    const d = u24(b, o);
    extra.sensorStatus = d;
    if (d & SENSOR_BAD) questionable = true;
    o += 3;
  }
  if (hasPai) {
    const pai = sfloat(b, o);
    if ('value' in pai) extra.pulseAmplitudeIndex = pai.value;
    o += 2;
  }
  return { s: { questionable, extra }, o };
}

function finish(readings: ProfileReading[], s: Status, deviceTime?: number): ParseResult {
  for (const r of readings) {
    if (s.questionable) r.questionable = true;
    if (Object.keys(s.extra).length > 0) r.extra = { ...r.extra, ...s.extra };
    if (deviceTime !== undefined) r.deviceTime = deviceTime;
  }
  return { ok: true, readings };
}

export function parsePlxContinuous(b: Uint8Array): ParseResult {
  if (b.length < 1) return reject('too_short');
  const f = b[0]!;
  const fast = (f & 0x01) !== 0;
  const slow = (f & 0x02) !== 0;
  const meas = (f & 0x04) !== 0;
  const sensor = (f & 0x08) !== 0;
  const pai = (f & 0x10) !== 0;
  const need = 5 + (fast ? 4 : 0) + (slow ? 4 : 0) + (meas ? 2 : 0) + (sensor ? 3 : 0) + (pai ? 2 : 0);
  if (b.length < need) return reject('too_short');
  const readings = pair(sfloat(b, 1), sfloat(b, 3), undefined);
  let o = 5;
  if (fast) {
    readings.push(...pair(sfloat(b, o), sfloat(b, o + 2), { averaging: 'fast' }));
    o += 4;
  }
  if (slow) {
    readings.push(...pair(sfloat(b, o), sfloat(b, o + 2), { averaging: 'slow' }));
    o += 4;
  }
  return finish(readings, status(b, o, meas, sensor, pai).s);
}

export function parsePlxSpotCheck(b: Uint8Array): ParseResult {
  if (b.length < 1) return reject('too_short');
  const f = b[0]!;
  const ts = (f & 0x01) !== 0;
  const meas = (f & 0x02) !== 0;
  const sensor = (f & 0x04) !== 0;
  const pai = (f & 0x08) !== 0;
  const clockNotSet = (f & 0x10) !== 0;
  const need = 5 + (ts ? 7 : 0) + (meas ? 2 : 0) + (sensor ? 3 : 0) + (pai ? 2 : 0);
  if (b.length < need) return reject('too_short');
  const readings = pair(sfloat(b, 1), sfloat(b, 3), undefined);
  let o = 5;
  let deviceTime: number | undefined;
  if (ts) {
    if (!clockNotSet) deviceTime = dateTime(b, o);
    o += 7;
  }
  return finish(readings, status(b, o, meas, sensor, pai).s, deviceTime);
}
