import { describe, expect, it } from 'vitest';
import { CATALOGUE, METRIC_IDS, metricByCode, metricByMdc } from '../../src/catalogue.js';

// Rows of ../shared/reference/ble-and-codes.md: metric, first LOINC, MDC code, UCUM.
const TABLE: [string, string | undefined, number | undefined, string][] = [
  ['heart_rate', '8867-4', 147842, '/min'],
  ['pulse_rate_oximeter', '8867-4', 149530, '/min'],
  ['pulse_rate_nibp', '8867-4', 149546, '/min'],
  ['spo2', '2708-6', 150456, '%'],
  ['resp_rate', '9279-1', 151562, '/min'],
  ['body_temp', '8310-5', 150364, 'Cel'],
  ['nibp_sys', '8480-6', 150021, 'mm[Hg]'],
  ['nibp_dia', '8462-4', 150022, 'mm[Hg]'],
  ['nibp_mean', '8478-0', 150023, 'mm[Hg]'],
  ['abp_sys', '76215-3', 150037, 'mm[Hg]'],
  ['abp_dia', '76213-8', 150038, 'mm[Hg]'],
  ['abp_mean', '76214-6', 150039, 'mm[Hg]'],
  ['etco2', '19891-1', 151708, 'mm[Hg]'],
  ['glucose', '2339-0', 160184, 'mg/dL'],
  ['battery_level', undefined, 67996, '%'],
  ['signal_strength', undefined, undefined, 'dBm'],
  // Waveform samples (their MDC codes are not in ble-and-codes.md; see the catalogue comment).
  ['ecg_lead_ii', undefined, 131330, 'mV'],
  ['pleth', undefined, 150452, '1'],
];

describe('metric catalogue', () => {
  it.each(TABLE)('%s has LOINC %s, MDC %s and unit %s', (id, loinc, mdc, unit) => {
    const d = CATALOGUE[id as keyof typeof CATALOGUE];
    expect(d.loinc[0]).toBe(loinc);
    expect(d.mdcCode).toBe(mdc);
    expect(d.unit).toBe(unit);
  });

  it('MDC codes are partition x 65536 + term code (physiological metrics in partition 2)', () => {
    for (const d of Object.values(CATALOGUE)) {
      if (d.mdcCode === undefined || d.id === 'battery_level') continue;
      expect(Math.floor(d.mdcCode / 65536)).toBe(2);
    }
    expect(Math.floor(CATALOGUE.battery_level.mdcCode! / 65536)).toBe(1);
  });

  it('compact codes are unique and resolve back', () => {
    const codes = METRIC_IDS.map((id) => CATALOGUE[id].code);
    expect(new Set(codes).size).toBe(codes.length);
    for (const id of METRIC_IDS) expect(metricByCode(CATALOGUE[id].code)?.id).toBe(id);
  });

  it('resolves device aliases: generic arterial labels and the Philips EtCO2 code', () => {
    expect(metricByMdc(150033)?.id).toBe('abp_sys');
    expect(metricByMdc(150035)?.id).toBe('abp_mean');
    expect(metricByMdc(151728)?.id).toBe('etco2');
    expect(metricByMdc(150456)?.id).toBe('spo2');
    expect(metricByMdc(1)).toBeUndefined();
  });

  it('signal strength is not UCUM and so is never sent as FHIR', () => {
    expect(CATALOGUE.signal_strength.ucum).toBe(false);
  });
});
