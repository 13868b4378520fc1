/** One SpO2 reading with every field of the model set: the input of the format tests that pin JSON v1 and FHIR output. */
import type { Reading } from '../../src/reading.js';

export const SAMPLE_T0 = Date.parse('2026-11-25T10:00:00.000Z');

export const SAMPLE_READING: Reading = {
  gatewayId: 'gw-test',
  seq: 42,
  deviceId: 'mon-7',
  deviceKind: 'serial',
  bed: 'ICU-07',
  patientId: 'P-0001',
  metric: 'spo2',
  value: 97,
  unit: '%',
  deviceTime: SAMPLE_T0 - 300,
  gatewayTime: SAMPLE_T0,
  priorityClass: 'vital',
  quality: [],
};
