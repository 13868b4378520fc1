/**
 * Masimo "ASCII 1" serial lines (Radical-5/7, Rad-8), parsed by KEY=value tokens, not fixed
 * widths (reference §5.1 and corrections 17-22):
 *
 *   01/07/25 19:18:24 SN=0000012345 SPO2=098% BPM=072 PI=02.35% ... ALARM=0000 EXC=000800
 *
 * Dash-filled values are "no value". Pure: one line in, one decoded line or a reason out.
 */
export interface MasimoLine {
  /** Device wall-clock time (the monitor's local time, no zone), ms since the epoch. */
  deviceTime: number;
  spo2?: number;
  bpm?: number;
  pi?: number;
  alarm?: number;
  exc?: number;
}

export type MasimoResult = { ok: true; line: MasimoLine } | { ok: false; reason: string };

const HEAD = /^(\d{2})\/(\d{2})\/(\d{2}) (\d{2}):(\d{2}):(\d{2})(?= |$)/;
const NUMBER = /^[+ ]?-?\d+(\.\d+)?%?$/;
const HEX = /^[0-9A-Fa-f]{1,8}$/;

function num(v: string | undefined): number | undefined | 'bad' {
  if (v === undefined) return undefined;
  if (/^[+ ]?[-.]+%?$/.test(v)) return undefined; // dashes: no value
  if (!NUMBER.test(v)) return 'bad';
  return Number(v.replace(/[%+ ]/g, ''));
}

export function parseMasimoLine(text: string): MasimoResult {
  const m = HEAD.exec(text);
  if (!m) return { ok: false, reason: 'masimo_bad_time' };
  const [mo, d, y, h, mi, s] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 59) return { ok: false, reason: 'masimo_bad_time' };
  const deviceTime = new Date(2000 + y, mo - 1, d, h, mi, s).getTime();
  const fields = new Map<string, string>();
  let last = '';
  for (const tok of text.slice(m[0].length).split(' ')) {
    if (tok === '') continue;
    const eq = tok.indexOf('=');
    if (eq === -1 && last !== '' && fields.get(last) === '') {
      // A positive PIDELTA may carry a space for its sign (correction 20): "PIDELTA= 05".
      fields.set(last, tok);
      continue;
    }
    if (eq <= 0) return { ok: false, reason: 'masimo_bad_token' };
    last = tok.slice(0, eq).toUpperCase();
    fields.set(last, tok.slice(eq + 1));
  }
  if (!fields.has('SPO2') || !fields.has('BPM')) return { ok: false, reason: 'masimo_missing_field' };
  const out: MasimoLine = { deviceTime };
  for (const [key, prop] of [
    ['SPO2', 'spo2'],
    ['BPM', 'bpm'],
    ['PI', 'pi'],
  ] as const) {
    const v = num(fields.get(key));
    if (v === 'bad') return { ok: false, reason: 'masimo_bad_value' };
    if (v !== undefined) out[prop] = v;
  }
  for (const [key, prop] of [
    ['ALARM', 'alarm'],
    ['EXC', 'exc'],
  ] as const) {
    const v = fields.get(key);
    if (v === undefined) continue;
    if (!HEX.test(v)) return { ok: false, reason: 'masimo_bad_flags' };
    out[prop] = parseInt(v, 16);
  }
  return { ok: true, line: out };
}

/** ALARM bits (reference §5.1; only bits 0-5 confirmed, correction 21) -> alarm code and priority. */
export const MASIMO_ALARMS: readonly { bit: number; code: string; metric: 'spo2' | 'pulse_rate_oximeter'; priority: 'high' | 'medium' | 'low' }[] = [
  { bit: 0x0001, code: 'SPO2_HIGH', metric: 'spo2', priority: 'medium' },
  { bit: 0x0002, code: 'SPO2_LOW', metric: 'spo2', priority: 'high' },
  { bit: 0x0004, code: 'PR_HIGH', metric: 'pulse_rate_oximeter', priority: 'medium' },
  { bit: 0x0008, code: 'PR_LOW', metric: 'pulse_rate_oximeter', priority: 'high' },
];
export const MASIMO_ALARM_SILENCED = 0x0020;

/** EXC bits that are technical alarms (status readings); 0x000800 "Masimo SET" is informational. */
export const MASIMO_TECHNICAL: readonly { bit: number; code: string }[] = [
  { bit: 0x000001, code: 'NO_SENSOR' },
  { bit: 0x000002, code: 'DEFECTIVE_SENSOR' },
  { bit: 0x000008, code: 'PULSE_SEARCH' },
  { bit: 0x000010, code: 'INTERFERENCE' },
  { bit: 0x000020, code: 'SENSOR_OFF' },
  { bit: 0x000040, code: 'AMBIENT_LIGHT' },
  { bit: 0x000080, code: 'UNRECOGNIZED_SENSOR' },
  { bit: 0x001000, code: 'NO_CABLE' },
  { bit: 0x040000, code: 'SENSOR_LIFE_EXPIRED' },
];
/** EXC bits that make the values questionable. */
export const MASIMO_QUESTIONABLE = 0x000004 | 0x000400; // low perfusion, low signal IQ
