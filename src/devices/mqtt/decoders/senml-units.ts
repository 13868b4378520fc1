/**
 * SenML units (RFC 8428 §12.1 registry, and RFC 8798 additions) mapped to the UCUM units of
 * the catalogue. Units that need no change map to themselves; units not listed are passed
 * on unchanged and the catalogue decides (ingest refuses units it cannot convert).
 */

export interface UnitMapping {
  unit: string;
  /** Converts a value in the SenML unit into `unit`; absent when the unit only changes name. */
  convert?: (v: number) => number;
}

const MMHG_PER_PA = 0.00750062;

const SENML_TO_UCUM: Readonly<Record<string, UnitMapping>> = Object.freeze({
  '%': { unit: '%' },
  '%EL': { unit: '%' }, // remaining battery energy level, percent
  '/': { unit: '%', convert: (v) => v * 100 }, // ratio (e.g. SpO2 0.97)
  Cel: { unit: 'Cel' },
  K: { unit: 'Cel', convert: (v) => v - 273.15 },
  degF: { unit: '[degF]' }, // not in the registry, seen in the field
  'beat/min': { unit: '/min' },
  'beats/min': { unit: '/min' }, // registered as "beats" with "/min" in the wild
  '1/min': { unit: '/min' },
  '1/s': { unit: '/min', convert: (v) => v * 60 },
  Hz: { unit: '/min', convert: (v) => v * 60 },
  Pa: { unit: 'mm[Hg]', convert: (v) => v * MMHG_PER_PA },
  hPa: { unit: 'mm[Hg]', convert: (v) => v * 100 * MMHG_PER_PA },
  kPa: { unit: 'kPa' },
  mmHg: { unit: 'mm[Hg]' }, // not in the registry, common in devices
  'mm[Hg]': { unit: 'mm[Hg]' },
  'mg/dL': { unit: 'mg/dL' },
  'mmol/l': { unit: 'mmol/L' },
  'mmol/L': { unit: 'mmol/L' },
  dBW: { unit: 'dBm', convert: (v) => v + 30 },
  dBm: { unit: 'dBm' },
  count: { unit: '1' },
});

export function senmlUnit(u: string): UnitMapping {
  return Object.hasOwn(SENML_TO_UCUM, u) ? SENML_TO_UCUM[u]! : { unit: u };
}
