/**
 * HL7 FHIR R4 Observation (vital-signs shape) for one reading: LOINC first, MDC as an extra
 * coding, UCUM valueQuantity, effectiveDateTime, device and subject references.
 * The vital-signs profile requires a subject: readings with no patient association are sent
 * without the profile claim. Metrics with no UCUM unit (RSSI) or no code have no FHIR form.
 *
 * Blood pressure is the exception: the vital-signs BP profile wants ONE Observation per
 * measurement, LOINC 85354-9 "Blood pressure panel with all children optional", no value of
 * its own, and the systolic (8480-6), diastolic (8462-4) and optionally mean (8478-0) values as
 * `component`s. `toFhirObservations` groups the readings of one measurement into such a panel.
 *
 * Ids: every id (Observation, Patient and Device references) is a valid FHIR id whatever the
 * gateway, patient or device id holds (fhir-id.ts); the original values travel as identifiers
 * (reference.identifier, with configurable systems). Alarms carry `interpretation` (H/L/HH/LL/A/AA,
 * alarm-flags.ts) and the device's alarm in the DEVICE_ALARM_EXTENSION. Glucose is a point-of-care
 * laboratory result: category `laboratory`, no vital-signs profile. See docs/formats.md.
 */
import { CATALOGUE, type MetricId } from '../../catalogue.js';
import { type Reading, type ValueAbsentFlag, valueAbsent } from '../../reading.js';
import { type AlarmFlag, deviceAlarm, FLAG_DISPLAY, readingFlag } from './alarm-flags.js';
import { fhirId, observationId } from './fhir-id.js';
import { groupInOrder } from './group.js';

export const FHIR_SCHEMA = 'fhir.r4.observation';
const VITAL_SIGNS_PROFILE = 'http://hl7.org/fhir/StructureDefinition/vitalsigns';
const BP_PROFILE = 'http://hl7.org/fhir/StructureDefinition/bp';
const LOINC = 'http://loinc.org';
const MDC = 'urn:iso:std:iso:11073:10101';
const UCUM = 'http://unitsofmeasure.org';
const CATEGORY = 'http://terminology.hl7.org/CodeSystem/observation-category';
const INTERPRETATION = 'http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation';
export const BP_PANEL_LOINC = '85354-9';
/** Complex extension carrying the device's own alarm: sub-extensions condition, priority, state, source, silenced. */
export const DEVICE_ALARM_EXTENSION = 'urn:wardgate:fhir:extension:device-alarm';
const READING_SYSTEM = 'urn:wardgate:reading';

/** Identifier systems for the original patient and device ids (kafka.fhir.identifierSystems). */
export interface FhirOptions {
  patientSystem?: string;
  deviceSystem?: string;
}
const DEFAULT_PATIENT_SYSTEM = 'urn:wardgate:patient-id';
const DEFAULT_DEVICE_SYSTEM = 'urn:wardgate:device-id';

/** Metrics that are laboratory results (point of care), not vital signs: no vital-signs profile. */
const LABORATORY: ReadonlySet<MetricId> = new Set(['glucose']);

export interface FhirCoding {
  system: string;
  code: string;
  display?: string;
}
export interface FhirQuantity {
  value: number;
  unit: string;
  system: string;
  code: string;
}
export interface FhirCodeableConcept {
  coding: FhirCoding[];
  text?: string;
}
export interface FhirExtension {
  url: string;
  valueString?: string;
  valueCode?: string;
  valueBoolean?: boolean;
  extension?: FhirExtension[];
}
export interface FhirReference {
  reference: string;
  identifier: { system: string; value: string };
  display?: string;
}
export interface FhirComponent {
  extension?: FhirExtension[];
  code: { coding: FhirCoding[]; text: string };
  /** One of valueQuantity and dataAbsentReason. */
  valueQuantity?: FhirQuantity;
  dataAbsentReason?: FhirCodeableConcept;
  interpretation?: FhirCodeableConcept[];
}
export interface FhirObservation {
  resourceType: 'Observation';
  id: string;
  meta?: { profile: string[] };
  /** Alarm-class single Observation: the device's alarm (DEVICE_ALARM_EXTENSION). */
  extension?: FhirExtension[];
  identifier: { system: string; value: string }[];
  status: 'final' | 'preliminary';
  category: { coding: FhirCoding[] }[];
  code: { coding: FhirCoding[]; text: string };
  subject?: FhirReference;
  device: FhirReference;
  effectiveDateTime: string;
  issued: string;
  /** Absent on a blood-pressure panel (its values are in `component`) and when the device sent no number. */
  valueQuantity?: FhirQuantity;
  /** Instead of valueQuantity when the reading has a value-absent flag (the device sent a special value). */
  dataAbsentReason?: FhirCodeableConcept;
  interpretation?: FhirCodeableConcept[];
  /** Blood-pressure panel only: one per systolic / diastolic / mean reading. */
  component?: FhirComponent[];
  note?: { text: string }[];
}

