/**
 * S/5 DRI records (reference §3.3, §3.5, §3.6; little-endian): the header's subrecord list,
 * the basic physiological class (displayed values) with each parameter's scale and the
 * invalid markers (every value <= -32001 is "no value", correction 11/14), and the alarm
 * message. Pure: a record in, values or a reason out.
 */
import type { ValueAbsentFlag } from '../../../../reading.js';

export interface Subrecord {
  type: number;
  data: Buffer;
}

export interface DriRecord {
  maintype: number;
  rTime: number;
  subrecords: Subrecord[];
}

export function decodeRecord(r: Buffer): DriRecord | string {
  if (r.length < 40) return 'ge_short_record';
  const maintype = r.readUInt16LE(14);
  const descs: { offset: number; type: number }[] = [];
  for (let i = 0; i < 8; i++) {
    const type = r[16 + i * 3 + 2]!;
    if (type === 0xff) break;
    descs.push({ offset: r.readInt16LE(16 + i * 3), type });
  }
  const dataLen = r.length - 40;
  const subrecords: Subrecord[] = [];
  for (const desc of descs) {
    // A subrecord runs to the next one's offset (whatever order the list gives them in) or the end.
    let end = dataLen;
    for (const o of descs) if (o.offset > desc.offset && o.offset < end) end = o.offset;
    if (desc.offset < 0 || desc.offset > dataLen) return 'ge_bad_subrecord';
    subrecords.push({ type: desc.type, data: r.subarray(40 + desc.offset, 40 + end) });
  }
  return { maintype, rTime: r.readUInt32LE(6), subrecords };
}

/**
 * The markers (every value <= -32001, §3.5 and corrections 11/14) and what each means to a consumer.
 * A marker in a group that exists and is active is a reading with no number: value NaN, one
 * value-absent quality flag, and the reason and raw marker in extra. Under/over range are the
 * 11073 -INFINITY/+INFINITY (a "LO"/"HI" display); invalid (artifact), not updated, discontinuity
 * and not calibrated are NaN; any other marker is a reserved special value. A group whose status
 * says the module does not exist (bit 0) or the measurement is not active (bit 1) is "not
 * connected": its markers are no reading at all.
 */
const MARKERS: Readonly<Record<number, { reason: string; flag: ValueAbsentFlag }>> = {
  [-32767]: { reason: 'invalid', flag: 'value_nan' },
  [-32766]: { reason: 'not_updated', flag: 'value_nan' },
  [-32765]: { reason: 'discontinuity', flag: 'value_nan' },
  [-32764]: { reason: 'under_range', flag: 'value_negative_infinity' },
  [-32763]: { reason: 'over_range', flag: 'value_positive_infinity' },
  [-32762]: { reason: 'not_calibrated', flag: 'value_nan' },
};
const OTHER_MARKER = { reason: 'marker', flag: 'value_reserved' } as const;
const isMarker = (v: number): boolean => v <= -32001;

export interface GeValue {
  metric: string;
  /** NaN when `absent` is set. */
  value: number;
  unit: string;
  /** Which channel (T1-T4, P1-P6) when the monitor has several. */
  channel?: string;
  /** The monitor sent a marker instead of a number. */
  absent?: { flag: ValueAbsentFlag; reason: string; marker: number };
}

export interface PhysData {
  /** Subrecord time, ms (Unix seconds from the monitor). */
  time: number;
  /** 0 basic, 1-3 ext1-ext3. */
  cls: number;
  values: GeValue[];
}

const SUBRECORD = 278;

/**
 * Invasive pressure sites (group label, §3.5: 1 ART, 2 CVP, 3 PA, 7 ICP, 8 ABP) the catalogue carries:
 * which of sys/dia/mean each sends. CVP and ICP are mean pressures; RAP, RVP, LAP and the unnamed
 * sites have no catalogue metric.
 */
const PRESSURE_SITES: ReadonlyMap<number, readonly [sys?: string, dia?: string, mean?: string]> = new Map([
  [1, ['abp_sys', 'abp_dia', 'abp_mean']],
  [8, ['abp_sys', 'abp_dia', 'abp_mean']],
  [3, ['pa_sys', 'pa_dia', 'pa_mean']],
  [2, [undefined, undefined, 'cvp']],
  [7, [undefined, undefined, 'icp']],
]);

/**
 * Decodes one physiological subrecord (278 bytes): the basic class (§3.5) and, of the ext1 class, the
 * groups with catalogue counterparts. ext1 is not laid out in the reference (§8 sends to GE-DRI): its
 * layout here is GE-DRI's struct ext1_phdb (document 8005313, §3.6), 1-byte packed: arrh_ecg @0 (hr,
 * rr_time ms, pvc, arrh_status_bf u32, 16 reserved), ecg12 @48 (12 ST values), P7 @78, P8 @92,
 * SpO2 channel 2 @106, T5 @120, T6 @128, reserved 136-269. ext2 and ext3 yield nothing.
 */
