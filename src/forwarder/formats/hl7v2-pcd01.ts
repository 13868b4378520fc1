/**
 * HL7 v2.6 ORU^R01 as profiled by IHE Patient Care Device, transaction PCD-01 (Communicate PCD
 * Data): one message per device (and bed and patient) per lease, for the interface engines
 * hospitals already run (Mirth Connect, Rhapsody, Cloverleaf). The rules implemented are listed
 * in docs/formats.md; every field is escaped (hl7v2-escape.ts).
 *
 *   MSH  sending application `wardgate`, facility from config, control id <gateway>-<first seq>-<last seq>,
 *        ORU^R01^ORU_R01, P, 2.6, AL/NE, UNICODE UTF-8, profile IHE_PCD_001
 *   PID  PID-3 the patient id (PI); no patient known: PID-3 empty and PID-31 (identity unknown) Y
 *   PV1  PV1-2 I, PV1-3 point of care ^^ bed
 *   OBR  placer/filler number <gateway>-<first seq>, 182777000^monitoring of patient^SNOMED-CT,
 *        OBR-7/8 first and last observation time
 *   NTE  (after OBR) one per gateway event in the set: gap records, technical events
 *   OBX  1: the device (MDS) row, 69965^MDC_DEV_MON_PHYSIO_MULTI_PARAM_MDS^MDC, containment 1.0.0.0,
 *        OBX-11 X, OBX-18 the device id; then one per reading: NM, MDC code with the LOINC as the
 *        alternate coding in OBX-3, containment 1.<vmd>.1.<metric> in OBX-4, value OBX-5, UCUM OBX-6,
 *        abnormal flag OBX-8 (alarm-flags.ts), R in OBX-11, observation time OBX-14, device id
 *        OBX-18, gateway receive time OBX-19
 *   NTE  (after an OBX) the device's alarm, and a note when OBX-14 is the gateway's clock
 * Gateway-made readings (gap records, buffer alarms: the gateway is their device) travel as a
 * message of their own, without PID/PV1.
 */
import { CATALOGUE, type MetricId } from '../../catalogue.js';
import { type Reading, type ValueAbsentFlag, valueAbsent } from '../../reading.js';
import { deviceAlarm, readingFlag } from './alarm-flags.js';
import { groupInOrder } from './group.js';
import { hl7Escape as e } from './hl7v2-escape.js';

export const HL7V2_SCHEMA = 'hl7v2.pcd01.oru-r01';
const PCD01_PROFILE = 'IHE_PCD_001^IHE PCD^1.3.6.1.4.1.19376.1.6.1.1.1^ISO';
const MDS_CODE = '69965^MDC_DEV_MON_PHYSIO_MULTI_PARAM_MDS^MDC';
const OBR_SERVICE = '182777000^monitoring of patient^SNOMED-CT';

export interface Hl7v2Options {
  /** MSH-4 sending facility (default: the gateway id). */
  sendingFacility?: string;
  receivingApplication?: string;
  receivingFacility?: string;
  /** PID-3.4 assigning authority of patient ids. */
  patientIdAuthority?: string;
  /** PV1-3.1 point of care (the ward), before the bed in PV1-3.3. */
  pointOfCare?: string;
}

/** One message and the readings it carries (seq order). */
export interface Hl7Out {
  text: string;
  readings: Reading[];
  controlId: string;
}

/**
 * Containment (OBX-4 `MDS.VMD.CHAN.METRIC`): wardgate does not receive the device's own tree,
 * so each metric has a fixed place, one VMD per measurement family and one channel.
 */
const CONTAINMENT: Record<MetricId, [vmd: number, metric: number]> = {
  heart_rate: [1, 1],
  rr_interval: [1, 2],
  ecg_lead_ii: [1, 3],
  spo2: [2, 1],
  pulse_rate_oximeter: [2, 2],
  pleth: [2, 3],
  nibp_sys: [3, 1],
  nibp_dia: [3, 2],
  nibp_mean: [3, 3],
  pulse_rate_nibp: [3, 4],
  nibp_cuff: [3, 5],
  abp_sys: [4, 1],
  abp_dia: [4, 2],
  abp_mean: [4, 3],
  body_temp: [5, 1],
  resp_rate: [6, 1],
  etco2: [7, 1],
  glucose: [8, 1],
  battery_level: [9, 1],
  signal_strength: [9, 2],
  gateway_event: [9, 3],
  perfusion_index: [2, 4],
  cvp: [4, 4],
  pa_sys: [4, 5],
  pa_dia: [4, 6],
  pa_mean: [4, 7],
  icp: [4, 8],
  vent_resp_rate: [10, 1],
  tidal_volume: [10, 2],
  airway_pressure_peak: [10, 3],
  airway_pressure_mean: [10, 4],
  peep: [10, 5],
  airway_pressure_plateau: [10, 6],
  fio2: [10, 7],
  minute_volume: [10, 8],
  resp_rate_airway: [6, 2],
  airway_pressure_wave: [10, 9],
  airway_flow_wave: [10, 10],
  co2_wave: [7, 2],
};
const containment = (m: MetricId): string => `1.${CONTAINMENT[m][0]}.1.${CONTAINMENT[m][1]}`;

