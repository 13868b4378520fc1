/**
 * The metric catalogue: every metric wardgate knows, with its IEEE 11073-10101 (MDC)
 * code, LOINC code and UCUM unit, and the physiological range outside which a value
 * is kept but flagged. Codes from ../shared/reference/ble-and-codes.md.
 */

export type MetricId =
  | 'heart_rate'
  | 'pulse_rate_oximeter'
  | 'pulse_rate_nibp'
  | 'spo2'
  | 'resp_rate'
  | 'body_temp'
  | 'nibp_sys'
  | 'nibp_dia'
  | 'nibp_mean'
  | 'abp_sys'
  | 'abp_dia'
  | 'abp_mean'
  | 'etco2'
  | 'glucose'
  | 'battery_level'
  | 'signal_strength'
  | 'gateway_event'
  | 'ecg_lead_ii'
  | 'pleth'
  | 'rr_interval'
  | 'nibp_cuff'
  | 'cvp'
  | 'pa_sys'
  | 'pa_dia'
  | 'pa_mean'
  | 'icp'
  | 'perfusion_index'
  | 'vent_resp_rate'
  | 'tidal_volume'
  | 'airway_pressure_peak'
  | 'airway_pressure_mean'
  | 'peep'
  | 'airway_pressure_plateau'
  | 'fio2'
  | 'minute_volume'
  | 'resp_rate_airway'
  | 'airway_pressure_wave'
  | 'airway_flow_wave'
  | 'co2_wave';

export interface MetricDef {
  readonly id: MetricId;
  /** Small stable number used by compact encodings. Never renumber; only append. */
  readonly code: number;
  readonly display: string;
  /** IEEE 11073-10101 reference id and numeric code; undefined where none exists. */
  readonly mdcRefId?: string;
  readonly mdcCode?: number;
  /** LOINC codes, the one the FHIR R4 vital-signs profile requires first. Empty where none exists. */
  readonly loinc: readonly string[];
  /** UCUM unit (or a plain label where no UCUM unit exists, see `ucum`). */
  readonly unit: string;
  /** False for units that are not UCUM (dBm, unitless events); such metrics are never sent as FHIR. */
  readonly ucum: boolean;
  /** Physiologically plausible range; values outside are kept and flagged `out_of_range`. */
  readonly range: readonly [number, number];
  /** Other units accepted on input, with a conversion into `unit`. */
  readonly convert?: Readonly<Record<string, (v: number) => number>>;
  /** A waveform sample (tens to hundreds a second): the waveform class may send these batched (formats/waveform-batch.ts). */
  readonly waveform?: boolean;
}

const def = (d: MetricDef): MetricDef => Object.freeze(d);

