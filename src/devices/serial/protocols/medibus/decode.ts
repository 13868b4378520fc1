/**
 * MEDIBUS payloads (reference §4.4): measured data (2 hex code + 4-character value, an invalid
 * parameter simply absent) and current alarms (15 characters: priority 0x30+1..31, 2 hex code,
 * 12-character phrase). Codes to catalogue metrics: the CP1 codes of §4.4 that the catalogue holds.
 */
export interface MedibusValue {
  code: number;
  value: number;
}

export function measuredData(data: string): MedibusValue[] | string {
  if (data.length % 6 !== 0) return 'medibus_bad_data';
  const out: MedibusValue[] = [];
  for (let i = 0; i < data.length; i += 6) {
    const code = data.slice(i, i + 2);
    const raw = data.slice(i + 2, i + 6).trim();
    if (!/^[0-9A-F]{2}$/.test(code)) return 'medibus_bad_code';
    if (raw === '') continue;
    if (!/^-?(\d+\.?\d*|\.\d+)$/.test(raw)) return 'medibus_bad_value';
    out.push({ code: parseInt(code, 16), value: Number(raw) });
  }
  return out;
}

export interface MedibusAlarm {
  priority: number;
  code: number;
  phrase: string;
}

export function alarms(data: string): MedibusAlarm[] | string {
  if (data.length % 15 !== 0) return 'medibus_bad_alarms';
  const out: MedibusAlarm[] = [];
  for (let i = 0; i < data.length; i += 15) {
    const priority = data.charCodeAt(i) - 0x30;
    const code = data.slice(i + 1, i + 3);
    if (priority < 1 || priority > 31 || !/^[0-9A-F]{2}$/.test(code)) return 'medibus_bad_alarms';
    out.push({ priority, code: parseInt(code, 16), phrase: data.slice(i + 3, i + 15).trim() });
  }
  return out;
}

/** CP1 measured-data codes the catalogue carries (reference §4.4; units per the device tables). */
export const CP1_METRIC: ReadonlyMap<number, { metric: string; unit: string }> = new Map([
  [0xeb, { metric: 'spo2', unit: '%' }],
  [0xe1, { metric: 'pulse_rate_oximeter', unit: '/min' }],
  [0xd6, { metric: 'resp_rate', unit: '/min' }],
  [0xe6, { metric: 'etco2', unit: 'mm[Hg]' }],
  [0xe3, { metric: 'etco2', unit: 'kPa' }],
  [0x88, { metric: 'tidal_volume', unit: 'mL' }],
  [0x7d, { metric: 'airway_pressure_peak', unit: 'mbar' }],
  [0x73, { metric: 'airway_pressure_mean', unit: 'mbar' }],
  [0x78, { metric: 'peep', unit: 'mbar' }],
]);

/** Priority 1-31 (31 highest) -> lane. The split is an inference: Evita's "PAW HIGH"/"APNEA" are 27, "MIN VOL LOW" 26. */
export function severity(priority: number): 'high' | 'medium' | 'low' {
  return priority >= 25 ? 'high' : priority >= 10 ? 'medium' : 'low';
}

/**
 * Realtime curve codes (Dräger device tables, e.g. Evita: 00 airway pressure mbar, 01 flow L/min, 02 pleth %,
 * 06/07 expired CO2 mmHg/kPa) to waveform metrics. Pleth goes as the catalogue's dimensionless pleth.
 */
export const RT_METRIC: ReadonlyMap<number, { metric: string; unit: string }> = new Map([
  [0x00, { metric: 'airway_pressure_wave', unit: 'mbar' }],
  [0x01, { metric: 'airway_flow_wave', unit: 'L/min' }],
  [0x02, { metric: 'pleth', unit: '1' }],
  [0x06, { metric: 'co2_wave', unit: 'mm[Hg]' }],
  [0x07, { metric: 'co2_wave', unit: 'kPa' }],
]);
