/** The FHIR and HL7 v2 format settings from the kafka.fhir / kafka.hl7v2 config sections (undefined fields left out). */
import type { Config } from '../../config/schema.js';
import type { FhirOptions } from './fhir-r4.js';
import type { Hl7v2Options } from './hl7v2-pcd01.js';

const defined = <T extends object>(o: T): T => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;

export function fhirOptions(f: NonNullable<Config['kafka']['fhir']>): FhirOptions {
  return defined({ patientSystem: f.identifierSystems?.patient, deviceSystem: f.identifierSystems?.device });
}

export function hl7v2Options(h: NonNullable<Config['kafka']['hl7v2']>): Hl7v2Options {
  return defined({
    sendingFacility: h.sendingFacility,
    receivingApplication: h.receivingApplication,
    receivingFacility: h.receivingFacility,
    patientIdAuthority: h.patientIdAuthority,
    pointOfCare: h.pointOfCare,
  });
}
