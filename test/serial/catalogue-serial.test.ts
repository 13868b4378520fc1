/**
 * The monitor and ventilator values the serial decoders now send: their catalogue entries
 * (codes and where they come from: see src/catalogue.ts) and, per protocol, a byte vector that
 * carries them and the readings it must give.
 */
import { describe, expect, it } from 'vitest';
import { message as medibusMessage } from '../../hardware-mocks/medibus.js';
import { CATALOGUE, type MetricId, metricByMdc, toCatalogueUnit } from '../../src/catalogue.js';
import { decodePhysiological } from '../../src/devices/serial/protocols/ge-s5/decode.js';
import { PROTOCOLS } from '../../src/devices/serial/protocols/index.js';
import { PHYSIO_METRIC } from '../../src/devices/serial/protocols/intellivue/codes.js';
import { CP1_METRIC, measuredData } from '../../src/devices/serial/protocols/medibus/decode.js';

// metric, MDC reference id, MDC code, first LOINC, UCUM unit
const ROWS: [MetricId, string, number, string | undefined, string][] = [
  ['cvp', 'MDC_PRESS_BLD_VEN_CENT', 150084, '60985-9', 'mm[Hg]'],
  ['pa_sys', 'MDC_PRESS_BLD_ART_PULM_SYS', 150045, '8440-0', 'mm[Hg]'],
  ['pa_dia', 'MDC_PRESS_BLD_ART_PULM_DIA', 150046, '8385-7', 'mm[Hg]'],
  ['pa_mean', 'MDC_PRESS_BLD_ART_PULM_MEAN', 150047, '8414-5', 'mm[Hg]'],
  ['icp', 'MDC_PRESS_INTRA_CRAN', 153608, '60956-0', 'mm[Hg]'],
  ['perfusion_index', 'MDC_PULS_OXIM_PERF_REL', 150448, undefined, '%'],
  ['vent_resp_rate', 'MDC_VENT_RESP_RATE', 151586, undefined, '/min'],
  ['tidal_volume', 'MDC_VENT_VOL_TIDAL', 151980, '76222-9', 'mL'],
  ['airway_pressure_peak', 'MDC_VENT_PRESS_AWAY_MAX', 151973, undefined, 'cm[H2O]'],
  ['airway_pressure_mean', 'MDC_VENT_PRESS_AWAY_MEAN', 151975, undefined, 'cm[H2O]'],
  ['peep', 'MDC_VENT_PRESS_AWAY_END_EXP_POS', 151976, '76248-4', 'cm[H2O]'],
  ['airway_pressure_wave', 'MDC_PRESS_AWAY', 151792, undefined, 'cm[H2O]'],
  ['airway_flow_wave', 'MDC_FLOW_AWAY', 151764, undefined, 'L/min'],
  ['co2_wave', 'MDC_AWAY_CO2', 151724, undefined, 'mm[Hg]'],
];

describe('catalogue: monitor pressures, perfusion index, ventilator values', () => {
  it.each(ROWS)('%s is %s (%s), LOINC %s, %s', (id, ref, mdc, loinc, unit) => {
    const d = CATALOGUE[id];
    expect([d.mdcRefId, d.mdcCode, d.loinc[0], d.unit, d.ucum]).toEqual([ref, mdc, loinc, unit, true]);
    expect(metricByMdc(mdc)?.id).toBe(id);
  });

  it('the Philips CVP mean (0x4A47, reference §2.6) resolves to cvp; mbar converts to cm[H2O]', () => {
    expect(metricByMdc(2 * 65536 + 0x4a47)?.id).toBe('cvp');
    expect(toCatalogueUnit(CATALOGUE.peep, 5, 'mbar')).toBeCloseTo(5.0986, 4);
  });
});

describe('IntelliVue physio ids of the new metrics are their MDC codes less partition 2 (reference §2.6)', () => {
  it.each([
    [0x4a47, 'cvp'],
    [0x4a1d, 'pa_sys'],
    [0x4a1e, 'pa_dia'],
    [0x4a1f, 'pa_mean'],
    [0x5808, 'icp'],
  ] as const)('0x%s -> %s', (id, metric) => {
    expect(PHYSIO_METRIC.get(id)).toBe(metric);
    expect(metricByMdc(2 * 65536 + id)?.id).toBe(metric);
  });
});

/** A basic-class physiological subrecord (reference §3.5), every value -32767 (invalid) unless set. */
function subrecord(groups: { at: number; label?: number; values: [number, number][] }[]): Buffer {
  const sr = Buffer.alloc(278);
  sr.writeUInt32LE(0x677d7e00, 0);
  for (let off = 0; off < 270; off += 2) sr.writeInt16LE(-32767, 4 + off);
  // Group headers are status u32 + label u16; clear them all first.
  for (const g of [0, 16, 30, 44, 58, 72, 86, 94, 102, 110, 118, 132, 146, 156, 166, 178, 200, 214, 232, 240, 254]) sr.fill(0, 4 + g, 4 + g + 6);
  for (const g of groups) {
    sr.writeUInt32LE(3, 4 + g.at);
    sr.writeUInt16LE(g.label ?? 0, 4 + g.at + 4);
    for (const [off, v] of g.values) sr.writeInt16LE(v, 4 + off);
  }
  sr.writeUInt16LE(0, 276); // class 0 (basic)
  return sr;
}

