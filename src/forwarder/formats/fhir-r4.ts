/**
 * HL7 FHIR R4 Observation (vital-signs shape) for one reading: LOINC first, MDC as an extra
 * coding, UCUM valueQuantity, effectiveDateTime, device and subject references.
 * The vital-signs profile requires a subject: readings with no patient association are sent
 * without the profile claim. Metrics with no UCUM unit (RSSI) or no code have no FHIR form.
 */
import { CATALOGUE } from '../../catalogue.js';
import type { Reading } from '../../reading.js';

export const FHIR_SCHEMA = 'fhir.r4.observation';
const VITAL_SIGNS_PROFILE = 'http://hl7.org/fhir/StructureDefinition/vitalsigns';
const LOINC = 'http://loinc.org';
const MDC = 'urn:iso:std:iso:11073:10101';
const UCUM = 'http://unitsofmeasure.org';
const CATEGORY = 'http://terminology.hl7.org/CodeSystem/observation-category';

export interface FhirCoding { system: string; code: string; display?: string }
export interface FhirObservation {
  resourceType: 'Observation';
  id: string;
  meta?: { profile: string[] };
  identifier: { system: string; value: string }[];
  status: 'final' | 'preliminary';
  category: { coding: FhirCoding[] }[];
  code: { coding: FhirCoding[]; text: string };
  subject?: { reference: string };
  device: { reference: string; display?: string };
  effectiveDateTime: string;
  issued: string;
  valueQuantity: { value: number; unit: string; system: string; code: string };
  interpretation?: { coding: FhirCoding[] }[];
  note?: { text: string }[];
}

/** True when the reading has a FHIR Observation form. */
export function hasFhirForm(r: Reading): boolean {
  const def = CATALOGUE[r.metric];
  return def.ucum && def.loinc.length > 0;
}

/** Keeps the device's precision: the value is sent as the number it is (2.0 stays 2). */
export function toFhirObservation(r: Reading): FhirObservation | null {
  const def = CATALOGUE[r.metric];
  if (!hasFhirForm(r)) return null;
  const coding: FhirCoding[] = def.loinc.map((code, i) => (i === 0 ? { system: LOINC, code, display: def.display } : { system: LOINC, code }));
  if (def.mdcCode !== undefined) coding.push({ system: MDC, code: String(def.mdcCode), ...(def.mdcRefId ? { display: def.mdcRefId } : {}) });
  // BLE and many monitors send no usable clock: fall back to the gateway's receive time and say so.
  const effective = r.deviceTime !== undefined && !r.quality.includes('device_clock_skew') ? r.deviceTime : r.gatewayTime;
  const obs: FhirObservation = {
    resourceType: 'Observation',
    id: `${r.gatewayId}-${r.seq}`,
    identifier: [{ system: 'urn:wardgate:reading', value: `${r.gatewayId}/${r.seq}` }],
    status: 'final',
    category: [{ coding: [{ system: CATEGORY, code: 'vital-signs', display: 'Vital Signs' }] }],
    code: { coding, text: def.display },
    device: { reference: `Device/${r.deviceId}` },
    effectiveDateTime: new Date(effective).toISOString(),
    issued: new Date(r.gatewayTime).toISOString(),
    valueQuantity: { value: r.value, unit: def.unit, system: UCUM, code: def.unit },
  };
  if (r.patientId !== undefined) {
    obs.subject = { reference: `Patient/${r.patientId}` };
    obs.meta = { profile: [VITAL_SIGNS_PROFILE] };
  }
  if (r.quality.includes('out_of_range')) {
    obs.interpretation = [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation', code: 'A', display: 'Abnormal' }] }];
  }
  const notes: string[] = [];
  if (effective === r.gatewayTime) notes.push('effectiveDateTime is the gateway receive time (device clock unknown or skewed)');
  if (r.quality.includes('simulated')) notes.push('simulated device');
  if (notes.length) obs.note = notes.map((text) => ({ text }));
  return obs;
}