/** What the NTE after a value-less OBX says the device sent (IEEE 11073 special values). */
const SPECIAL_TEXT: Readonly<Record<ValueAbsentFlag, string>> = {
  value_nan: 'NaN (not a number)',
  value_nres: 'NRes (not at this resolution)',
  value_positive_infinity: '+INFINITY',
  value_negative_infinity: '-INFINITY',
  value_reserved: 'a reserved special value',
};

/** True when a reading is an OBX (it has an MDC code and a UCUM unit); gateway events become NTEs. */
const isObx = (r: Reading): boolean => CATALOGUE[r.metric].mdcCode !== undefined && CATALOGUE[r.metric].ucum;
const isNote = (r: Reading): boolean => r.metric === 'gateway_event';
const hasHl7Form = (r: Reading): boolean => isObx(r) || isNote(r);

/** HL7 DTM with milliseconds and the UTC offset: 20261125100000.000+0000. */
function dtm(ms: number): string {
  const iso = new Date(ms).toISOString(); // 2026-11-25T10:00:00.000Z
  return `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 23)}+0000`;
}

/** HL7 NM: optional sign, digits, optional decimal point; never an exponent. */
export function nm(v: number): string {
  const s = String(v);
  if (!/e/i.test(s)) return s;
  // 1e21 and above: an integer in the double anyway; below 1e-6: at most 20 decimals (HL7 NM has no exponent).
  if (Math.abs(v) >= 1e21) return BigInt(v).toString();
  const fixed = v.toFixed(20).replace(/0+$/, '').replace(/\.$/, '');
  return fixed === '-0' ? '0' : fixed;
}

const effective = (r: Reading): { at: number; fromGateway: boolean } =>
  r.deviceTime !== undefined && !r.quality.includes('device_clock_skew') ? { at: r.deviceTime, fromGateway: false } : { at: r.gatewayTime, fromGateway: true };

/** A segment from fields 1..n (already escaped), trailing empty fields dropped. */
function seg(name: string, fields: string[]): string {
  let n = fields.length;
  while (n > 0 && fields[n - 1] === '') n--;
  return [name, ...fields.slice(0, n)].join('|');
}

const fieldsAt = (pairs: [number, string][]): string[] => {
  const out: string[] = [];
  for (const [i, v] of pairs) out[i - 1] = v;
  return Array.from(out, (v) => v ?? '');
};

function eventText(r: Reading): string {
  const parts = Object.entries(r.extra ?? {}).map(([k, v]) => `${k}=${k === 'fromTime' || k === 'toTime' ? new Date(Number(v)).toISOString() : String(v)}`);
  return `wardgate ${r.extra?.event === 'gap' ? 'gap record' : 'event'} (seq ${r.seq}, value ${nm(r.value)}): ${parts.join('; ')}`;
}

function alarmText(r: Reading): string | null {
  const a = deviceAlarm(r);
  if (!a) return null;
  const parts = Object.entries(a).map(([k, v]) => `${k}=${String(v)}`);
  return `device alarm: ${parts.length ? parts.join('; ') : 'unspecified'}`;
}

function obx(r: Reading, setId: number): string {
  const def = CATALOGUE[r.metric];
  const eff = effective(r);
  const code = [String(def.mdcCode), e(def.mdcRefId ?? ''), 'MDC', ...(def.loinc[0] ? [def.loinc[0], e(def.display), 'LN'] : [])].join('^');
  const unit = `${e(def.unit)}^${e(def.unit)}^UCUM`;
  const flag = readingFlag(r);
  const absent = valueAbsent(r.quality) !== undefined;
  return seg(
    'OBX',
    fieldsAt([
      [1, String(setId)],
      [2, 'NM'],
      [3, code],
      [4, containment(r.metric)],
      // No number (the device sent a special value): OBX-5 empty and OBX-11 X, "results cannot be
      // obtained for this observation" (HL7 table 0085), as for the device row; an NTE says which.
      [5, absent ? '' : nm(r.value)],
      [6, unit],
      [8, flag ?? ''],
      [11, absent ? 'X' : 'R'],
      [14, dtm(eff.at)],
      [18, `${e(r.deviceId)}^wardgate`],
      [19, dtm(r.gatewayTime)],
    ]),
  );
}

