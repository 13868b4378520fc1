/**
 * IntelliVue physio ids and unit codes -> catalogue metrics and UCUM (reference §2.6 and
 * corrections 3-4). Keyed by the 16-bit code; labels and physio ids both appear here.
 */
export const PHYSIO_METRIC: ReadonlyMap<number, string> = new Map([
  [0x4182, 'heart_rate'],
  [0x4bb8, 'spo2'],
  [0x4822, 'pulse_rate_oximeter'], // pulse from SpO2 (0x480A, the generic pulse, is not this)
  [0x500a, 'resp_rate'],
  [0x50b0, 'etco2'],
  [0x50ac, 'etco2'], // the etCO2 label (correction 4)
  [0x4a05, 'nibp_sys'],
  [0x4a06, 'nibp_dia'],
  [0x4a07, 'nibp_mean'],
  [0x4a15, 'abp_sys'],
  [0x4a16, 'abp_dia'],
  [0x4a17, 'abp_mean'],
  [0x4a11, 'abp_sys'], // ART
  [0x4a12, 'abp_dia'],
  [0x4a13, 'abp_mean'],
  [0x4a47, 'cvp'], // CVP mean (§2.6)
  // PA and ICP: not in §2.6; the catalogue's MDC codes less partition 2 (§2.6: physio id = MDC code - 2 x 65536).
  [0x4a1d, 'pa_sys'],
  [0x4a1e, 'pa_dia'],
  [0x4a1f, 'pa_mean'],
  [0x5808, 'icp'],
  [0x4b48, 'body_temp'],
  [0x4b5c, 'body_temp'], // the temperature label (correction 4)
]);

export const UNIT_UCUM: ReadonlyMap<number, string> = new Map([
  [0x0aa0, '/min'],
  [0x0ae0, '/min'],
  [0x0220, '%'],
  [0x0f20, 'mm[Hg]'],
  [0x0f03, 'kPa'],
  [0x17a0, 'Cel'],
  [0x0200, '1'],
]);

/** Measurement state bits (§2.4). */
export const STATE = {
  invalid: 0x8000,
  questionable: 0x4000,
  unavailable: 0x2000,
  calibrating: 0x1000,
  testData: 0x0800,
  demo: 0x0400,
} as const;

/** al_type -> priority: patient 0x0400/0x0200/0x0100, technical 0x0004/0x0002/0x0001 (§2.7). */
export function alarmSeverity(type: number): 'high' | 'medium' | 'low' {
  if (type & 0x0404) return 'high';
  if (type & 0x0202) return 'medium';
  return 'low';
}
