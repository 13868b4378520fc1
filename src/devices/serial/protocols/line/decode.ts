/**
 * The generic line protocol (reference §7) and two configurable plain forms:
 *  - wg1: `$WG1,<device>,<ISO time>,KEY=value,...*HH` readings and
 *         `$WGA,<device>,<ISO time>,<CODE>,<LO|ME|HI>,<ON|OFF>*HH` alarms; HH = XOR of the bytes
 *         between `$` and `*`; `-` = no value; a fixed key table, extended by the port's `fields`;
 *         a key in neither is reported (`unknown`) and the line's other values still count;
 *  - kv: KEY=value tokens (separator: whitespace or ',' unless given), keys from `fields`;
 *  - delimited: values by position (separator ',' unless given), `fields` a list.
 * Pure: a line (and the options) in, values / an alarm / a reason out.
 */
export interface FieldMap {
  metric: string;
  unit?: string;
  scale?: number;
}

export interface LineOptions {
  format: 'wg1' | 'kv' | 'delimited';
  separator?: string;
  fields?: Record<string, FieldMap> | (FieldMap | null)[];
}

export interface LineValue {
  metric: string;
  value: number;
  unit?: string;
}

export type LineResult =
  | { ok: true; kind: 'values'; device?: string; time?: number; values: LineValue[]; status?: string; unknown?: string[] }
  | { ok: true; kind: 'alarm'; device: string; time?: number; code: string; priority: 'low' | 'medium' | 'high'; on: boolean }
  | { ok: false; reason: string };

export const WG1_KEYS: Readonly<Record<string, FieldMap>> = {
  SPO2: { metric: 'spo2', unit: '%' },
  PR: { metric: 'pulse_rate_oximeter', unit: '/min' },
  HR: { metric: 'heart_rate', unit: '/min' },
  RR: { metric: 'resp_rate', unit: '/min' },
  NIBP_SYS: { metric: 'nibp_sys', unit: 'mm[Hg]' },
  NIBP_DIA: { metric: 'nibp_dia', unit: 'mm[Hg]' },
  NIBP_MEAN: { metric: 'nibp_mean', unit: 'mm[Hg]' },
  ETCO2: { metric: 'etco2', unit: 'mm[Hg]' },
  TEMP: { metric: 'body_temp', unit: 'Cel' },
  PI: { metric: 'perfusion_index', unit: '%' },
};
/** Keys of the table with no catalogue metric: read and not sent. */
const WG1_IGNORED = new Set<string>();

const NUM = /^[+-]?(\d+(\.\d*)?|\.\d+)$/;

function value(raw: string, f: FieldMap): LineValue | undefined | 'bad' {
  if (raw === '-' || raw === '') return undefined;
  if (!NUM.test(raw)) return 'bad';
  const v: LineValue = { metric: f.metric, value: Number(raw) * (f.scale ?? 1) };
  if (f.unit !== undefined) v.unit = f.unit;
  return v;
}

function time(iso: string): number | undefined | 'bad' {
  if (iso === '' || iso === '-') return undefined;
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(iso)) return 'bad';
  const t = Date.parse(iso);
  return Number.isFinite(t) ? t : 'bad';
}

export function wg1Checksum(body: string): number {
  let x = 0;
  for (let i = 0; i < body.length; i++) x ^= body.charCodeAt(i);
  return x;
}

function wg1(line: string, extra: Record<string, FieldMap>): LineResult {
  const star = line.lastIndexOf('*');
  if (!line.startsWith('$') || star === -1 || star !== line.length - 3) return { ok: false, reason: 'line_bad_frame' };
  const body = line.slice(1, star);
  const hh = line.slice(star + 1);
  if (!/^[0-9A-F]{2}$/.test(hh) || parseInt(hh, 16) !== wg1Checksum(body)) return { ok: false, reason: 'line_bad_checksum' };
  const parts = body.split(',');
  const [tag, device, iso] = parts;
  if (!device || iso === undefined) return { ok: false, reason: 'line_bad_frame' };
  const t = time(iso);
  if (t === 'bad') return { ok: false, reason: 'line_bad_time' };
  const at = t === undefined ? {} : { time: t };
  if (tag === 'WGA') {
    const [, , , code, pr, state] = parts;
    const priority = pr === 'HI' ? 'high' : pr === 'ME' ? 'medium' : pr === 'LO' ? 'low' : undefined;
    if (!code || !priority || (state !== 'ON' && state !== 'OFF') || parts.length !== 6) return { ok: false, reason: 'line_bad_alarm' };
    return { ok: true, kind: 'alarm', device, code, priority, on: state === 'ON', ...at };
  }
  if (tag !== 'WG1') return { ok: false, reason: 'line_bad_frame' };
  const values: LineValue[] = [];
  const unknown: string[] = [];
  let status: string | undefined;
  for (const tok of parts.slice(3)) {
    const eq = tok.indexOf('=');
    if (eq <= 0) return { ok: false, reason: 'line_bad_token' };
    const key = tok.slice(0, eq);
    const raw = tok.slice(eq + 1);
    if (key === 'ST') {
      status = raw;
      continue;
    }
    const f = extra[key] ?? WG1_KEYS[key];
    if (!f) {
      // Unknown keys do not spoil the line (reference §7): its known values are sent.
      if (!WG1_IGNORED.has(key)) unknown.push(key.slice(0, 32));
      continue;
    }
    const v = value(raw, f);
    if (v === 'bad') return { ok: false, reason: 'line_bad_value' };
    if (v) values.push(v);
  }
  return { ok: true, kind: 'values', device, values, ...at, ...(status !== undefined ? { status } : {}), ...(unknown.length ? { unknown } : {}) };
}

export function parseLine(line: string, o: LineOptions): LineResult {
  if (o.format === 'wg1') return wg1(line, Array.isArray(o.fields) ? {} : (o.fields ?? {}));
  const values: LineValue[] = [];
  if (o.format === 'kv') {
    const fields = Array.isArray(o.fields) ? {} : (o.fields ?? {});
    const toks = o.separator ? line.split(o.separator) : line.split(/[\s,]+/);
    for (const tok of toks) {
      if (tok.trim() === '') continue;
      const eq = tok.indexOf('=');
      if (eq <= 0) return { ok: false, reason: 'line_bad_token' };
      const f = fields[tok.slice(0, eq).trim()];
      if (!f) continue; // keys not mapped are not sent
      const v = value(tok.slice(eq + 1).trim(), f);
      if (v === 'bad') return { ok: false, reason: 'line_bad_value' };
      if (v) values.push(v);
    }
  } else {
    const fields = Array.isArray(o.fields) ? o.fields : [];
    const cols = line.split(o.separator ?? ',');
    if (cols.length < fields.length) return { ok: false, reason: 'line_missing_field' };
    for (const [i, f] of fields.entries()) {
      if (!f) continue;
      const v = value(cols[i]!.trim(), f);
      if (v === 'bad') return { ok: false, reason: 'line_bad_value' };
      if (v) values.push(v);
    }
  }
  if (values.length === 0 && line.trim() !== '') return { ok: false, reason: 'line_no_values' };
  return { ok: true, kind: 'values', values };
}