describe('S/5: invasive pressure sites and spirometry (reference §3.5)', () => {
  it('P1 CVP, P2 PA, P3 ICP, P4 RAP (no metric), P5 ART and flow_vol give the values by site, scaled', () => {
    const sr = subrecord([
      {
        at: 16,
        label: 2,
        values: [
          [22, 1200],
          [24, 400],
          [26, 800],
        ],
      }, // CVP: mean only
      {
        at: 30,
        label: 3,
        values: [
          [36, 2500],
          [38, 1000],
          [40, 1600],
        ],
      }, // PA
      { at: 44, label: 7, values: [[54, 1150]] }, // ICP mean
      {
        at: 58,
        label: 4,
        values: [
          [64, 900],
          [66, 300],
          [68, 500],
        ],
      }, // RAP: not in the catalogue
      {
        at: 240,
        label: 1,
        values: [
          [246, 12000],
          [248, 8000],
          [250, 9300],
        ],
      }, // P5 ART
      {
        at: 178,
        values: [
          [186, 2150],
          [188, 500],
          [190, 1800],
          [192, 4505],
        ],
      }, // ppeak, peep, pplat, tv_insp
    ]);
    const d = decodePhysiological(sr);
    if (typeof d === 'string') throw new Error(d);
    expect(d.values.map((v) => [v.metric, v.value, v.unit, v.channel])).toEqual([
      ['cvp', 8, 'mm[Hg]', 'P1'],
      ['pa_sys', 25, 'mm[Hg]', 'P2'],
      ['pa_dia', 10, 'mm[Hg]', 'P2'],
      ['pa_mean', 16, 'mm[Hg]', 'P2'],
      ['icp', 11.5, 'mm[Hg]', 'P3'],
      ['abp_sys', 120, 'mm[Hg]', 'P5'],
      ['abp_dia', 80, 'mm[Hg]', 'P5'],
      ['abp_mean', 93, 'mm[Hg]', 'P5'],
      ['airway_pressure_peak', 21.5, 'cm[H2O]', undefined],
      ['peep', 5, 'cm[H2O]', undefined],
      ['tidal_volume', 450.5, 'mL', undefined],
    ]);
  });

  it('an invalid marker in a PA field is a reading with no number (value_nan), the others of the site still count', () => {
    const sr = subrecord([
      {
        at: 30,
        label: 3,
        values: [
          [36, 2500],
          [38, -32767],
          [40, 1600],
        ],
      },
    ]);
    const d = decodePhysiological(sr);
    if (typeof d === 'string') throw new Error(d);
    expect(d.values.map((v) => [v.metric, v.value, v.absent?.flag])).toEqual([
      ['pa_sys', 25, undefined],
      ['pa_dia', NaN, 'value_nan'],
      ['pa_mean', 16, undefined],
    ]);
  });
});

describe('MEDIBUS ventilator codes (reference §4.4)', () => {
  it('a measured-data response with tidal volume, peak, mean pressure and PEEP', () => {
    const field = (code: number, v: string): string => code.toString(16).toUpperCase() + v.padStart(4, ' ');
    const text = field(0x88, '450') + field(0x7d, '21') + field(0x73, '9.5') + field(0x78, '5');
    const wire = medibusMessage(0x01, 0x24, text);
    expect(wire.subarray(0, 2)).toEqual(Buffer.from([0x01, 0x24]));
    const vs = measuredData(text);
    if (typeof vs === 'string') throw new Error(vs);
    expect(vs.map((v) => [CP1_METRIC.get(v.code)?.metric, v.value, CP1_METRIC.get(v.code)?.unit])).toEqual([
      ['tidal_volume', 450, 'mL'],
      ['airway_pressure_peak', 21, 'mbar'],
      ['airway_pressure_mean', 9.5, 'mbar'],
      ['peep', 5, 'mbar'],
    ]);
  });
});

describe('perfusion index from the oximeter lines', () => {
  it('Masimo V-MA-1 (PI=02.35%) gives perfusion_index 2.35 %', () => {
    const s = PROTOCOLS.masimo.createSession({ pollIntervalMs: 1000 });
    s.open(0);
    const line = '01/07/25 19:18:24 SN=0000012345 SPO2=098% BPM=072 PI=02.35% SPCO=00.9% SPMET=00.6% DESAT=00 PIDELTA=+00 PVI=014 ALARM=0000 EXC=000800\r\n';
    const out = s.data(Buffer.from(line, 'latin1'), 0);
    expect(out.readings.map((r) => [r.metric, r.value, r.unit])).toEqual([
      ['spo2', 98, '%'],
      ['pulse_rate_oximeter', 72, '/min'],
      ['perfusion_index', 2.35, '%'],
    ]);
  });

  it('wg1 reference vector (PI=2.35) gives perfusion_index, no unknown key', () => {
    const s = PROTOCOLS.line.createSession({ pollIntervalMs: 1000, options: { format: 'wg1' } });
    s.open(0);
    const out = s.data(Buffer.from('$WG1,bed12-oxi,2025-01-07T19:18:24Z,SPO2=98,PR=72,PI=2.35,ST=0*54\r\n', 'latin1'), 0);
    expect(out.rejects).toEqual([]);
    expect(out.readings.map((r) => [r.metric, r.value, r.unit])).toEqual([
      ['spo2', 98, '%'],
      ['pulse_rate_oximeter', 72, '/min'],
      ['perfusion_index', 2.35, '%'],
    ]);
  });
});