export const CATALOGUE: Readonly<Record<MetricId, MetricDef>> = Object.freeze({
  heart_rate: def({
    id: 'heart_rate',
    code: 1,
    display: 'Heart rate',
    mdcRefId: 'MDC_ECG_HEART_RATE',
    mdcCode: 147842,
    loinc: ['8867-4'],
    unit: '/min',
    ucum: true,
    range: [20, 300],
  }),
  pulse_rate_oximeter: def({
    id: 'pulse_rate_oximeter',
    code: 2,
    display: 'Pulse rate (oximeter)',
    mdcRefId: 'MDC_PULS_OXIM_PULS_RATE',
    mdcCode: 149530,
    loinc: ['8867-4', '8889-8'],
    unit: '/min',
    ucum: true,
    range: [20, 300],
  }),
  pulse_rate_nibp: def({
    id: 'pulse_rate_nibp',
    code: 3,
    display: 'Pulse rate (NIBP)',
    mdcRefId: 'MDC_PULS_RATE_NON_INV',
    mdcCode: 149546,
    loinc: ['8867-4'],
    unit: '/min',
    ucum: true,
    range: [20, 300],
  }),
  spo2: def({
    id: 'spo2',
    code: 4,
    display: 'Oxygen saturation (SpO2)',
    mdcRefId: 'MDC_PULS_OXIM_SAT_O2',
    mdcCode: 150456,
    loinc: ['2708-6', '59408-5'],
    unit: '%',
    ucum: true,
    range: [50, 100],
  }),
  resp_rate: def({
    id: 'resp_rate',
    code: 5,
    display: 'Respiratory rate',
    mdcRefId: 'MDC_RESP_RATE',
    mdcCode: 151562,
    loinc: ['9279-1'],
    unit: '/min',
    ucum: true,
    range: [2, 80],
  }),
  body_temp: def({
    id: 'body_temp',
    code: 6,
    display: 'Body temperature',
    mdcRefId: 'MDC_TEMP_BODY',
    mdcCode: 150364,
    loinc: ['8310-5'],
    unit: 'Cel',
    ucum: true,
    range: [25, 45],
    convert: { '[degF]': (f) => (f - 32) * (5 / 9) },
  }),
  nibp_sys: def({
    id: 'nibp_sys',
    code: 7,
    display: 'NIBP systolic',
    mdcRefId: 'MDC_PRESS_BLD_NONINV_SYS',
    mdcCode: 150021,
    loinc: ['8480-6'],
    unit: 'mm[Hg]',
    ucum: true,
    range: [40, 300],
    convert: { kPa: (k) => k * 7.50062 },
  }),
  nibp_dia: def({
    id: 'nibp_dia',
    code: 8,
    display: 'NIBP diastolic',
    mdcRefId: 'MDC_PRESS_BLD_NONINV_DIA',
    mdcCode: 150022,
    loinc: ['8462-4'],
    unit: 'mm[Hg]',
    ucum: true,
    range: [15, 200],
    convert: { kPa: (k) => k * 7.50062 },
  }),
  nibp_mean: def({
    id: 'nibp_mean',
    code: 9,
    display: 'NIBP mean',
    mdcRefId: 'MDC_PRESS_BLD_NONINV_MEAN',
    mdcCode: 150023,
    loinc: ['8478-0'],
    unit: 'mm[Hg]',
    ucum: true,
    range: [20, 250],
    convert: { kPa: (k) => k * 7.50062 },
  }),
  abp_sys: def({
    id: 'abp_sys',
    code: 10,
    display: 'Arterial systolic (invasive)',
    mdcRefId: 'MDC_PRESS_BLD_ART_ABP_SYS',
    mdcCode: 150037,
    loinc: ['76215-3'],
    unit: 'mm[Hg]',
    ucum: true,
    range: [30, 300],
    convert: { kPa: (k) => k * 7.50062 },
  }),
  abp_dia: def({
    id: 'abp_dia',
    code: 11,
    display: 'Arterial diastolic (invasive)',
    mdcRefId: 'MDC_PRESS_BLD_ART_ABP_DIA',
    mdcCode: 150038,
    loinc: ['76213-8'],
    unit: 'mm[Hg]',
    ucum: true,
    range: [10, 200],
    convert: { kPa: (k) => k * 7.50062 },
  }),
  abp_mean: def({
    id: 'abp_mean',
    code: 12,
    display: 'Arterial mean (invasive)',
    mdcRefId: 'MDC_PRESS_BLD_ART_ABP_MEAN',
    mdcCode: 150039,
    loinc: ['76214-6'],
    unit: 'mm[Hg]',
    ucum: true,
    range: [20, 250],
    convert: { kPa: (k) => k * 7.50062 },
  }),
  etco2: def({
    id: 'etco2',
    code: 13,
    display: 'End-tidal CO2',
    mdcRefId: 'MDC_CONC_AWAY_CO2_ET',
    mdcCode: 151708,
    loinc: ['19891-1'],
    unit: 'mm[Hg]',
    ucum: true,
    range: [0, 150],
    convert: { kPa: (k) => k * 7.50062 },
  }),
  // BLE Glucose Measurement sends kg/L or mol/L (1 kg/L = 100000 mg/dL; 1 mol/L = 1000 mmol/L).
  glucose: def({
    id: 'glucose',
    code: 14,
    display: 'Blood glucose (capillary)',
    mdcRefId: 'MDC_CONC_GLU_CAPILLARY_WHOLEBLOOD',
    mdcCode: 160184,
    loinc: ['2339-0'],
    unit: 'mg/dL',
    ucum: true,
    range: [10, 1000],
    convert: { 'mmol/L': (m) => m * 18.0182, 'kg/L': (k) => k * 100_000, 'mol/L': (m) => m * 18_018.2 },
  }),
  battery_level: def({
    id: 'battery_level',
    code: 15,
    display: 'Battery level',
    mdcRefId: 'MDC_ATTR_VAL_BATT_CHARGE',
    mdcCode: 67996,
    loinc: [],
    unit: '%',
    ucum: true,
    range: [0, 100],
  }),
  signal_strength: def({ id: 'signal_strength', code: 16, display: 'Signal strength (RSSI)', loinc: [], unit: 'dBm', ucum: false, range: [-127, 20] }),
  gateway_event: def({
    id: 'gateway_event',
    code: 17,
    display: 'Gateway event (gap, integrity, lifecycle)',
    loinc: [],
    unit: '1',
    ucum: true,
    range: [0, Number.MAX_SAFE_INTEGER],
  }),
  // Waveform samples. Their MDC codes are not in ble-and-codes.md: they are the IEEE 11073-10101
  // terms MDC_ECG_ELEC_POTL_II (partition 2, term 258) and MDC_PULS_OXIM_PLETH (partition 2, term
  // 19380), as used by public device integrations. No LOINC code: no FHIR form (a waveform would be
  // SampledData, not a vital-signs Observation). Pleth is in the device's arbitrary units (UCUM 1),
  // so it has no physiological range.
  ecg_lead_ii: def({
    id: 'ecg_lead_ii',
    code: 18,
    display: 'ECG lead II (waveform sample)',
    mdcRefId: 'MDC_ECG_ELEC_POTL_II',
    mdcCode: 131330,
    loinc: [],
    unit: 'mV',
    ucum: true,
    range: [-20, 20],
    convert: { uV: (u) => u / 1000 },
    waveform: true,
  }),
  pleth: def({
    id: 'pleth',
    code: 19,
    display: 'Plethysmogram (waveform sample)',
    mdcRefId: 'MDC_PULS_OXIM_PLETH',
    mdcCode: 150452,
    loinc: [],
    unit: '1',
    ucum: true,
    range: [-Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
    waveform: true,
  }),
  // BLE straps and cuffs. Neither code is in ble-and-codes.md: they are the IEEE 11073-10101 terms
  // MDC_ECG_TIME_PD_RR_GL (RR interval, partition 2, term 16168 = 147240: the 11073 nomenclature headers,
  // and the MII Kardio FHIR IG's RR-interval Observation codes 147240 MDC_ECG_TIME_PD_RR_GL) and
  // MDC_PRESS_CUFF (the cuff pressure a BP cuff reports while inflating, partition 2, term 19228 = 150300:
  // OpenICE's ice::MDC_PRESS_CUFF = 19228 beside MDC_PRESS_CUFF_SYS/DIA/MEAN = 19229/19230/19231, whose
  // 150301/150303 appear in IHE PCD-01 OBX segments; the same table's SpO2 19384 and NIBP dia 18950 give
  // ble-and-codes.md's 150456 and 150022). Checked in test/ble/codes.test.ts. No LOINC code: no FHIR form.
  rr_interval: def({
    id: 'rr_interval',
    code: 20,
    display: 'RR interval',
    mdcRefId: 'MDC_ECG_TIME_PD_RR_GL',
    mdcCode: 147240,
    loinc: [],
    unit: 's',
    ucum: true,
    range: [0.2, 3],
  }),
  nibp_cuff: def({
    id: 'nibp_cuff',
    code: 21,
    display: 'NIBP cuff pressure (while measuring)',
    mdcRefId: 'MDC_PRESS_CUFF',
    mdcCode: 150300,
    loinc: [],
    unit: 'mm[Hg]',
    ucum: true,
    range: [0, 320],
    convert: { kPa: (k) => k * 7.50062 },
  }),
  // Bedside-monitor pressures beyond the arterial line. Codes: CVP 150084 (MDC_PRESS_BLD_VEN_CENT), PA
  // 150045/150046/150047 (MDC_PRESS_BLD_ART_PULM_SYS/DIA/MEAN) and ICP 153608 (MDC_PRESS_INTRA_CRAN) with
  // their LOINC codes, as the German Medical Informatics Initiative's ICU profiles give them (gematik ISiK
  // "Vitalparameter" profiles SD_MII_ICU_Zentralvenoeser_Blutdruck, _Pulmonalarterieller_Blutdruck,
  // _Intrakranieller_Druck_Icp); ble-and-codes.md lists none of them. serial-protocols.md §2.6 gives the
  // Philips CVP mean 0x4A47 (= 150087, MDC_PRESS_BLD_VEN_CENT_MEAN), accepted as an alias below.
  cvp: def({
    id: 'cvp',
    code: 22,
    display: 'Central venous pressure',
    mdcRefId: 'MDC_PRESS_BLD_VEN_CENT',
    mdcCode: 150084,
    loinc: ['60985-9'],
    unit: 'mm[Hg]',
    ucum: true,
    range: [-10, 50],
    convert: { kPa: (k) => k * 7.50062 },
  }),
  pa_sys: def({
    id: 'pa_sys',
    code: 23,
    display: 'Pulmonary artery systolic',
    mdcRefId: 'MDC_PRESS_BLD_ART_PULM_SYS',
    mdcCode: 150045,
    loinc: ['8440-0'],
    unit: 'mm[Hg]',
    ucum: true,
    range: [5, 120],
    convert: { kPa: (k) => k * 7.50062 },
  }),
  pa_dia: def({
    id: 'pa_dia',
    code: 24,
    display: 'Pulmonary artery diastolic',
    mdcRefId: 'MDC_PRESS_BLD_ART_PULM_DIA',
    mdcCode: 150046,
    loinc: ['8385-7'],
    unit: 'mm[Hg]',
    ucum: true,
    range: [0, 80],
    convert: { kPa: (k) => k * 7.50062 },
  }),
  pa_mean: def({
    id: 'pa_mean',
    code: 25,
    display: 'Pulmonary artery mean',
    mdcRefId: 'MDC_PRESS_BLD_ART_PULM_MEAN',
    mdcCode: 150047,
    loinc: ['8414-5'],
    unit: 'mm[Hg]',
    ucum: true,
    range: [0, 100],
    convert: { kPa: (k) => k * 7.50062 },
  }),
  icp: def({
    id: 'icp',
    code: 26,
    display: 'Intracranial pressure',
    mdcRefId: 'MDC_PRESS_INTRA_CRAN',
    mdcCode: 153608,
    loinc: ['60956-0'],
    unit: 'mm[Hg]',
    ucum: true,
    range: [-10, 100],
    convert: { kPa: (k) => k * 7.50062 },
  }),
  // Perfusion index: serial-protocols.md §2.6 (Philips 0x4BB0 = 150448, MDC_PULS_OXIM_PERF_REL). Masimo and
  // the wg1 line format send it in % (§5.1, §7). No LOINC code in either reference: no FHIR vital-signs form.
  perfusion_index: def({
    id: 'perfusion_index',
    code: 27,
    display: 'Perfusion index',
    mdcRefId: 'MDC_PULS_OXIM_PERF_REL',
    mdcCode: 150448,
    loinc: [],
    unit: '%',
    ucum: true,
    range: [0, 30],
  }),
  // Ventilator values (MEDIBUS §4.4, S/5 flow_vol group §3.5); neither reference gives their codes. Codes from the
  // gematik ISiK ICU value set "MII VS ICU Code Observation Beatmung ISO11073" (151586, 151980, 151973, 151975,
  // 151976); reference ids as an MII terminology review looked them up in urn:iso:std:iso:11073:10101|2024-12-05
  // (MDC_VENT_RESP_RATE, MDC_VENT_VOL_TIDAL, MDC_VENT_PRESS_AWAY_MAX, MDC_VENT_PRESS_AWAY_MEAN,
  // MDC_VENT_PRESS_AWAY_END_EXP_POS); LOINC 76248-4 (PEEP) and 76222-9 (tidal volume) from the MII ICU examples,
  // none cited for the others. Pressures in cm[H2O] as in those profiles; MEDIBUS sends mbar (1 mbar = 1.01972 cm[H2O]).
  vent_resp_rate: def({
    id: 'vent_resp_rate',
    code: 28,
    display: 'Ventilation rate',
    mdcRefId: 'MDC_VENT_RESP_RATE',
    mdcCode: 151586,
    loinc: [],
    unit: '/min',
    ucum: true,
    range: [0, 150],
  }),
  tidal_volume: def({
    id: 'tidal_volume',
    code: 29,
    display: 'Tidal volume (ventilator)',
    mdcRefId: 'MDC_VENT_VOL_TIDAL',
    mdcCode: 151980,
    loinc: ['76222-9'],
    unit: 'mL',
    ucum: true,
    range: [0, 3000],
    convert: { L: (l) => l * 1000 },
  }),
  airway_pressure_peak: def({
    id: 'airway_pressure_peak',
    code: 30,
    display: 'Peak airway pressure',
    mdcRefId: 'MDC_VENT_PRESS_AWAY_MAX',
    mdcCode: 151973,
    loinc: [],
    unit: 'cm[H2O]',
    ucum: true,
    range: [-20, 120],
    convert: { mbar: (m) => m * 1.01972 },
  }),
  airway_pressure_mean: def({
    id: 'airway_pressure_mean',
    code: 31,
    display: 'Mean airway pressure',
    mdcRefId: 'MDC_VENT_PRESS_AWAY_MEAN',
    mdcCode: 151975,
    loinc: [],
    unit: 'cm[H2O]',
    ucum: true,
    range: [-20, 120],
    convert: { mbar: (m) => m * 1.01972 },
  }),
  peep: def({
    id: 'peep',
    code: 32,
    display: 'PEEP (applied)',
    mdcRefId: 'MDC_VENT_PRESS_AWAY_END_EXP_POS',
    mdcCode: 151976,
    loinc: ['76248-4'],
    unit: 'cm[H2O]',
    ucum: true,
    range: [0, 50],
    convert: { mbar: (m) => m * 1.01972 },
  }),
  // Ventilated-patient values a bedside monitor exports (IntelliVue, MEDIBUS §4.4 0x74/0xF0/0xB8). Neither reference
  // gives their MDC codes; each is the Philips physio id in VSCaptureMP's enum (the source of serial-protocols.md §2.6)
  // plus partition 2 (§2.6: MDC code = 2 x 65536 + id): NOM_PRESS_RESP_PLAT 0x50E8 = 151784, NOM_CONC_AWAY_O2_INSP
  // 0x5284 = 152196, NOM_VOL_MINUTE_AWAY 0x5148 = 151880, the codes public ventilator integrations use for
  // MDC_PRESS_RESP_PLAT, MDC_CONC_AWAY_O2_INSP and MDC_VOL_MINUTE_AWAY. The airway respiratory rate (from the CO2 or
  // flow sensor, not the ECG impedance of resp_rate) is §2.6's own row: 0x5012, 151570, /min. No LOINC in either
  // reference. Plateau in cm[H2O] like the other airway pressures.
  airway_pressure_plateau: def({
    id: 'airway_pressure_plateau',
    code: 33,
    display: 'Plateau airway pressure',
    mdcRefId: 'MDC_PRESS_RESP_PLAT',
    mdcCode: 151784,
    loinc: [],
    unit: 'cm[H2O]',
    ucum: true,
    range: [0, 120],
    convert: { mbar: (m) => m * 1.01972 },
  }),
  fio2: def({
    id: 'fio2',
    code: 34,
    display: 'Inspired oxygen fraction (FiO2)',
    mdcRefId: 'MDC_CONC_AWAY_O2_INSP',
    mdcCode: 152196,
    loinc: [],
    unit: '%',
    ucum: true,
    range: [18, 100],
  }),
  minute_volume: def({
    id: 'minute_volume',
    code: 35,
    display: 'Minute volume',
    mdcRefId: 'MDC_VOL_MINUTE_AWAY',
    mdcCode: 151880,
    loinc: [],
    unit: 'L/min',
    ucum: true,
    range: [0, 60],
    convert: { 'mL/min': (m) => m / 1000 },
  }),
  resp_rate_airway: def({
    id: 'resp_rate_airway',
    code: 36,
    display: 'Respiratory rate (airway)',
    mdcRefId: 'MDC_AWAY_RESP_RATE',
    mdcCode: 151570,
    loinc: [],
    unit: '/min',
    ucum: true,
    range: [0, 150],
  }),
  // Ventilator waveform samples (MEDIBUS realtime curves, serial-protocols.md §4.5; codes 00 airway pressure mbar, 01 flow
  // L/min, 06/07 expired CO2 mmHg/kPa in the Dräger device tables). Neither reference gives MDC codes: each is the Philips
  // wave id in VSCaptureMP's enum plus partition 2 (§2.6's rule): NOM_PRESS_AWAY 0x50F0 = 151792, NOM_FLOW_AWAY
  // 0x50D4 = 151764, NOM_AWAY_CO2 0x50AC = 151724 (IntelliVue also labels its etCO2 numeric 0x50AC, correction 4; that
  // numeric resolves by its physio id to etco2). No LOINC: no FHIR vital-signs form, like the other waveforms.
  airway_pressure_wave: def({
    id: 'airway_pressure_wave',
    code: 37,
    display: 'Airway pressure (waveform sample)',
    mdcRefId: 'MDC_PRESS_AWAY',
    mdcCode: 151792,
    loinc: [],
    unit: 'cm[H2O]',
    ucum: true,
    range: [-20, 120],
    convert: { mbar: (m) => m * 1.01972 },
    waveform: true,
  }),
  airway_flow_wave: def({
    id: 'airway_flow_wave',
    code: 38,
    display: 'Airway flow (waveform sample)',
    mdcRefId: 'MDC_FLOW_AWAY',
    mdcCode: 151764,
    loinc: [],
    unit: 'L/min',
    ucum: true,
    range: [-300, 300],
    waveform: true,
  }),
  co2_wave: def({
    id: 'co2_wave',
    code: 39,
    display: 'Airway CO2 (capnogram sample)',
    mdcRefId: 'MDC_AWAY_CO2',
    mdcCode: 151724,
    loinc: [],
    unit: 'mm[Hg]',
    ucum: true,
    range: [-20, 150],
    convert: { kPa: (k) => k * 7.50062 },
    waveform: true,
  }),
});

export const METRIC_IDS = Object.keys(CATALOGUE) as MetricId[];

const BY_CODE = new Map<number, MetricDef>(Object.values(CATALOGUE).map((d) => [d.code, d]));
const BY_MDC = new Map<number, MetricDef>();
for (const d of Object.values(CATALOGUE)) if (d.mdcCode !== undefined) BY_MDC.set(d.mdcCode, d);
// Aliases devices export (see ble-and-codes.md notes): generic arterial labels, Philips EtCO2.
BY_MDC.set(150033, CATALOGUE.abp_sys);
BY_MDC.set(150034, CATALOGUE.abp_dia);
BY_MDC.set(150035, CATALOGUE.abp_mean);
BY_MDC.set(151728, CATALOGUE.etco2);
// Philips CVP mean (serial-protocols.md §2.6: 0x4A47).
BY_MDC.set(150087, CATALOGUE.cvp);

export function isMetricId(s: string): s is MetricId {
  return Object.hasOwn(CATALOGUE, s);
}

export function metricByCode(code: number): MetricDef | undefined {
  return BY_CODE.get(code);
}

export function metricByMdc(mdcCode: number): MetricDef | undefined {
  return BY_MDC.get(mdcCode);
}

/** Converts `value` given in `unit` into the metric's catalogue unit, or undefined if the unit is not accepted. */
export function toCatalogueUnit(def: MetricDef, value: number, unit: string | undefined): number | undefined {
  if (unit === undefined || unit === def.unit) return value;
  const conv = def.convert?.[unit];
  return conv ? conv(value) : undefined;
}