/** One FHIR Observation and the readings it carries (one, or the members of a BP panel, lowest seq first). */
export interface FhirOut {
  observation: FhirObservation;
  readings: Reading[];
}

/** True when the reading has a FHIR Observation form. */
function hasFhirForm(r: Reading): boolean {
  const def = CATALOGUE[r.metric];
  return def.ucum && def.loinc.length > 0;
}

// ---- blood pressure panel ----------------------------------------------------------------------

type BpRole = 'sys' | 'dia' | 'mean';
type BpFamily = 'nibp' | 'abp';

/** The codes the BP profile fixes for each component (method-neutral LOINC). */
const ROLE_LOINC: Record<BpRole, FhirCoding> = {
  sys: { system: LOINC, code: '8480-6', display: 'Systolic blood pressure' },
  dia: { system: LOINC, code: '8462-4', display: 'Diastolic blood pressure' },
  mean: { system: LOINC, code: '8478-0', display: 'Mean blood pressure' },
};
const ROLE_ORDER: Record<BpRole, number> = { sys: 0, dia: 1, mean: 2 };

/**
 * Metrics that become components of a BP panel. Invasive arterial pressure (ABP) is a panel too:
 * ble-and-codes.md names no invasive panel code, and the BP profile's 85354-9 / 8480-6 / 8462-4
 * are method-neutral LOINC codes ("systolic blood pressure", by any method), which the profile
 * allows to be refined by more specific extra codings. So an ABP component carries 8480-6 (the
 * profile's code) first, then the catalogue's invasive LOINC (76215-3 ...) and the ABP MDC code;
 * a consumer tells invasive from non-invasive by those codings and by `code.text`. NIBP and ABP
 * of one monitor are never mixed in one panel (they are different measurements).
 */
const BP_METRICS: Partial<Record<MetricId, { family: BpFamily; role: BpRole }>> = {
  nibp_sys: { family: 'nibp', role: 'sys' },
  nibp_dia: { family: 'nibp', role: 'dia' },
  nibp_mean: { family: 'nibp', role: 'mean' },
  abp_sys: { family: 'abp', role: 'sys' },
  abp_dia: { family: 'abp', role: 'dia' },
  abp_mean: { family: 'abp', role: 'mean' },
};
const PANEL_TEXT: Record<BpFamily, string> = {
  nibp: 'Blood pressure (non-invasive)',
  abp: 'Arterial blood pressure (invasive)',
};

/** True for the readings that travel as a component of a blood-pressure panel. */
function isBpComponent(r: Reading): boolean {
  return BP_METRICS[r.metric] !== undefined;
}

// ---- shared shape ------------------------------------------------------------------------------

const interpretation = (flag: AlarmFlag): FhirCodeableConcept[] => [{ coding: [{ system: INTERPRETATION, code: flag, display: FLAG_DISPLAY[flag] }] }];

/** The device's alarm as a complex extension, or none for a reading that is not an alarm. */
function alarmExtension(r: Reading): FhirExtension[] | undefined {
  const a = deviceAlarm(r);
  if (!a) return undefined;
  const parts: FhirExtension[] = [];
  if (a.condition !== undefined) parts.push({ url: 'condition', valueString: a.condition });
  if (a.priority !== undefined) parts.push({ url: 'priority', valueCode: a.priority });
  if (a.state !== undefined) parts.push({ url: 'state', valueCode: a.state });
  if (a.source !== undefined) parts.push({ url: 'source', valueString: a.source });
  if (a.silenced !== undefined) parts.push({ url: 'silenced', valueBoolean: a.silenced });
  // An extension has a value or sub-extensions: an alarm with nothing known still says "alarm".
  if (parts.length === 0) parts.push({ url: 'condition', valueString: 'unspecified' });
  return [{ url: DEVICE_ALARM_EXTENSION, extension: parts }];
}

/** Flags and the device's alarm, on an Observation or a component. */
function markAlarm(target: { interpretation?: FhirCodeableConcept[]; extension?: FhirExtension[] }, r: Reading): void {
  const flag = readingFlag(r);
  if (flag) target.interpretation = interpretation(flag);
  const ext = alarmExtension(r);
  if (ext) target.extension = ext;
}
const GATEWAY_TIME_NOTE = 'effectiveDateTime is the gateway receive time (device clock unknown or skewed)';