/** Readings of one message: same device, bed and patient (one device's set in a lease). */
function messageKey(r: Reading): string {
  return JSON.stringify([r.deviceId, r.bed, r.patientId ?? null]);
}

export function toPcd01Message(readings: readonly Reading[], opts: Hl7v2Options = {}): Hl7Out {
  if (readings.length === 0) throw new TypeError('toPcd01Message: no readings');
  const sorted = [...readings].sort((a, b) => a.seq - b.seq);
  const first = sorted[0]!;
  const last = sorted[sorted.length - 1]!;
  const gatewayMade = first.deviceKind === 'gateway';
  const controlId = `${first.gatewayId}-${first.seq}-${last.seq}`;
  let sent = first.gatewayTime;
  let from = Infinity;
  let to = -Infinity;
  for (const r of sorted) {
    if (r.gatewayTime > sent) sent = r.gatewayTime;
    const t = effective(r).at;
    if (t < from) from = t;
    if (t > to) to = t;
  }
  const segs: string[] = [];
  segs.push(
    `MSH|^~\\&|wardgate|${e(opts.sendingFacility ?? first.gatewayId)}|${e(opts.receivingApplication ?? '')}|${e(opts.receivingFacility ?? '')}|` +
      `${dtm(sent)}||ORU^R01^ORU_R01|${e(controlId)}|P|2.6|||AL|NE||UNICODE UTF-8|||${PCD01_PROFILE}`,
  );
  if (!gatewayMade) {
    segs.push(
      first.patientId !== undefined
        ? seg('PID', fieldsAt([[3, `${e(first.patientId)}^^^${e(opts.patientIdAuthority ?? '')}^PI`]]))
        : seg('PID', fieldsAt([[31, 'Y']])),
    );
    segs.push(
      seg(
        'PV1',
        fieldsAt([
          [2, 'I'],
          [3, `${e(opts.pointOfCare ?? '')}^^${e(first.bed)}`],
        ]),
      ),
    );
  }
  const order = `${e(`${first.gatewayId}-${first.seq}`)}^wardgate`;
  segs.push(
    seg(
      'OBR',
      fieldsAt([
        [1, '1'],
        [2, order],
        [3, order],
        [4, OBR_SERVICE],
        [7, dtm(from)],
        [8, dtm(to)],
      ]),
    ),
  );
  let nte = 0;
  for (const r of sorted)
    if (isNote(r))
      segs.push(
        seg(
          'NTE',
          fieldsAt([
            [1, String(++nte)],
            [3, e(eventText(r))],
          ]),
        ),
      );
  let setId = 0;
  const obxReadings = sorted.filter(isObx);
  if (obxReadings.length) {
    segs.push(
      seg(
        'OBX',
        fieldsAt([
          [1, String(++setId)],
          [3, MDS_CODE],
          [4, '1.0.0.0'],
          [11, 'X'],
          [18, `${e(first.deviceId)}^wardgate`],
        ]),
      ),
    );
  }
  for (const r of obxReadings) {
    segs.push(obx(r, ++setId));
    let n = 0;
    const absent = valueAbsent(r.quality);
    if (absent)
      segs.push(
        seg(
          'NTE',
          fieldsAt([
            [1, String(++n)],
            [3, `no value: the device sent ${SPECIAL_TEXT[absent]}`],
          ]),
        ),
      );
    const alarm = alarmText(r);
    if (alarm)
      segs.push(
        seg(
          'NTE',
          fieldsAt([
            [1, String(++n)],
            [3, e(alarm)],
          ]),
        ),
      );
    if (effective(r).fromGateway)
      segs.push(
        seg(
          'NTE',
          fieldsAt([
            [1, String(++n)],
            [3, 'OBX-14 is the gateway receive time (device clock unknown or skewed)'],
          ]),
        ),
      );
  }
  return { text: `${segs.join('\r')}\r`, readings: sorted, controlId };
}

/**
 * The PCD-01 messages of a lease (seq order): one per device (bed, patient), placed where its
 * first reading was. Readings with no HL7 form (no MDC code, no UCUM unit: RSSI) are left out.
 */
export function toPcd01Messages(readings: readonly Reading[], opts: Hl7v2Options = {}): Hl7Out[] {
  const groups = groupInOrder(readings.filter(hasHl7Form), messageKey, () => false);
  return groups.map((g) => toPcd01Message(g, opts));
}
