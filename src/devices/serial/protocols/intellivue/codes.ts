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
  [0x4bb0, 'perfusion_index'], // §2.6: relative perfusion index, sent dimensionless (see UNIT_OVERRIDE)
  [0x5012, 'resp_rate_airway'], // §2.6: airway respiratory rate (CO2 or flow), not the impedance resp_rate
  // Ventilation: the catalogue's MDC codes less partition 2 (§2.6); 0x50E8, 0x5284, 0x5148 and 0x51A8 are also
  // VSCaptureMP's NOM_PRESS_RESP_PLAT, NOM_CONC_AWAY_O2_INSP, NOM_VOL_MINUTE_AWAY, NOM_VENT_PRESS_AWAY_END_EXP_POS.
  [0x50e8, 'airway_pressure_plateau'],
  [0x5284, 'fio2'],
  [0x5148, 'minute_volume'],
  [0x51a8, 'peep'],
  [0x5022, 'vent_resp_rate'],
  [0x51ac, 'tidal_volume'],
  [0x51a5, 'airway_pressure_peak'],
  [0x51a7, 'airway_pressure_mean'],
]);

export const UNIT_UCUM: ReadonlyMap<number, string> = new Map([
  [0x0aa0, '/min'],
  [0x0ae0, '/min'],
  [0x0220, '%'],
  [0x0f20, 'mm[Hg]'],
  [0x0f03, 'kPa'],
  [0x17a0, 'Cel'],
  [0x0200, '1'],
  // Units not in §2.6, from VSCaptureMP's NOM_DIM_ enum: /min (NOM_DIM_PER_MIN), degF; ventilation cmH2O, mbar, mL, L,
  // L/min, mL/min. The catalogue converts degF, mbar, L and mL/min.
  [0x09e0, '/min'],
  [0x1140, '[degF]'],
  [0x0640, 'L'],
  [0x0f40, 'cm[H2O]'],
  [0x0f72, 'mbar'],
  [0x0652, 'mL'],
  [0x0c00, 'L/min'],
  [0x0c12, 'mL/min'],
]);

/**
 * Unit per metric where the monitor's unit is not the catalogue's though the number is the same: the relative
 * perfusion index comes dimensionless (§2.6, 0x0200), as the number of percent the monitor shows ("Perf"), which
 * is the catalogue's perfusion index in % (the Masimo and wg1 PI).
 */
export const UNIT_OVERRIDE: ReadonlyMap<string, ReadonlyMap<number, string>> = new Map([['perfusion_index', new Map([[0x0200, '%']])]]);

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