/** BLE and many monitors send no usable clock: fall back to the gateway's receive time and say so. */
function effectiveTime(r: Reading): { at: number; fromGateway: boolean } {
  return r.deviceTime !== undefined && !r.quality.includes('device_clock_skew')
    ? { at: r.deviceTime, fromGateway: false }
    : { at: r.gatewayTime, fromGateway: true };
}

function mdcCoding(metric: MetricId): FhirCoding[] {
  const def = CATALOGUE[metric];
  return def.mdcCode !== undefined ? [{ system: MDC, code: String(def.mdcCode), ...(def.mdcRefId ? { display: def.mdcRefId } : {}) }] : [];
}

function quantity(r: Reading): FhirQuantity {
  const unit = CATALOGUE[r.metric].unit;
  return { value: r.value, unit, system: UCUM, code: unit };
}

const DATA_ABSENT = 'http://terminology.hl7.org/CodeSystem/data-absent-reason';
/** FHIR R4 data-absent-reason for each value-absent flag (IEEE 11073 specials: NRes and reserved are `error`). */
const DATA_ABSENT_REASON: Readonly<Record<ValueAbsentFlag, FhirCoding>> = {
  value_nan: { system: DATA_ABSENT, code: 'not-a-number', display: 'Not a Number (NaN)' },
  value_positive_infinity: { system: DATA_ABSENT, code: 'positive-infinity', display: 'Positive Infinity (PINF)' },
  value_negative_infinity: { system: DATA_ABSENT, code: 'negative-infinity', display: 'Negative Infinity (NINF)' },
  value_nres: { system: DATA_ABSENT, code: 'error', display: 'Error' },
  value_reserved: { system: DATA_ABSENT, code: 'error', display: 'Error' },
};

/** The reading's value: valueQuantity, or dataAbsentReason when the device sent a special value instead of a number. */
function setValue(target: { valueQuantity?: FhirQuantity; dataAbsentReason?: FhirCodeableConcept }, r: Reading): void {
  const absent = valueAbsent(r.quality);
  if (absent === undefined) target.valueQuantity = quantity(r);
  else target.dataAbsentReason = { coding: [DATA_ABSENT_REASON[absent]] };
}

/**
 * Everything but code and value: identity (id from the first reading, one identifier per
 * reading), status, category, device, subject and profile, times and notes.
 */
function envelope(
  readings: readonly Reading[],
  code: FhirObservation['code'],
  profiles: string[],
  opts: FhirOptions,
  category: 'vital-signs' | 'laboratory' = 'vital-signs',
): FhirObservation {
  const first = readings[0]!;
  const eff = effectiveTime(first);
  let issued = first.gatewayTime;
  for (const r of readings) if (r.gatewayTime > issued) issued = r.gatewayTime;
  const obs: FhirObservation = {
    resourceType: 'Observation',
    id: observationId(first.gatewayId, first.seq),
    identifier: readings.map((r) => ({ system: READING_SYSTEM, value: `${r.gatewayId}/${r.seq}` })),
    status: 'final',
    category: [
      {
        coding: [
          category === 'laboratory'
            ? { system: CATEGORY, code: 'laboratory', display: 'Laboratory' }
            : { system: CATEGORY, code: 'vital-signs', display: 'Vital Signs' },
        ],
      },
    ],
    code,
    device: { reference: `Device/${fhirId(first.deviceId)}`, identifier: { system: opts.deviceSystem ?? DEFAULT_DEVICE_SYSTEM, value: first.deviceId } },
    effectiveDateTime: new Date(eff.at).toISOString(),
    issued: new Date(issued).toISOString(),
  };
  if (first.patientId !== undefined) {
    obs.subject = {
      reference: `Patient/${fhirId(first.patientId)}`,
      identifier: { system: opts.patientSystem ?? DEFAULT_PATIENT_SYSTEM, value: first.patientId },
    };
    if (profiles.length) obs.meta = { profile: profiles };
  }
  const notes: string[] = [];
  if (eff.fromGateway) notes.push(GATEWAY_TIME_NOTE);
  if (readings.some((r) => r.quality.includes('simulated'))) notes.push('simulated device');
  if (notes.length) obs.note = notes.map((text) => ({ text }));
  return obs;
}

/** Keeps the device's precision: the value is sent as the number it is (2.0 stays 2). */
function singleObservation(r: Reading, opts: FhirOptions): FhirObservation {
  const def = CATALOGUE[r.metric];
  const coding: FhirCoding[] = def.loinc.map((code, i) => (i === 0 ? { system: LOINC, code, display: def.display } : { system: LOINC, code }));
  coding.push(...mdcCoding(r.metric));
  const lab = LABORATORY.has(r.metric);
  const obs = envelope([r], { coding, text: def.display }, lab ? [] : [VITAL_SIGNS_PROFILE], opts, lab ? 'laboratory' : 'vital-signs');
  setValue(obs, r);
  markAlarm(obs, r);
  return obs;
}

