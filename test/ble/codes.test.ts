/**
 * The MDC codes of the metrics BLE added to the catalogue, from their IEEE 11073-10101 partition
 * and term code (code = partition x 65536 + term). Sources (not in ble-and-codes.md):
 * - MDC_ECG_TIME_PD_RR_GL: term 16168 in the 11073 nomenclature headers (partition 2, SCADA);
 *   the MII Kardio FHIR IG codes its RR-interval Observation 147240 MDC_ECG_TIME_PD_RR_GL.
 * - MDC_PRESS_CUFF: term 19228 in OpenICE's ice types (MDC_PRESS_CUFF_SYS/DIA/MEAN 19229/19230/
 *   19231; IHE PCD-01 messages carry 150301 MDC_PRESS_CUFF_SYS and 150303 MDC_PRESS_CUFF_MEAN).
 * The same OpenICE table gives SpO2 19384 and NIBP diastolic 18950, which the reference's
 * 150456 and 150022 confirm, so its partition-2 terms are checked against the reference too.
 */
import { describe, expect, it } from 'vitest';
import { CATALOGUE } from '../../src/catalogue.js';

const SCADA = 2;
const code = (partition: number, term: number): number => partition * 65536 + term;

describe('MDC codes of the BLE metrics', () => {
  it.each([
    // metric, reference id, partition, term (from the sources above)
    ['rr_interval', 'MDC_ECG_TIME_PD_RR_GL', SCADA, 16168],
    ['nibp_cuff', 'MDC_PRESS_CUFF', SCADA, 19228],
    // The same table's terms against ble-and-codes.md's codes (the check of the source itself).
    ['spo2', 'MDC_PULS_OXIM_SAT_O2', SCADA, 19384],
    ['nibp_dia', 'MDC_PRESS_BLD_NONINV_DIA', SCADA, 18950],
  ] as const)('%s = %s, partition %i term %i', (metric, refId, partition, term) => {
    const m = CATALOGUE[metric];
    expect(m.mdcRefId).toBe(refId);
    expect(m.mdcCode).toBe(code(partition, term));
  });
  it('the arithmetic: the reference examples', () => {
    expect(code(SCADA, 19384)).toBe(150456);
    expect(code(SCADA, 18950)).toBe(150022);
    expect(code(SCADA, 19228)).toBe(150300);
    expect(code(SCADA, 16168)).toBe(147240);
  });
});