export function decodePhysiological(sr: Buffer): PhysData | string {
  if (sr.length < SUBRECORD) return 'ge_short_subrecord';
  const time = sr.readUInt32LE(0) * 1000;
  const cls = (sr.readUInt16LE(276) >> 8) & 0x0f;
  const out: PhysData = { time, cls, values: [] };
  if (cls !== 0 && cls !== 1) return out;
  const c = sr.subarray(4, 4 + 270);
  const status = (group: number): number => c.readUInt32LE(group);
  const exists = (group: number): boolean => (status(group) & 1) === 1;
  /** Whether a group's markers are readings: the module exists and measures (status bits 0 and 1). */
  let measuring = false;
  const value = (metric: string, unit: string, raw: number, scaled: () => number, channel?: string): void => {
    let v: GeValue;
    if (isMarker(raw)) {
      if (!measuring) return;
      const m = MARKERS[raw] ?? OTHER_MARKER;
      v = { metric, value: NaN, unit, absent: { flag: m.flag, reason: m.reason, marker: raw } };
    } else v = { metric, value: scaled(), unit };
    if (channel) v.channel = channel;
    out.values.push(v);
  };
  const put = (off: number, metric: string, unit: string, scale: number, channel?: string): void => {
    const raw = c.readInt16LE(off);
    value(metric, unit, raw, () => raw / scale, channel);
  };
  const group = (g: number): boolean => {
    measuring = (status(g) & 3) === 3;
    return exists(g);
  };
  const pressures = (groups: readonly [at: number, channel: string][]): void => {
    for (const [g, channel] of groups) {
      const site = group(g) ? PRESSURE_SITES.get(c.readUInt16LE(g + 4)) : undefined;
      if (!site) continue;
      for (const [k, metric] of site.entries()) if (metric) put(g + 6 + 2 * k, metric, 'mm[Hg]', 100, channel);
    }
  };
  if (cls === 1) {
    if (group(0)) {
      const rr = c.readInt16LE(8);
      value('rr_interval', 's', rr, () => rr / 1000);
    }
    pressures([
      [78, 'P7'],
      [92, 'P8'],
    ]);
    if (group(106)) {
      put(112, 'spo2', '%', 100, 'SpO2-2');
      put(114, 'pulse_rate_oximeter', '/min', 1, 'SpO2-2');
    }
    for (const [g, channel] of [
      [120, 'T5'],
      [128, 'T6'],
    ] as const)
      if (group(g)) put(g + 6, 'body_temp', 'Cel', 100, channel);
    return out;
  }
  if (group(0)) put(6, 'heart_rate', '/min', 1);
  for (const [i, g] of [16, 30, 44, 58, 240, 254].entries()) {
    const site = group(g) ? PRESSURE_SITES.get(c.readUInt16LE(g + 4)) : undefined;
    if (!site) continue;
    for (const [k, metric] of site.entries()) if (metric) put(g + 6 + 2 * k, metric, 'mm[Hg]', 100, `P${i + 1}`);
  }
  if (group(72)) {
    put(78, 'nibp_sys', 'mm[Hg]', 100);
    put(80, 'nibp_dia', 'mm[Hg]', 100);
    put(82, 'nibp_mean', 'mm[Hg]', 100);
  }
  for (const [i, g] of [86, 94, 102, 110].entries()) if (group(g)) put(g + 6, 'body_temp', 'Cel', 100, `T${i + 1}`);
  if (group(118)) {
    put(124, 'spo2', '%', 100);
    put(126, 'pulse_rate_oximeter', '/min', 1);
  }
  if (group(132)) {
    // etCO2 mmHg = et (1/100 %) x ambient pressure (1/10 mmHg) / 100 000: a marker in either is the reading's marker.
    const et = c.readInt16LE(138);
    const amb = c.readInt16LE(144);
    value('etco2', 'mm[Hg]', isMarker(et) ? et : amb, () => Math.round((et * amb) / 1000) / 100);
    put(142, 'resp_rate', '/min', 1);
  }
  if (group(178)) {
    // Spirometry (flow_vol): ppeak and peep in 1/100 cmH2O, tv_insp in 1/10 mL.
    put(186, 'airway_pressure_peak', 'cm[H2O]', 100);
    put(188, 'peep', 'cm[H2O]', 100);
    put(192, 'tidal_volume', 'mL', 10);
  }
  return out;
}

export interface GeAlarm {
  text: string;
  /** 0 none, 1 white, 2 yellow, 3 red. */
  color: number;
}

/** dri_al_msg (510 bytes): five displayed alarm boxes, highest colour first. */
export function decodeAlarmMessage(sr: Buffer): GeAlarm[] | string {
  if (sr.length < 10 + 5 * 98) return 'ge_short_alarm';
  const out: GeAlarm[] = [];
  for (let i = 0; i < 5; i++) {
    const at = 10 + i * 98;
    const raw = sr.subarray(at, at + 80);
    const nul = raw.indexOf(0);
    const text = raw
      .subarray(0, nul === -1 ? 80 : nul)
      .toString('latin1')
      .trim();
    const color = sr.readUInt16LE(at + 82);
    if (color > 0 && text !== '') out.push({ text, color });
  }
  return out;
}