function bpComponent(r: Reading, role: BpRole): FhirComponent {
  const def = CATALOGUE[r.metric];
  const profileCode = ROLE_LOINC[role];
  // The profile's code first, then the catalogue's own (more specific, e.g. invasive) LOINC, then MDC.
  const coding: FhirCoding[] = [
    profileCode,
    ...def.loinc.filter((c) => c !== profileCode.code).map((code) => ({ system: LOINC, code })),
    ...mdcCoding(r.metric),
  ];
  const c: FhirComponent = { code: { coding, text: def.display } };
  setValue(c, r);
  markAlarm(c, r);
  return c;
}

/**
 * One BP panel from the readings of one measurement (same device, bed, patient, family and
 * time; at most one reading per role), lowest seq first. The values are already in mm[Hg]: the
 * normaliser converted kPa on ingest (catalogue `convert.kPa`) and the catalogue unit is mm[Hg].
 *
 * A panel may hold a single component (a systolic whose diastolic is not in this lease). It is
 * still a panel, not a lone 8480-6 Observation: the profile's form for blood pressure is the
 * panel whatever is present ("all children optional"), so a consumer finds every blood pressure
 * under one code; and the missing half is not invented (no dataAbsentReason), because it may
 * well exist: a device may report one value only, or a lease boundary may have cut the
 * measurement, and then the other half comes as its own panel with the same device and time.
 * Such a partial panel does not claim the BP profile (which requires both systolic and
 * diastolic), only the vital-signs profile.
 */
export function toBpPanel(members: readonly Reading[], opts: FhirOptions = {}): FhirObservation {
  if (members.length === 0) throw new TypeError('toBpPanel: members must not be empty');
  const sorted = [...members].sort((a, b) => a.seq - b.seq);
  const parts = sorted.map((r) => {
    const bp = BP_METRICS[r.metric];
    if (!bp) throw new TypeError(`toBpPanel: ${r.metric} is not a blood-pressure metric`);
    return { r, role: bp.role, family: bp.family };
  });
  const family = parts[0]!.family;
  if (parts.some((p) => p.family !== family)) throw new TypeError('toBpPanel: invasive and non-invasive pressures in one panel');
  const complete = parts.some((p) => p.role === 'sys') && parts.some((p) => p.role === 'dia');
  const code = { coding: [{ system: LOINC, code: BP_PANEL_LOINC, display: 'Blood pressure panel with all children optional' }], text: PANEL_TEXT[family] };
  const obs = envelope(sorted, code, complete ? [VITAL_SIGNS_PROFILE, BP_PROFILE] : [VITAL_SIGNS_PROFILE], opts);
  obs.component = [...parts].sort((a, b) => ROLE_ORDER[a.role] - ROLE_ORDER[b.role]).map((p) => bpComponent(p.r, p.role));
  return obs;
}

/**
 * The FHIR form of one reading, or null when it has none. A blood-pressure reading on its own
 * becomes a one-component panel (see `toBpPanel`); use `toFhirObservations` to group a lease.
 */
export function toFhirObservation(r: Reading, opts: FhirOptions = {}): FhirObservation | null {
  if (!hasFhirForm(r)) return null;
  return isBpComponent(r) ? toBpPanel([r], opts) : singleObservation(r, opts);
}

/**
 * Which measurement a BP reading belongs to: gateway, device, bed, patient, invasive or not, and
 * the device time (or, when the device sent none, the gateway receive time).
 */
function measurementKey(r: Reading, family: BpFamily): string {
  return JSON.stringify([r.gatewayId, r.deviceId, r.bed, r.patientId ?? null, family, r.deviceTime !== undefined ? 'd' : 'g', r.deviceTime ?? r.gatewayTime]);
}

/**
 * The FHIR Observations of readings in sequence order (one lease): one per reading, except that
 * the systolic, diastolic and mean readings of one measurement become one BP panel, placed where
 * its first member was, so each device's Observations keep their order. A second reading of the
 * same role for the same measurement (a repeated send) starts a new panel rather than giving one
 * panel two systolic values. Readings with no FHIR form are left out.
 */
export function toFhirObservations(readings: readonly Reading[], opts: FhirOptions = {}): FhirOut[] {
  const groups = groupInOrder(
    readings.filter(hasFhirForm),
    (r) => {
      const bp = BP_METRICS[r.metric];
      return bp ? measurementKey(r, bp.family) : null;
    },
    (g, r) => g.some((m) => m.metric === r.metric),
  );
  return groups.map((g) => ({ observation: isBpComponent(g[0]!) ? toBpPanel(g, opts) : singleObservation(g[0]!, opts), readings: g }));
}
